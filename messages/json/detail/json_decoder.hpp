// The machinery behind the per-type JSON codecs of messages/json/ (internal to that folder).
// Each codec describes its type once, as a list of fields:
//
//   template <class Io, detail::OneOf<Message> X>
//   void fields(Io& io, X& x) {
//     io.field("id", x.id);          // defaulted: a missing field keeps the struct's default
//     io.required("role", x.role);   // required: a missing field is an error
//   }
//   MBX_JSON_OBJECT_CODEC(Message)
//
// and the same list drives both directions: ObjectEncoder writes every field (omitting empty
// optionals), ObjectDecoder reads them through the `read` overloads below. A Decoder carries the
// field path ("RunRecord.activation.intent.kind") and the first error; once an error is
// recorded every later read is a no-op, so field lists need no error plumbing.
// Stateless apart from the objects a call creates; thread-safe.
#pragma once

#include "messages/enum_strings.hpp"
#include "messages/error.hpp"
#include "messages/json/json_codec.hpp"
#include "messages/opaque_json.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace mbx::detail {

// `X` is `T` or `const T` (field lists take both: const to encode, mutable to decode).
template <class X, class T>
concept OneOf = std::same_as<std::remove_const_t<X>, T>;

// -- decoding state ------------------------------------------------------------------------------

class Decoder {
public:
  explicit Decoder(std::string_view root) : path_(root) {}

  [[nodiscard]] bool ok() const { return !failed_; }
  // Records "<path>: <what>" unless an error is already recorded.
  void fail(std::string_view what);
  // Records "<path>: expected <expected>, got <kind of value>".
  void fail_expected(std::string_view expected, const boost::json::value& value);
  [[nodiscard]] Error error() const { return validation_error(message_); }

  // Extends the path for one nested read; restores it on destruction.
  class Scope {
  public:
    Scope(Decoder& d, std::string_view key);  // ".key"
    Scope(Decoder& d, std::size_t index);     // "[index]"
    ~Scope() { d_.path_.resize(mark_); }
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

  private:
    Decoder& d_;
    std::size_t mark_;
  };

private:
  std::string path_;
  std::string message_;
  bool failed_ = false;
};

// "null", "bool", "integer", "floating-point number", "string", "array", "object".
[[nodiscard]] std::string_view kind_name(const boost::json::value& value);

// -- reading one value ---------------------------------------------------------------------------

void read(Decoder& d, const boost::json::value& v, std::string& out);
void read(Decoder& d, const boost::json::value& v, bool& out);
void read(Decoder& d, const boost::json::value& v, OpaqueJson& out);  // any value, as compact text

// Integers in [min, max] (no fractions, no exponents). False (error recorded) otherwise.
[[nodiscard]] bool read_signed(Decoder& d, const boost::json::value& v, std::int64_t min, std::int64_t max,
                               std::int64_t& out);
[[nodiscard]] bool read_unsigned(Decoder& d, const boost::json::value& v, std::uint64_t max, std::uint64_t& out);

template <std::integral T>
  requires(!std::same_as<T, bool>)
void read(Decoder& d, const boost::json::value& v, T& out) {
  if constexpr (std::is_signed_v<T>) {
    std::int64_t x = 0;
    if (read_signed(d, v, std::numeric_limits<T>::min(), std::numeric_limits<T>::max(), x))
      out = static_cast<T>(x);
  } else {
    std::uint64_t x = 0;
    if (read_unsigned(d, v, std::numeric_limits<T>::max(), x)) out = static_cast<T>(x);
  }
}

// Errc has no from_string in enum_strings.hpp (its names live in error.cpp).
[[nodiscard]] bool from_string(std::string_view text, Errc& out);

// The names of an enum's values, "a, b, c" (to_string gives "unknown" for a non-value).
template <class E>
std::string enum_names() {
  static_assert(std::is_same_v<std::underlying_type_t<E>, std::uint8_t>);
  std::string names;
  for (unsigned u = 0; u <= std::numeric_limits<std::uint8_t>::max(); ++u) {
    const std::string_view name = to_string(static_cast<E>(u));
    if (name == "unknown") continue;
    if (!names.empty()) names += ", ";
    names += name;
  }
  return names;
}

template <class E>
  requires std::is_enum_v<E>
void read(Decoder& d, const boost::json::value& v, E& out) {
  if (!v.is_string()) return d.fail_expected("string (one of " + enum_names<E>() + ")", v);
  if (!from_string(std::string_view(v.get_string()), out)) d.fail("expected one of " + enum_names<E>());
}

template <class T>
void read(Decoder& d, const boost::json::value& v, std::optional<T>& out) {
  if (v.is_null()) {
    out.reset();
    return;
  }
  T x{};
  read(d, v, x);
  if (d.ok()) out = std::move(x);
}

template <class T>
void read(Decoder& d, const boost::json::value& v, std::vector<T>& out) {
  if (!v.is_array()) return d.fail_expected("array", v);
  const auto& items = v.get_array();
  std::vector<T> xs;
  xs.reserve(items.size());
  for (std::size_t i = 0; i < items.size() && d.ok(); ++i) {
    Decoder::Scope at(d, i);
    T x{};
    read(d, items[i], x);
    xs.push_back(std::move(x));
  }
  if (d.ok()) out = std::move(xs);
}

// The struct decoders, defined by MBX_JSON_OBJECT_CODEC in the per-type files.
void read(Decoder& d, const boost::json::value& v, ToolCall& out);
void read(Decoder& d, const boost::json::value& v, MessageMetadata& out);
void read(Decoder& d, const boost::json::value& v, Message& out);
void read(Decoder& d, const boost::json::value& v, MessageRecord& out);
void read(Decoder& d, const boost::json::value& v, RunIntent& out);
void read(Decoder& d, const boost::json::value& v, RunOptions& out);
void read(Decoder& d, const boost::json::value& v, RunTrace& out);
void read(Decoder& d, const boost::json::value& v, ToolCallResume& out);
void read(Decoder& d, const boost::json::value& v, SeededDecision& out);
void read(Decoder& d, const boost::json::value& v, RunControl& out);
void read(Decoder& d, const boost::json::value& v, PersistenceHints& out);
void read(Decoder& d, const boost::json::value& v, RunActivation& out);
void read(Decoder& d, const boost::json::value& v, SeqRange& out);
void read(Decoder& d, const boost::json::value& v, RunMessageInput& out);
void read(Decoder& d, const boost::json::value& v, RunMessageOutput& out);
void read(Decoder& d, const boost::json::value& v, RunActivationSnapshot& out);
void read(Decoder& d, const boost::json::value& v, RunRequestSnapshot& out);
void read(Decoder& d, const boost::json::value& v, TerminationReason& out);
void read(Decoder& d, const boost::json::value& v, WaitingTicket& out);
void read(Decoder& d, const boost::json::value& v, RunWaitingState& out);
void read(Decoder& d, const boost::json::value& v, RunOutcome& out);
void read(Decoder& d, const boost::json::value& v, RunRecord& out);
void read(Decoder& d, const boost::json::value& v, AgentEvent& out);
void read(Decoder& d, const boost::json::value& v, RunDispatchResult& out);
void read(Decoder& d, const boost::json::value& v, RunDispatch& out);
void read(Decoder& d, const boost::json::value& v, Error& out);
void read(Decoder& d, const boost::json::value& v, InterruptOutcome& out);

// Reads the fields of one JSON object (the io of a decoding field list).
class ObjectDecoder {
public:
  // Records "expected object" unless `v` is one.
  ObjectDecoder(Decoder& d, const boost::json::value& v) : d_(d), object_(v.if_object()) {
    if (object_ == nullptr) d_.fail_expected("object", v);
  }

  [[nodiscard]] bool ok() const { return object_ != nullptr && d_.ok(); }

  // A missing field is an error.
  template <class T>
  void required(std::string_view key, T& out) {
    if (!ok()) return;
    Decoder::Scope at(d_, key);
    if (const auto* v = object_->if_contains(key)) return read(d_, *v, out);
    d_.fail("missing required field");
  }

  // A missing field leaves `out` as it is (the struct's default).
  template <class T>
  void field(std::string_view key, T& out) {
    if (!ok()) return;
    const auto* v = object_->if_contains(key);
    if (v == nullptr) return;
    Decoder::Scope at(d_, key);
    read(d_, *v, out);
  }

private:
  Decoder& d_;
  const boost::json::object* object_;
};

// -- writing one value ---------------------------------------------------------------------------

[[nodiscard]] boost::json::value write(const std::string& x);
[[nodiscard]] boost::json::value write(bool x);
[[nodiscard]] boost::json::value write(const OpaqueJson& x);  // parsed; invalid text as a string

template <std::integral T>
  requires(!std::same_as<T, bool>)
[[nodiscard]] boost::json::value write(T x) {
  if constexpr (std::is_signed_v<T>)
    return boost::json::value(static_cast<std::int64_t>(x));
  else
    return boost::json::value(static_cast<std::uint64_t>(x));
}

template <class E>
  requires std::is_enum_v<E>
[[nodiscard]] boost::json::value write(E x) {
  return boost::json::value(boost::json::string_view(to_string(x)));
}

template <JsonCodecType T>
[[nodiscard]] boost::json::value write(const T& x) {
  return to_json(x);
}

template <class T>
[[nodiscard]] boost::json::value write(const std::vector<T>& xs) {
  boost::json::array items;
  items.reserve(xs.size());
  for (const auto& x : xs) items.push_back(write(x));
  return boost::json::value(std::move(items));
}

// Writes the fields of one JSON object (the io of an encoding field list).
class ObjectEncoder {
public:
  template <class T>
  void required(std::string_view key, const T& x) {
    field(key, x);
  }
  template <class T>
  void field(std::string_view key, const T& x) {
    object_.emplace(key, write(x));
  }
  template <class T>
  void field(std::string_view key, const std::optional<T>& x) {
    if (x) object_.emplace(key, write(*x));
  }

  [[nodiscard]] boost::json::value take() { return boost::json::value(std::move(object_)); }

private:
  boost::json::object object_;
};

}  // namespace mbx::detail

namespace mbx {

template <JsonCodecType T>
Result<T> from_json(const boost::json::value& value) {
  detail::Decoder d(kJsonTypeName<T>);
  T out{};
  detail::read(d, value, out);
  // in_place: Result<Error> cannot tell a value from an error by type.
  if (!d.ok()) return Result<T>(boost::system::in_place_error, d.error());
  return Result<T>(boost::system::in_place_value, std::move(out));
}

}  // namespace mbx

// Defines to_json(const Type&), detail::read(..., Type&) and the from_json<Type> instantiation
// from the field list `fields(io, x)` visible where it is used (namespace mbx).
#define MBX_JSON_OBJECT_CODEC(Type)                                              \
  boost::json::value to_json(const Type& x) {                                    \
    detail::ObjectEncoder io;                                                    \
    fields(io, x);                                                               \
    return io.take();                                                            \
  }                                                                              \
  void detail::read(detail::Decoder& d, const boost::json::value& v, Type& out) { \
    detail::ObjectDecoder io(d, v);                                              \
    fields(io, out);                                                             \
  }                                                                              \
  template Result<Type> from_json<Type>(const boost::json::value&);
