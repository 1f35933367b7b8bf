// A dead-letter record as dlq-tool sees it (bytes copied out of the RdKafka::Message), the contract's
// failure headers, and how a record is shown: escaped text for a terminal, or one JSON object.
// Plain values and pure functions; no Kafka calls, no thread-safety concerns.
#pragma once

#include <librdkafka/rdkafkacpp.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "orderflow/messaging/record.h"

namespace orderflow::dlq {

struct DlqRecord {
  std::string topic;
  std::int32_t partition = -1;
  std::int64_t offset = -1;
  std::int64_t timestamp_ms = -1;
  std::optional<std::string> key;  // nullopt = null key
  std::string value;               // a null value reads as ""
  bool value_null = false;         // the record had a null value (a tombstone), not an empty one
  messaging::Headers headers;      // in order, duplicates kept

  // The last header with this name (as find_header does for consumed messages).
  [[nodiscard]] std::optional<std::string> header(std::string_view name) const;
  [[nodiscard]] std::optional<std::string> error_class() const;
  [[nodiscard]] std::optional<std::string> failed_service() const;
  [[nodiscard]] std::optional<std::string> original_topic() const;
};

DlqRecord from_message(const RdKafka::Message& msg);

// True for the headers a service adds when it gives up on a record (docs/contract.md §6 Headers:
// x-original-*, x-attempt, x-error-*, x-failed-*, x-not-before). Other headers — traceparent,
// x-correlation-id, x-order-occurred-at, anything unknown — belong to the record and travel with a replay.
bool is_failure_header(std::string_view name);
// The headers a replayed record carries: every non-failure header, in order.
messaging::Headers replay_headers(const messaging::Headers& headers);

// Bytes as readable text: printable ASCII and well-formed UTF-8 pass through, `\` becomes `\\`,
// \n \r \t stay escapes, every other byte becomes \xNN. Unambiguous, so it can be read back by eye.
std::string escape_bytes(std::string_view bytes);

inline constexpr std::size_t kValuePreviewBytes = 200;

// The `list` text block of one record (ends with a newline):
//   partition 3 offset 17 key "c-42" value 57 bytes
//     x-error-class: poison
//     …
//     value: {"order_id":…}
std::string format_text(const DlqRecord& r, std::size_t preview = kValuePreviewBytes);
// The `list --json` line of one record (no newline): topic, partition, offset, timestamp_ms, key
// (escaped text or null), headers (object; the last of duplicate names wins), value (escaped preview),
// value_bytes, value_truncated, value_base64 (the whole value, exact bytes).
// `replay_to` (when non-empty) adds "replay_to", for replay --dry-run.
std::string format_json(const DlqRecord& r, std::size_t preview = kValuePreviewBytes,
                        std::string_view replay_to = {});

std::string base64_encode(std::string_view bytes);

}  // namespace orderflow::dlq
