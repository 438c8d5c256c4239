// The shared parts of the JSON codecs: the path-tracking Decoder, the readers and writers of
// scalars and OpaqueJson, the limited text parser and the error_code category. See
// detail/json_decoder.hpp. Stateless; thread-safe.
#include "messages/json/detail/json_decoder.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/parse_options.hpp>
#include <boost/json/parser.hpp>
#include <boost/json/serialize.hpp>
#include <boost/system/error_category.hpp>

#include <charconv>
#include <cmath>
#include <system_error>

namespace mbx::detail {

// -- Decoder -------------------------------------------------------------------------------------

void Decoder::fail(std::string_view what) {
  if (failed_) return;
  failed_ = true;
  message_.reserve(path_.size() + 2 + what.size());
  message_ += path_;
  message_ += ": ";
  message_ += what;
}

void Decoder::fail_expected(std::string_view expected, const boost::json::value& value) {
  std::string what = "expected ";
  what += expected;
  what += ", got ";
  what += kind_name(value);
  fail(what);
}

Decoder::Scope::Scope(Decoder& d, std::string_view key) : d_(d), mark_(d.path_.size()) {
  d_.path_ += '.';
  d_.path_ += key;
}

Decoder::Scope::Scope(Decoder& d, std::size_t index) : d_(d), mark_(d.path_.size()) {
  d_.path_ += '[';
  d_.path_ += std::to_string(index);
  d_.path_ += ']';
}

std::string_view kind_name(const boost::json::value& value) {
  switch (value.kind()) {
    case boost::json::kind::null: return "null";
    case boost::json::kind::bool_: return "bool";
    case boost::json::kind::int64:
    case boost::json::kind::uint64: return "integer";
    case boost::json::kind::double_: return "floating-point number";
    case boost::json::kind::string: return "string";
    case boost::json::kind::array: return "array";
    case boost::json::kind::object: return "object";
  }
  return "unknown";
}

// -- scalars -------------------------------------------------------------------------------------

void read(Decoder& d, const boost::json::value& v, std::string& out) {
  if (!v.is_string()) return d.fail_expected("string", v);
  out.assign(v.get_string().data(), v.get_string().size());
}

void read(Decoder& d, const boost::json::value& v, bool& out) {
  if (!v.is_bool()) return d.fail_expected("bool", v);
  out = v.get_bool();
}

bool read_signed(Decoder& d, const boost::json::value& v, std::int64_t min, std::int64_t max, std::int64_t& out) {
  auto out_of_range = [&](const std::string& got) {
    d.fail("expected integer in [" + std::to_string(min) + ", " + std::to_string(max) + "], got " + got);
    return false;
  };
  if (v.is_uint64()) return out_of_range(std::to_string(v.get_uint64()));  // above INT64_MAX
  if (!v.is_int64()) {
    d.fail_expected("integer", v);
    return false;
  }
  const std::int64_t x = v.get_int64();
  if (x < min || x > max) return out_of_range(std::to_string(x));
  out = x;
  return true;
}

bool read_unsigned(Decoder& d, const boost::json::value& v, std::uint64_t max, std::uint64_t& out) {
  std::uint64_t x = 0;
  if (v.is_uint64()) {
    x = v.get_uint64();
  } else if (v.is_int64()) {
    if (v.get_int64() < 0) {
      d.fail("expected unsigned integer, got " + std::to_string(v.get_int64()));
      return false;
    }
    x = static_cast<std::uint64_t>(v.get_int64());
  } else {
    d.fail_expected("unsigned integer", v);
    return false;
  }
  if (x > max) {
    d.fail("expected unsigned integer <= " + std::to_string(max) + ", got " + std::to_string(x));
    return false;
  }
  out = x;
  return true;
}

bool from_string(std::string_view text, Errc& out) {
  for (unsigned u = 0; u <= std::numeric_limits<std::uint8_t>::max(); ++u) {
    const auto code = static_cast<Errc>(u);
    if (to_string(code) != "unknown" && to_string(code) == text) {
      out = code;
      return true;
    }
  }
  return false;
}

boost::json::value write(const std::string& x) { return boost::json::value(boost::json::string_view(x)); }

boost::json::value write(bool x) { return boost::json::value(x); }

// -- OpaqueJson ----------------------------------------------------------------------------------

namespace {

boost::json::parse_options limited_parse_options() {
  boost::json::parse_options opt;
  opt.max_depth = kMaxJsonDepth;
  return opt;
}

// Shortest round-trip form ("0.5", not Boost's "5E-1"); keeps a fraction or exponent so the
// number reads back as floating point.
void append_double(double x, std::string& out) {
  char buf[64];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, x);
  const std::string_view text(buf, ec == std::errc() ? static_cast<std::size_t>(end - buf) : 0);
  out += text;
  if (text.find_first_of(".eE") == std::string_view::npos) out += ".0";
}

// Compact JSON text of `v`. Recursion is bounded by kMaxJsonDepth.
void append_text(Decoder& d, const boost::json::value& v, std::size_t depth, std::string& out) {
  if (!d.ok()) return;
  switch (v.kind()) {
    case boost::json::kind::null: out += "null"; return;
    case boost::json::kind::bool_: out += v.get_bool() ? "true" : "false"; return;
    case boost::json::kind::int64: out += std::to_string(v.get_int64()); return;
    case boost::json::kind::uint64: out += std::to_string(v.get_uint64()); return;
    case boost::json::kind::double_:
      if (!std::isfinite(v.get_double())) return d.fail("non-finite number");
      return append_double(v.get_double(), out);
    case boost::json::kind::string: out += boost::json::serialize(v.get_string()); return;
    case boost::json::kind::array: {
      if (depth >= kMaxJsonDepth) return d.fail("nested deeper than " + std::to_string(kMaxJsonDepth));
      out += '[';
      bool first = true;
      for (const auto& item : v.get_array()) {
        if (!first) out += ',';
        first = false;
        append_text(d, item, depth + 1, out);
      }
      out += ']';
      return;
    }
    case boost::json::kind::object: {
      if (depth >= kMaxJsonDepth) return d.fail("nested deeper than " + std::to_string(kMaxJsonDepth));
      out += '{';
      bool first = true;
      for (const auto& member : v.get_object()) {
        if (!first) out += ',';
        first = false;
        out += boost::json::serialize(member.key());
        out += ':';
        append_text(d, member.value(), depth + 1, out);
      }
      out += '}';
      return;
    }
  }
}

}  // namespace

void read(Decoder& d, const boost::json::value& v, OpaqueJson& out) {
  std::string text;
  append_text(d, v, 0, text);
  if (d.ok()) out.json = std::move(text);
}

boost::json::value write(const OpaqueJson& x) {
  boost::system::error_code ec;
  auto v = boost::json::parse(x.json, ec, {}, limited_parse_options());
  if (ec) return boost::json::value(boost::json::string_view(x.json));  // not JSON: keep the raw text
  return v;
}

// -- text and error codes ------------------------------------------------------------------------

Result<boost::json::value> parse_json_text(std::string_view text, std::string_view root) {
  auto fail = [&](const std::string& what) { return validation_error(std::string(root) + ": " + what); };
  if (text.size() > kMaxJsonTextBytes)
    return fail("JSON text of " + std::to_string(text.size()) + " bytes exceeds the limit of " +
                std::to_string(kMaxJsonTextBytes));
  boost::json::parser parser({}, limited_parse_options());
  boost::system::error_code ec;
  const std::size_t consumed = parser.write(text.data(), text.size(), ec);
  if (ec) return fail("invalid JSON at byte " + std::to_string(consumed) + ": " + ec.message());
  return parser.release();
}

namespace {

class ErrcCategory final : public boost::system::error_category {
public:
  [[nodiscard]] const char* name() const noexcept override { return "mbx"; }
  [[nodiscard]] std::string message(int ev) const override {
    return std::string(to_string(static_cast<Errc>(ev))) + " error";
  }
};

const ErrcCategory kErrcCategory{};

}  // namespace

boost::system::error_code to_error_code(const Error& error) {
  return boost::system::error_code(static_cast<int>(error.code), kErrcCategory);
}

}  // namespace mbx::detail
