// The only place a rocksdb::Status becomes an Error.
#include "store/rocksdb/rocksdb_impl.hpp"

namespace mbx {

Error to_error(const rocksdb::Status& status, std::string_view op) {
  std::string message = std::string(op) + ": " + status.ToString();
  if (status.IsIOError() && status.ToString().find("lock") != std::string::npos)
    message += " (is another process using this data folder?)";
  if (status.IsNotFound()) return not_found_error(std::move(message));
  return store_error(std::move(message));
}

}  // namespace mbx
