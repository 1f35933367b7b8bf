// A bounded read of one topic without joining a consumer group: every partition is assigned (never
// subscribed), read from the beginning or from the group's committed offsets, and only up to the end
// offsets seen at start — so a scan always finishes, however busy the topic. Progress can be committed
// for the group with explicit offsets (an OffsetCommit without a generation, which Kafka accepts for a
// group with no active members); the commit wait is bounded too. Not thread-safe (one owner). Every
// failure throws ScanError naming the topic, the broker address or the partition.
#pragma once

#include <librdkafka/rdkafkacpp.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "orderflow/messaging/kafka_client.h"
#include "orderflow/messaging/kafka_config.h"

namespace orderflow::dlq {

class ScanError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct ScanOptions {
  messaging::KafkaProperties kafka;  // bootstrap.servers and the -X overrides (these win)
  std::string topic;
  std::string group_id;         // whose committed offsets are read / written
  bool from_committed = false;  // start at the group's committed offsets instead of the beginning
  // Bounds every broker call, and the longest wait for the next record while some are still due.
  std::chrono::milliseconds timeout{std::chrono::seconds(10)};
};

struct PartitionRange {
  std::int32_t partition = -1;
  std::int64_t start = 0;  // first offset to read
  std::int64_t end = 0;    // the high watermark at start: read offsets < end
};

class TopicScan : public messaging::KafkaClient {
 public:
  // Looks the topic up (without creating it), fetches the watermarks (and committed offsets) and
  // assigns the partitions that have something to read. ScanError when the topic does not exist.
  explicit TopicScan(ScanOptions options);
  ~TopicScan();
  TopicScan(const TopicScan&) = delete;
  TopicScan& operator=(const TopicScan&) = delete;

  // The next record below the end offsets, or nullptr when every partition is done or `stop` is set.
  // ScanError when no record arrives for `timeout` although some are due, or on a fatal error.
  std::unique_ptr<RdKafka::Message> next(const std::atomic<bool>* stop = nullptr);
  // Reads nothing more from this partition (its later records are left for the next run).
  void stop_partition(std::int32_t partition);

  // Commits next-offsets (last processed + 1) for the group and waits (at most `timeout`) for the
  // broker's answer. Records that arrive meanwhile are kept for next(). ScanError on failure.
  void commit(const std::map<std::int32_t, std::int64_t>& next_offsets);

  [[nodiscard]] const std::vector<PartitionRange>& ranges() const { return ranges_; }
  [[nodiscard]] const std::string& topic() const { return options_.topic; }
  [[nodiscard]] std::string bootstrap() const;

 private:
  class CommitBridge;
  void assign();
  void mark_done(std::int32_t partition);
  // Applies the end offsets and EOF events: true (and `last_progress` updated) when `msg` is a record
  // next() should return; throws on a fatal error.
  bool accept(const RdKafka::Message& msg, std::chrono::steady_clock::time_point& last_progress);

  ScanOptions options_;
  std::unique_ptr<CommitBridge> commits_;  // outlives consumer_
  std::unique_ptr<RdKafka::KafkaConsumer> consumer_;
  std::vector<PartitionRange> ranges_;
  std::map<std::int32_t, std::int64_t> due_;  // partitions still being read → their end offset
  std::deque<std::unique_ptr<RdKafka::Message>> buffered_;  // accepted while waiting for a commit
};

}  // namespace orderflow::dlq
