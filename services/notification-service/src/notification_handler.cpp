#include "orderflow/notification/notification_handler.h"

#include "orderflow/notification/notification_builder.h"
#include "orderflow/notification/notification_metrics.h"

namespace orderflow::notification {

NotificationHandler::NotificationHandler(NotificationConfig config, std::unique_ptr<Sink> sink,
                                         std::unique_ptr<NotificationMetrics> metrics)
    : config_(std::move(config)),
      sink_(std::move(sink)),
      metrics_(std::move(metrics)),
      dedupe_(config_.dedupe_window) {}

NotificationHandler::~NotificationHandler() = default;

NotificationHandler::Parsed NotificationHandler::parse(const messaging::RecordView& record) {
  if (record.source_topic == config_.payments_topic) {
    auto parsed = events::parse_payment_processed(record.value);
    if (!parsed) return messaging::Failure::poison(parsed.error().message());
    return NotificationInput(std::move(parsed).value());
  }
  auto parsed = events::parse_order_created(record.value);
  if (!parsed) return messaging::Failure::poison(parsed.error().message());
  return NotificationInput(std::move(parsed).value());
}

messaging::HandlerResult NotificationHandler::handle(const NotificationInput& input,
                                                     const messaging::RecordView& record) {
  // One clock read per record: the notification's occurred_at and the end of the end-to-end latency
  // (the sink's write follows within microseconds; the histogram's smallest bucket is 100 µs).
  const auto now = std::chrono::system_clock::now();
  events::NotificationSent note;
  // When the order occurred: the end-to-end latency metric's start.
  std::optional<std::chrono::system_clock::time_point> order_time;
  if (const auto* payment = std::get_if<events::PaymentProcessed>(&input)) {
    note = notification_for_payment(*payment, config_.channel, now);
    if (metrics_) {
      order_time = events::parse_timestamp(
          record.header(messaging::header::kOrderOccurredAt).value_or(payment->occurred_at));
    }
  } else {
    const auto& order = std::get<events::OrderCreated>(input);
    note = notification_for_order(order, config_.channel, now);
    if (metrics_) order_time = events::parse_timestamp(order.occurred_at);
  }

  const auto key = DedupeWindow::key_of(note.notification_id);  // derived from (order_id, kind)
  // The window's slots are likely cache misses: load them while the notification is serialised (work
  // wasted only for a duplicate, which a replay produces and steady state does not).
  dedupe_.prefetch(key);
  auto json = events::to_json(note);
  messaging::HandlerResult result;
  if (dedupe_.contains(key)) {
    if (metrics_) metrics_->dedupe_hit();
    return result;  // already notified: consume without publishing again
  }
  if (auto err = sink_->deliver(json)) {
    return messaging::HandlerResult::fail(messaging::Failure::transient(*err));
  }
  if (dedupe_.insert(key) > 0 && metrics_) metrics_->dedupe_evicted();
  if (metrics_ && order_time) {
    metrics_->end_to_end_seconds(events::to_string(note.kind),
                                 std::chrono::duration<double>(now - *order_time).count());
  }
  result.correlation_id = std::move(note.order_id);
  messaging::OutRecord out;
  out.topic = config_.notifications_topic;
  out.key = std::move(note.customer_id);
  out.value = std::move(json);
  result.outputs.push_back(std::move(out));
  return result;
}

}  // namespace orderflow::notification
