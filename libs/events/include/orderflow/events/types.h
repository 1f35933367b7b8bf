// The event types of docs/contract.md §5 Events as plain C++ values (no JSON in them), plus their enum
// spellings. Plain data: thread-safe as values; no errors reported here (see codec.h for parsing and
// validation).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace orderflow::events {

inline constexpr std::int64_t kSchemaVersion = 1;

inline constexpr std::string_view kOrderCreatedType = "OrderCreated";
inline constexpr std::string_view kPaymentProcessedType = "PaymentProcessed";
inline constexpr std::string_view kNotificationSentType = "NotificationSent";

struct Item {
  std::string sku;
  std::int64_t quantity = 0;
  std::int64_t unit_price_cents = 0;

  friend bool operator==(const Item&, const Item&) = default;
};

struct OrderCreated {
  std::string event_id;
  std::string occurred_at;
  std::string order_id;
  std::string customer_id;
  std::vector<Item> items;
  std::int64_t amount_cents = 0;
  std::string currency;

  friend bool operator==(const OrderCreated&, const OrderCreated&) = default;
};

enum class PaymentStatus { Authorized, Declined };

struct PaymentProcessed {
  std::string event_id;
  std::string occurred_at;
  std::string payment_id;
  std::string order_id;
  std::string customer_id;
  std::string order_event_id;
  PaymentStatus status = PaymentStatus::Authorized;
  std::int64_t amount_cents = 0;
  std::string currency;
  std::optional<std::string> decline_reason;  // present exactly when status == Declined

  friend bool operator==(const PaymentProcessed&, const PaymentProcessed&) = default;
};

enum class NotificationKind { OrderReceived, PaymentAuthorized, PaymentDeclined };

struct NotificationSent {
  std::string event_id;
  std::string occurred_at;
  std::string notification_id;
  std::string order_id;
  std::string customer_id;
  std::string source_event_id;
  NotificationKind kind = NotificationKind::OrderReceived;
  std::string channel;

  friend bool operator==(const NotificationSent&, const NotificationSent&) = default;
};

// "AUTHORIZED" / "DECLINED".
[[nodiscard]] std::string_view to_string(PaymentStatus status) noexcept;
// "ORDER_RECEIVED" / "PAYMENT_AUTHORIZED" / "PAYMENT_DECLINED".
[[nodiscard]] std::string_view to_string(NotificationKind kind) noexcept;

// Inverse of to_string: exact, case-sensitive match; nullopt for anything else.
[[nodiscard]] std::optional<PaymentStatus> payment_status_from_string(std::string_view text) noexcept;
[[nodiscard]] std::optional<NotificationKind> notification_kind_from_string(std::string_view text) noexcept;

}  // namespace orderflow::events
