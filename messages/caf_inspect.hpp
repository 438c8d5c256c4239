// CAF 0.17 adapters for the fields of messages/ that CAF's inspectors do not handle as we need:
// std::optional<T> (CAF 0.17 has no support for it) and our uint8 enums (CAF would write the raw
// byte and load any value back; we reject values without a name and print names). Also the
// inspect overload of OpaqueJson (carried as its JSON text). Used by the inspect overloads in
// messages/type_ids.hpp:  f(caf::meta::type_name("T"), enum_field(x.status), optional_field(x.id)).
// Header-only and stateless; thread-safe.
#pragma once

#include "messages/error.hpp"
#include "messages/opaque_json.hpp"

#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/make_message.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/none.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

namespace mbx {

// Category of every caf::error that carries an mbx::Errc (see to_caf_error in type_ids.hpp).
inline constexpr caf::atom_value kCafErrorCategory = caf::atom("mailbox");

// A view of an enum field. Saved as its uint8 value; loading rejects values without a name
// (to_string gives "unknown"); printing (deep_to_string) shows the name.
template <class E>
struct EnumField {
  static_assert(std::is_enum_v<E>);
  static_assert(std::is_same_v<std::underlying_type_t<E>, std::uint8_t>,
                "the enums of messages/ have a uint8 underlying type");
  E& ref;
};

// A view of a std::optional field. Saved as (has_value: bool) followed by the value only when
// set; loading reads them back (an empty optional loads as nullopt); printing shows the value
// or "none".
template <class T>
struct OptionalField {
  std::optional<T>& ref;
};

template <class E>
[[nodiscard]] EnumField<E> enum_field(E& x) {
  return EnumField<E>{x};
}

template <class T>
[[nodiscard]] OptionalField<T> optional_field(std::optional<T>& x) {
  return OptionalField<T>{x};
}

// The value to hand to an inspector for a plain field: enums wrapped, everything else as is.
template <class T>
[[nodiscard]] decltype(auto) caf_field(T& x) {
  if constexpr (std::is_enum_v<T>)
    return EnumField<T>{x};
  else
    return (x);
}

// True for CAF 0.17's printing inspector (deep_to_string), the only one returning void.
template <class Inspector>
inline constexpr bool kIsPrintingInspector = std::is_void_v<typename Inspector::result_type>;

template <class Inspector, class E>
typename Inspector::result_type inspect(Inspector& f, EnumField<E>& x) {
  if constexpr (Inspector::writes_state) {
    std::uint8_t raw = 0;
    if (auto err = f(raw)) return err;
    if (to_string(static_cast<E>(raw)) == std::string_view{"unknown"})
      return caf::error(static_cast<std::uint8_t>(Errc::validation), kCafErrorCategory,
                        caf::make_message("CAF load: enum value " + std::to_string(raw) + " has no name"));
    x.ref = static_cast<E>(raw);
    return caf::none;
  } else if constexpr (kIsPrintingInspector<Inspector>) {
    f(std::string(to_string(x.ref)));
  } else {
    auto raw = static_cast<std::uint8_t>(x.ref);
    return f(raw);
  }
}

template <class Inspector, class T>
typename Inspector::result_type inspect(Inspector& f, OptionalField<T>& x) {
  if constexpr (Inspector::writes_state) {
    bool has_value = false;
    if (auto err = f(has_value)) return err;
    if (!has_value) {
      x.ref.reset();
      return caf::none;
    }
    T value{};
    if (auto err = f(caf_field(value))) return err;
    x.ref = std::move(value);
    return caf::none;
  } else if constexpr (kIsPrintingInspector<Inspector>) {
    if (x.ref)
      f(caf_field(*x.ref));
    else
      f(caf::none);
  } else {
    bool has_value = x.ref.has_value();
    if (!has_value) return f(has_value);
    return f(has_value, caf_field(*x.ref));
  }
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, OpaqueJson& x) {
  return f(caf::meta::type_name("OpaqueJson"), x.json);
}

}  // namespace mbx
