// Produces records exactly as given — per-record headers (NULL values included), null keys, null values,
// values up to 16 MiB (message.max.bytes raised; the mock broker accepts them) — for hostile-input tests.
// Throws std::runtime_error when a record is not acknowledged. Not thread-safe.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace orderflow::testing {

struct RawRecord {
  std::string topic;
  std::optional<std::string> key;    // nullopt: null key
  std::optional<std::string> value;  // nullopt: null value (a tombstone)
  std::vector<std::pair<std::string, std::optional<std::string>>> headers;  // nullopt: NULL header value
  int partition = -1;  // >= 0: this partition; -1: the producer's partitioner
};

// In order, one idempotent producer (acks=all), flushed before returning.
void produce_raw(const std::string& bootstrap, const std::vector<RawRecord>& records);

}  // namespace orderflow::testing
