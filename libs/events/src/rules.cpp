#include "rules.h"

#include "text.h"

namespace orderflow::events::detail {
namespace {

// Strings longer than this are described by their length, not quoted in full.
constexpr std::size_t kQuoteMaxChars = 40;

std::string int_text(std::int64_t value) {
  std::string s;
  append_int(s, value);
  return s;
}

}  // namespace

std::string describe_string(std::string_view text) {
  const std::size_t chars = code_points(text);
  if (chars > kQuoteMaxChars) return "a string of " + std::to_string(chars) + " characters";
  std::string out;
  out.reserve(text.size() + 2);
  append_json_string(out, text);
  return out;
}

std::string describe(const Field& field) {
  switch (field.kind) {
    case Kind::Missing:
      return "nothing";
    case Kind::String:
      return describe_string(field.text);
    case Kind::Integer:
      return int_text(field.integer);
    case Kind::BigInteger:
    case Kind::Float:
    case Kind::Bool:
      return field.text.size() <= kQuoteMaxChars
                 ? field.text
                 : "a number of " + std::to_string(field.text.size()) + " digits";
    case Kind::Null:
      return "null";
    case Kind::Object:
      return "an object";
    case Kind::Array:
      return "an array";
  }
  return "?";
}

Check take_string(Field& field, std::string_view path, std::string& out) {
  if (field.kind == Kind::String) {
    out = std::move(field.text);
    return std::nullopt;
  }
  if (field.kind == Kind::Missing) return error(path, "is required");
  return error(path, "must be a string, got " + describe(field));
}

Check take_integer(const Field& field, std::string_view path, std::int64_t& out) {
  switch (field.kind) {
    case Kind::Integer:
      out = field.integer;
      return std::nullopt;
    case Kind::Missing:
      return error(path, "is required");
    case Kind::BigInteger:
      return error(path, "must be an integer within the 64-bit range, got " + describe(field));
    case Kind::String:
    case Kind::Float:
    case Kind::Bool:
    case Kind::Null:
    case Kind::Object:
    case Kind::Array:
      break;
  }
  return error(path, "must be an integer, got " + describe(field));
}

Check rule_uuid(std::string_view path, std::string_view value) {
  if (is_uuid(value)) return std::nullopt;
  return error(path, "must be a UUID (8-4-4-4-12 hex digits), got " + describe_string(value));
}

Check rule_timestamp(std::string_view path, std::string_view value) {
  TimestampFields fields;
  if (parse_timestamp_fields(value, fields)) return std::nullopt;
  return error(path, "must be an RFC 3339 UTC timestamp with milliseconds (YYYY-MM-DDTHH:MM:SS.sssZ), got " +
                         describe_string(value));
}

Check rule_length(std::string_view path, std::string_view value, std::size_t min_chars,
                  std::size_t max_chars) {
  // Bytes bound code points from above (and by 4x from below): skip the count when it cannot matter.
  if (value.size() >= min_chars && value.size() <= max_chars) return std::nullopt;
  const std::size_t chars = code_points(value);
  if (chars >= min_chars && chars <= max_chars) return std::nullopt;
  return error(path, "must be between " + std::to_string(min_chars) + " and " + std::to_string(max_chars) +
                         " characters long, got " + std::to_string(chars));
}

Check rule_currency(std::string_view path, std::string_view value) {
  if (is_currency(value)) return std::nullopt;
  return error(path, "must be 3 upper-case letters (ISO 4217 code), got " + describe_string(value));
}

Check rule_positive(std::string_view path, std::int64_t value) {
  if (value > 0) return std::nullopt;
  return error(path, "must be > 0, got " + int_text(value));
}

std::string item_path(std::size_t index, std::string_view field) {
  std::string path = "items[" + std::to_string(index) + "]";
  if (!field.empty()) {
    path += '.';
    path += field;
  }
  return path;
}

Check rule_item(std::size_t index, const Item& item) {
  if (item.sku.empty() || item.sku.size() > kSkuMaxChars) {
    if (auto e = rule_length("", item.sku, 1, kSkuMaxChars)) {
      e->field = item_path(index, "sku");
      return e;
    }
  }
  if (item.quantity < 1 || item.quantity > kMaxQuantity) {
    return error(item_path(index, "quantity"), "must be between 1 and " + std::to_string(kMaxQuantity) +
                                                   ", got " + int_text(item.quantity));
  }
  if (item.unit_price_cents < 0) {
    return error(item_path(index, "unit_price_cents"),
                 "must be >= 0, got " + int_text(item.unit_price_cents));
  }
  return std::nullopt;
}

Check rule_amount_sum(const OrderCreated& order) {
  std::int64_t sum = 0;
  for (const Item& item : order.items) {
    std::int64_t line = 0;
    if (__builtin_mul_overflow(item.quantity, item.unit_price_cents, &line) ||
        __builtin_add_overflow(sum, line, &sum)) {
      return error("amount_cents",
                   "the sum of quantity * unit_price_cents over items overflows a 64-bit integer");
    }
  }
  if (sum == order.amount_cents) return std::nullopt;
  return error("amount_cents", "must equal the sum of quantity * unit_price_cents over items (" +
                                   int_text(sum) + "), got " + int_text(order.amount_cents));
}

Check rule_decline_reason(PaymentStatus status, const std::optional<std::string>& reason) {
  switch (status) {
    case PaymentStatus::Declined:
      if (!reason) return error("decline_reason", "is required when status is DECLINED");
      return rule_length("decline_reason", *reason, 1, kDeclineReasonMaxChars);
    case PaymentStatus::Authorized:
      if (reason) return error("decline_reason", "must be absent when status is AUTHORIZED");
      return std::nullopt;
  }
  return error("status", "must be one of AUTHORIZED, DECLINED");
}

}  // namespace orderflow::events::detail
