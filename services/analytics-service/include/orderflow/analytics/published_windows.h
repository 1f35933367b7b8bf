// The windows earlier runs published: read back from the tail of the stats topic at start (and, in
// exactly-once mode, after an aborted transaction), so that their re-read records are not counted again
// (WindowAggregator::seed_published) and their ClickHouse rows are written again (idempotent).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "orderflow/messaging/kafka_config.h"

namespace orderflow::analytics {

// How many of the last records of each `order-stats` partition are read. Keys are window starts, spread
// over the partitions, so this covers the most recent windows many times over; only windows a restart can
// re-read (the oldest unpublished one onwards) matter.
inline constexpr std::int64_t kStatsTailPerPartition = 1000;

// A window record of an earlier run, as read back from the stats topic.
struct PublishedRecord {
  std::int64_t start_ms = 0;
  std::int32_t partition = 0;
  std::int64_t offset = 0;
  std::string value;
};

// Reads the tail of `topic`: the windows (of this `window_ms`) published by earlier runs, into `published`.
// False when the topic could not be read within `timeout` or `stop` was set.
// Exactly-once reads only committed windows (`read_committed`: an aborted copy must not count as
// published), and so after init_transactions, which has aborted a dead run's open transaction.
bool read_published(const messaging::KafkaProperties& base, const std::string& topic, std::int64_t window_ms,
                    std::chrono::milliseconds timeout, const std::atomic<bool>& stop, bool read_committed,
                    std::vector<PublishedRecord>& published);

}  // namespace orderflow::analytics
