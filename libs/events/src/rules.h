// The field rules of docs/contract.md §5 Events, shared by the parse path (on captured JSON values) and the
// validate_* functions (on built objects), so both report the same reasons in the same words.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "orderflow/events/types.h"
#include "orderflow/events/validation_error.h"

namespace orderflow::events::detail {

inline constexpr std::size_t kIdMaxChars = 64;
inline constexpr std::size_t kSkuMaxChars = 64;
inline constexpr std::size_t kDeclineReasonMaxChars = 64;
inline constexpr std::size_t kChannelMaxChars = 32;
inline constexpr std::size_t kMaxItems = 100;
inline constexpr std::int64_t kMaxQuantity = 1000;

// Nothing, or the first error.
using Check = std::optional<ValidationError>;

// What a JSON value looked like, as captured by the SAX reader.
enum class Kind : std::uint8_t { Missing, String, Integer, BigInteger, Float, Bool, Null, Object, Array };

struct Field {
  Kind kind = Kind::Missing;
  std::int64_t integer = 0;  // Kind::Integer (includes integral floats such as 1.0 within int64)
  std::string text;          // String: the value; BigInteger/Float: the number token; Bool: "true"/"false"
};

// "got ..." rendering of a value: 0, "usd", true, null, 1.5, an object, an array, a string of 70 characters.
[[nodiscard]] std::string describe(const Field& field);
[[nodiscard]] std::string describe_string(std::string_view text);

// Presence and type. On success the value is moved/copied to `out`.
[[nodiscard]] Check take_string(Field& field, std::string_view path, std::string& out);
[[nodiscard]] Check take_integer(const Field& field, std::string_view path, std::int64_t& out);

// Value rules (the field's type is already right). `path` is only turned into a string on error.
[[nodiscard]] Check rule_uuid(std::string_view path, std::string_view value);
[[nodiscard]] Check rule_timestamp(std::string_view path, std::string_view value);
[[nodiscard]] Check rule_length(std::string_view path, std::string_view value, std::size_t min_chars,
                                std::size_t max_chars);
[[nodiscard]] Check rule_currency(std::string_view path, std::string_view value);
[[nodiscard]] Check rule_positive(std::string_view path, std::int64_t value);

// Rules of one order item; the path is "items[<index>].<field>".
[[nodiscard]] Check rule_item(std::size_t index, const Item& item);
[[nodiscard]] std::string item_path(std::size_t index, std::string_view field);

// amount_cents == Σ quantity × unit_price_cents, without overflow.
[[nodiscard]] Check rule_amount_sum(const OrderCreated& order);

// decline_reason present (1..64 chars) exactly when DECLINED.
[[nodiscard]] Check rule_decline_reason(PaymentStatus status, const std::optional<std::string>& reason);

[[nodiscard]] inline ValidationError error(std::string_view path, std::string reason) {
  return ValidationError{std::string(path), std::move(reason)};
}

}  // namespace orderflow::events::detail
