// Name tables for the enums of messages/: one table per enum gives to_string and parse.
// Internal to messages/ (namespace mbx::detail).
#pragma once

#include <array>
#include <optional>
#include <string_view>
#include <utility>

namespace mbx::detail {

template <class E, std::size_t N>
using EnumTable = std::array<std::pair<E, std::string_view>, N>;

template <class E, std::size_t N>
constexpr std::string_view enum_name(const EnumTable<E, N>& table, E value) {
  for (const auto& [v, name] : table)
    if (v == value) return name;
  return "unknown";
}

template <class E, std::size_t N>
constexpr std::optional<E> enum_parse(const EnumTable<E, N>& table, std::string_view text) {
  for (const auto& [v, name] : table)
    if (name == text) return v;
  return std::nullopt;
}

}  // namespace mbx::detail
