#include "orderflow/notification/notification_handler.h"

#include "orderflow/messaging/record.h"
#include "orderflow/messaging/trace_context.h"
#include "orderflow/notification/notification_builder.h"

namespace orderflow::notification {

namespace hdr = messaging::header;

NotificationHandler::NotificationHandler(NotificationConfig config, std::unique_ptr<Sink> sink,
                                         NotificationMetrics* metrics)
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
  // One clock read per record: the notification's occurred_at and the end of the end-to-end latency
  // (the sink's write follows within microseconds; the histogram's smallest bucket is 100 µs).
  const auto now = std::chrono::system_clock::now();
  events::NotificationSent note;
  std::string scratch;
  // When the order occurred: the end-to-end latency metric's start.
  std::optional<std::chrono::system_clock::time_point> order_time;
  if (record.source_topic == config_.payments_topic) {
    auto parsed = events::parse_payment_processed(record.value);
    if (!parsed) return messaging::HandlerResult::fail(messaging::Failure::poison(parsed.error().message()));
    note = notification_for_payment(parsed.value(), config_.channel, now);
    if (metrics_ != nullptr) {
      order_time =
          events::parse_timestamp(messaging::header_value(record.message, hdr::kOrderOccurredAt, scratch)
                                      .value_or(parsed.value().occurred_at));
    }
  } else {
    auto parsed = events::parse_order_created(record.value);
    if (!parsed) return messaging::HandlerResult::fail(messaging::Failure::poison(parsed.error().message()));
    note = notification_for_order(parsed.value(), config_.channel, now);
    if (metrics_ != nullptr) order_time = events::parse_timestamp(parsed.value().occurred_at);
  }

  const auto key = DedupeWindow::key_of(note.notification_id);  // derived from (order_id, kind)
  // The window's slots are likely cache misses: load them while the notification is serialised (work
  // wasted only for a duplicate, which a replay produces and steady state does not).
  dedupe_.prefetch(key);
  auto json = events::to_json(note);
  messaging::HandlerResult result;
  if (dedupe_.contains(key)) {
    if (metrics_ != nullptr) metrics_->dedupe_hit();
    return result;  // already notified: consume without publishing again
  }
  if (auto err = sink_->deliver(json)) {
    return messaging::HandlerResult::fail(messaging::Failure::transient(*err));
  }
  if (dedupe_.insert(key) > 0 && metrics_ != nullptr) metrics_->dedupe_evicted();
  if (metrics_ != nullptr && order_time) {
    metrics_->end_to_end_seconds(events::to_string(note.kind),
                                 std::chrono::duration<double>(now - *order_time).count());
  }
  messaging::OutRecord out;
  out.topic = config_.notifications_topic;
  out.key = std::move(note.customer_id);
  out.value = std::move(json);
  out.headers.reserve(2);
  out.headers.emplace_back(hdr::kCorrelationId, std::move(note.order_id));
  out.headers.emplace_back(
      hdr::kTraceparent,
      messaging::child_traceparent(
          messaging::header_value(record.message, hdr::kTraceparent, scratch).value_or("")));
  result.outputs.push_back(std::move(out));
  return result;
}

}  // namespace orderflow::notification
