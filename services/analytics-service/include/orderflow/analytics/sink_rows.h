// The rows analytics-service hands the ClickHouse sink, and the dead letters of those ClickHouse refuses.
// An input row carries its record as read (key, value, headers), so that a refused one is dead-lettered as
// the record it came from, with the contract's failure headers; its offset stays held (the commit rule)
// until the dead letter is acknowledged (DeliveryContext::Kind::DeadLetter → ClickHouseSink::release).
#pragma once

#include <librdkafka/rdkafkacpp.h>

#include <cstdint>
#include <optional>
#include <string>

#include "orderflow/analytics/clickhouse_sink.h"
#include "orderflow/messaging/offset_tracker.h"
#include "orderflow/messaging/producer.h"
#include "orderflow/messaging/record.h"

namespace orderflow::analytics {

// What a produced record's completion refers to: a closed window, or the dead letter of a row ClickHouse
// refused (whose input offset it releases). Heap-allocated and owned by the completion, which fires
// exactly once per produced record (also at shutdown).
struct DeliveryContext {
  enum class Kind { Window, DeadLetter } kind = Kind::Window;
  std::int64_t start_ms = 0;
  messaging::TopicPartitionKey tp;
  std::int64_t offset = -1;
};

// A row ClickHouse refused on its own, waiting for its dead letter.
struct RefusedRow {
  Table table = Table::Orders;
  SinkRow row;
  std::string reason;
};

// The row of an input record (`json`: order_row or payment_row), holding the record's offset.
[[nodiscard]] SinkRow input_row(const RdKafka::Message& msg, std::string json);

// The order_stats row of the `order-stats` record `value` at `tp`/`offset`; nullopt when the value lacks a
// field the row needs (a record written by a release without the sink).
[[nodiscard]] std::optional<SinkRow> window_sink_row(std::string value,
                                                     const messaging::TopicPartitionKey& tp,
                                                     std::int64_t offset);

// The headers of a refused row's dead letter: the contract's failure headers (a poison record of this
// service, failed at `failed_at_ms`), then the record's own.
[[nodiscard]] messaging::Headers dead_letter_headers(const SinkRow& row, const std::string& reason,
                                                     std::int64_t failed_at_ms);

// Enqueues the dead letter of `refused` on `dlq_topic`; its completion gets a DeliveryContext of kind
// DeadLetter. False (with `error`) when it could not be enqueued.
bool produce_dead_letter(messaging::Producer& producer, const std::string& dlq_topic,
                         const RefusedRow& refused, std::string* error);

}  // namespace orderflow::analytics
