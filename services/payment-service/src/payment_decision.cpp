#include "orderflow/payment/payment_decision.h"

namespace orderflow::payment {

events::PaymentProcessed decide_payment(const events::OrderCreated& order, std::int64_t max_amount_cents,
                                        std::chrono::system_clock::time_point now) {
  events::PaymentProcessed p;
  p.payment_id = events::payment_id_for(order.event_id);
  p.event_id = p.payment_id;
  p.occurred_at = events::format_timestamp(now);
  p.order_id = order.order_id;
  p.customer_id = order.customer_id;
  p.order_event_id = order.event_id;
  p.amount_cents = order.amount_cents;
  p.currency = order.currency;
  if (order.amount_cents > max_amount_cents) {
    p.status = events::PaymentStatus::Declined;
    p.decline_reason = "AMOUNT_LIMIT_EXCEEDED";
  } else {
    p.status = events::PaymentStatus::Authorized;
  }
  return p;
}

}  // namespace orderflow::payment
