// Reads a whole topic for assertions: no consumer group (assign, not subscribe), every partition
// from the beginning, records accumulated in arrival order (per-partition order is kept). Waits for
// the topic to exist if it does not yet. Not thread-safe (one owner); constructor throws
// std::runtime_error on a bad configuration, the polling calls never throw.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace RdKafka {
class KafkaConsumer;
}

namespace orderflow::testing {

struct Record {
  std::string topic;
  int32_t partition = -1;
  int64_t offset = -1;
  std::optional<std::string> key;                            // nullopt = null key
  std::string value;                                         // a null value reads as ""
  std::vector<std::pair<std::string, std::string>> headers;  // in order, duplicates kept
  int64_t timestamp_ms = -1;
};

class TopicReader {
 public:
  TopicReader(std::string bootstrap, std::string topic, bool read_committed = false);
  ~TopicReader();
  TopicReader(const TopicReader&) = delete;
  TopicReader& operator=(const TopicReader&) = delete;

  // Polls until pred(records()) or the timeout; returns pred's last value.
  bool poll_until(const std::function<bool(const std::vector<Record>&)>& pred,
                  std::chrono::milliseconds timeout);
  bool wait_for_count(size_t n, std::chrono::milliseconds timeout);  // at least n records
  // Reads everything up to the high watermarks of all partitions as of this call (bounded by the
  // timeout): afterwards records() holds everything the topic had, to assert "nothing else".
  // Returns whether the end was reached in time.
  bool drain_to_end(std::chrono::milliseconds timeout);
  const std::vector<Record>& records() const { return records_; }
  // The records with this key, in arrival order (a convenience for assertions).
  std::vector<Record> with_key(const std::string& key) const;

  const std::string& topic() const { return topic_; }
  int partition_count() const { return static_cast<int>(next_offset_.size()); }

 private:
  bool ensure_assigned(std::chrono::milliseconds timeout);
  void poll_once(std::chrono::milliseconds timeout);

  std::string bootstrap_;
  std::string topic_;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer_;
  bool assigned_ = false;
  std::vector<Record> records_;
  std::map<int32_t, int64_t> next_offset_;  // per partition: past the last record or the EOF seen
};

}  // namespace orderflow::testing
