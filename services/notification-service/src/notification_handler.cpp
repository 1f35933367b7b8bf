#include "notification_handler.h"

#include "notification_builder.h"
#include "orderflow/messaging/record.h"
#include "orderflow/messaging/trace_context.h"

namespace orderflow::notification {

namespace hdr = messaging::header;

NotificationHandler::NotificationHandler(NotificationConfig config, std::unique_ptr<Sink> sink,
                                         runtime::ServiceMetrics* metrics)
    : config_(std::move(config)), sink_(std::move(sink)), metrics_(metrics), dedupe_(config_.dedupe_window) {}

std::optional<messaging::Failure> NotificationHandler::precheck(const messaging::InputRecord& record) {
  if (record.source_topic == config_.payments_topic) {
    auto parsed = events::parse_payment_processed(record.value);
    if (!parsed) return messaging::Failure::poison(parsed.error().message());
  } else {
    auto parsed = events::parse_order_created(record.value);
    if (!parsed) return messaging::Failure::poison(parsed.error().message());
  }
  return std::nullopt;
}

messaging::HandlerResult NotificationHandler::handle(const messaging::InputRecord& record) {
  const auto now = std::chrono::system_clock::now();
  events::NotificationSent note;
  std::string order_occurred_at;
  if (record.source_topic == config_.payments_topic) {
    auto parsed = events::parse_payment_processed(record.value);
    if (!parsed) return messaging::HandlerResult::fail(messaging::Failure::poison(parsed.error().message()));
    note = notification_for_payment(parsed.value(), config_.channel, now);
    std::string scratch;
    order_occurred_at =
        messaging::header_value(record.message, hdr::kOrderOccurredAt, scratch).value_or(parsed.value().occurred_at);
  } else {
    auto parsed = events::parse_order_created(record.value);
    if (!parsed) return messaging::HandlerResult::fail(messaging::Failure::poison(parsed.error().message()));
    note = notification_for_order(parsed.value(), config_.channel, now);
    order_occurred_at = parsed.value().occurred_at;
  }

  const auto kind = events::to_string(note.kind);
  const auto key = DedupeWindow::key_of(note.notification_id);  // derived from (order_id, kind)
  messaging::HandlerResult result;
  if (dedupe_.contains(key)) {
    if (metrics_ != nullptr) metrics_->dedupe_hit();
    return result;  // already notified: consume without publishing again
  }
  auto json = events::to_json(note);
  if (auto err = sink_->deliver(json)) {
    return messaging::HandlerResult::fail(messaging::Failure::transient(*err));
  }
  if (dedupe_.insert(key) > 0 && metrics_ != nullptr) metrics_->dedupe_evicted();
  if (metrics_ != nullptr) {
    if (auto t = events::parse_timestamp(order_occurred_at)) {
      metrics_->end_to_end_seconds(kind, std::chrono::duration<double>(std::chrono::system_clock::now() - *t).count());
    }
  }
  messaging::OutRecord out;
  out.topic = config_.notifications_topic;
  out.key = note.customer_id;
  out.value = std::move(json);
  out.headers.emplace_back(hdr::kCorrelationId, note.order_id);
  std::string scratch;
  out.headers.emplace_back(hdr::kTraceparent,
                           messaging::child_traceparent(
                               messaging::header_value(record.message, hdr::kTraceparent, scratch).value_or("")));
  result.outputs.push_back(std::move(out));
  return result;
}

}  // namespace orderflow::notification
