// Builds notifications: a pure function of the source event and the time (no Kafka). One valid order
// yields ORDER_RECEIVED; one payment yields PAYMENT_AUTHORIZED or PAYMENT_DECLINED. The event_id
// and notification_id are derived from (order_id, kind), so duplicates carry the same identity.
#pragma once

#include <chrono>
#include <string>

#include "orderflow/events/events.h"

namespace orderflow::notification {

events::NotificationSent notification_for_order(const events::OrderCreated& order, const std::string& channel,
                                                std::chrono::system_clock::time_point now);
events::NotificationSent notification_for_payment(const events::PaymentProcessed& payment,
                                                  const std::string& channel,
                                                  std::chrono::system_clock::time_point now);

}  // namespace orderflow::notification
