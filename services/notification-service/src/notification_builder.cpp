#include "orderflow/notification/notification_builder.h"

namespace orderflow::notification {

namespace {
events::NotificationSent build(const std::string& order_id, const std::string& customer_id,
                               const std::string& source_event_id, events::NotificationKind kind,
                               const std::string& channel, std::chrono::system_clock::time_point now) {
  events::NotificationSent n;
  n.notification_id = events::notification_id_for(order_id, kind);
  n.event_id = n.notification_id;
  n.occurred_at = events::format_timestamp(now);
  n.order_id = order_id;
  n.customer_id = customer_id;
  n.source_event_id = source_event_id;
  n.kind = kind;
  n.channel = channel;
  return n;
}
}  // namespace

events::NotificationSent notification_for_order(const events::OrderCreated& order, const std::string& channel,
                                                std::chrono::system_clock::time_point now) {
  return build(order.order_id, order.customer_id, order.event_id, events::NotificationKind::OrderReceived,
               channel, now);
}

events::NotificationSent notification_for_payment(const events::PaymentProcessed& payment,
                                                  const std::string& channel,
                                                  std::chrono::system_clock::time_point now) {
  const auto kind = payment.status == events::PaymentStatus::Authorized
                        ? events::NotificationKind::PaymentAuthorized
                        : events::NotificationKind::PaymentDeclined;
  return build(payment.order_id, payment.customer_id, payment.event_id, kind, channel, now);
}

}  // namespace orderflow::notification
