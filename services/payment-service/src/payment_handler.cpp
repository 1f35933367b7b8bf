#include "orderflow/payment/payment_handler.h"

#include "orderflow/messaging/record.h"
#include "orderflow/messaging/trace_context.h"
#include "orderflow/payment/payment_decision.h"

namespace orderflow::payment {

namespace hdr = messaging::header;

std::optional<messaging::Failure> PaymentHandler::precheck(const messaging::InputRecord& record) {
  auto parsed = events::parse_order_created(record.value);
  if (!parsed) return messaging::Failure::poison(parsed.error().message());
  return std::nullopt;
}

messaging::HandlerResult PaymentHandler::handle(const messaging::InputRecord& record) {
  auto parsed = events::parse_order_created(record.value);
  if (!parsed) return messaging::HandlerResult::fail(messaging::Failure::poison(parsed.error().message()));
  const auto& order = parsed.value();
  if (!gateway_.call(order.event_id, record.attempt)) {
    return messaging::HandlerResult::fail(messaging::Failure::transient("payment gateway timeout"));
  }
  const auto payment = decide_payment(order, config_.max_amount_cents, std::chrono::system_clock::now());

  messaging::HandlerResult result;
  result.outcome = payment.status == events::PaymentStatus::Declined ? messaging::Outcome::Declined
                                                                     : messaging::Outcome::Success;
  messaging::OutRecord out;
  out.topic = config_.payments_topic;
  out.key = order.customer_id;
  out.value = events::to_json(payment);
  out.headers.reserve(3);
  out.headers.emplace_back(hdr::kCorrelationId, order.order_id);
  std::string scratch;
  out.headers.emplace_back(
      hdr::kTraceparent,
      messaging::child_traceparent(
          messaging::header_value(record.message, hdr::kTraceparent, scratch).value_or("")));
  out.headers.emplace_back(hdr::kOrderOccurredAt, order.occurred_at);
  result.outputs.push_back(std::move(out));
  return result;
}

}  // namespace orderflow::payment
