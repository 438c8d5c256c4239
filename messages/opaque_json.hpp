// A JSON value the engine carries but does not interpret (agent state, tool arguments,
// error payloads). Held as serialized JSON text so that value types stay free of Boost.JSON
// and cross actors and nodes as a plain string; codecs embed it as a real JSON value.
#pragma once

#include <string>

namespace mbx {

struct OpaqueJson {
  std::string json = "null";  // always valid serialized JSON

  [[nodiscard]] bool is_null() const { return json == "null"; }
  friend bool operator==(const OpaqueJson&, const OpaqueJson&) = default;
};

}  // namespace mbx
