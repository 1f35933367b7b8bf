#include "orderflow/events/types.h"

#include "orderflow/events/validation_error.h"

namespace orderflow::events {

std::string ValidationError::message() const {
  return field + ": " + reason;
}

std::string_view to_string(PaymentStatus status) noexcept {
  switch (status) {
    case PaymentStatus::Authorized:
      return "AUTHORIZED";
    case PaymentStatus::Declined:
      return "DECLINED";
  }
  return "UNKNOWN";
}

std::string_view to_string(NotificationKind kind) noexcept {
  switch (kind) {
    case NotificationKind::OrderReceived:
      return "ORDER_RECEIVED";
    case NotificationKind::PaymentAuthorized:
      return "PAYMENT_AUTHORIZED";
    case NotificationKind::PaymentDeclined:
      return "PAYMENT_DECLINED";
  }
  return "UNKNOWN";
}

std::optional<PaymentStatus> payment_status_from_string(std::string_view text) noexcept {
  if (text == "AUTHORIZED") return PaymentStatus::Authorized;
  if (text == "DECLINED") return PaymentStatus::Declined;
  return std::nullopt;
}

std::optional<NotificationKind> notification_kind_from_string(std::string_view text) noexcept {
  if (text == "ORDER_RECEIVED") return NotificationKind::OrderReceived;
  if (text == "PAYMENT_AUTHORIZED") return NotificationKind::PaymentAuthorized;
  if (text == "PAYMENT_DECLINED") return NotificationKind::PaymentDeclined;
  return std::nullopt;
}

}  // namespace orderflow::events
