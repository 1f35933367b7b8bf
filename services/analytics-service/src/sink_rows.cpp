#include "orderflow/analytics/sink_rows.h"

#include <memory>
#include <utility>

#include "orderflow/messaging/retry_policy.h"

namespace orderflow::analytics {

SinkRow input_row(const RdKafka::Message& msg, std::string json) {
  SinkRow row;
  row.json = std::move(json);
  row.tp = {msg.topic_name(), msg.partition()};
  row.offset = msg.offset();
  row.holds_offset = true;
  row.key = messaging::message_key(msg);
  row.value.assign(static_cast<const char*>(msg.payload()), msg.len());
  row.headers = messaging::all_headers(msg);
  return row;
}

std::optional<SinkRow> window_sink_row(std::string value, const messaging::TopicPartitionKey& tp,
                                       std::int64_t offset) {
  auto json = window_row(value, offset);
  if (!json) return std::nullopt;
  SinkRow row;
  row.json = std::move(*json);
  row.tp = tp;
  row.offset = offset;
  row.value = std::move(value);
  return row;
}

messaging::Headers dead_letter_headers(const SinkRow& row, const std::string& reason,
                                       std::int64_t failed_at_ms) {
  const std::string message = "ClickHouse refused the row: " + reason;
  messaging::FailureHeaderInput in;
  in.origin = {row.tp.topic, row.tp.partition, row.offset};
  in.error_class = messaging::ErrorClass::Poison;
  in.error_message = message;
  in.service = "analytics-service";
  in.failed_at_ms = failed_at_ms;
  return messaging::failure_headers(in, row.headers);
}

bool produce_dead_letter(messaging::Producer& producer, const std::string& dlq_topic,
                         const RefusedRow& refused, std::string* error) {
  const auto& row = refused.row;
  const auto headers = dead_letter_headers(row, refused.reason, messaging::now_ms());
  auto ctx = std::make_unique<DeliveryContext>();
  ctx->kind = DeliveryContext::Kind::DeadLetter;
  ctx->tp = row.tp;
  ctx->offset = row.offset;
  if (!producer.produce(dlq_topic, row.key ? &*row.key : nullptr, row.value.data(), row.value.size(), headers,
                        ctx.get(), error)) {
    return false;
  }
  (void)ctx.release();  // the completion owns it now
  return true;
}

}  // namespace orderflow::analytics
