#include "orderflow/payment/payment_handler.h"

#include "orderflow/payment/payment_decision.h"

namespace orderflow::payment {

PaymentHandler::Parsed PaymentHandler::parse(const messaging::RecordView& record) {
  auto parsed = events::parse_order_created(record.value);
  if (!parsed) return messaging::Failure::poison(parsed.error().message());
  return std::move(parsed).value();
}

messaging::HandlerResult PaymentHandler::handle(const events::OrderCreated& order,
                                                const messaging::RecordView& record) {
  if (!gateway_.call(order.event_id, record.attempt)) {
    return messaging::HandlerResult::fail(messaging::Failure::transient("payment gateway timeout"));
  }
  const auto payment = decide_payment(order, config_.max_amount_cents, std::chrono::system_clock::now());

  messaging::HandlerResult result;
  result.outcome = payment.status == events::PaymentStatus::Declined ? messaging::Outcome::Declined
                                                                     : messaging::Outcome::Success;
  result.correlation_id = order.order_id;
  messaging::OutRecord out;
  out.topic = config_.payments_topic;
  out.key = order.customer_id;
  out.value = events::to_json(payment);
  out.headers.emplace_back(messaging::header::kOrderOccurredAt, order.occurred_at);
  result.outputs.push_back(std::move(out));
  return result;
}

}  // namespace orderflow::payment
