// Consumer-group lag read from the brokers, not from the consumers: the group's committed offsets (Admin
// API ListConsumerGroupOffsets, which does not join the group) against each partition's high watermark.
// It stays visible when every consumer of a group is down, which is when the consumers' own
// orderflow_consumer_lag disappears. Not thread-safe: one owner calls read().
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "orderflow/messaging/kafka_config.h"
#include "orderflow/messaging/topic_admin.h"

namespace orderflow::lag {

struct PartitionLag {
  std::string topic;
  std::int32_t partition = 0;
  std::int64_t committed = -1;  // -1: the group never committed on this partition
  std::int64_t low = 0;         // log start offset
  std::int64_t high = 0;        // high watermark
  // Records the group has still to consume: high − committed, or high − low without a commit (the
  // services start a partition without a commit from the earliest offset).
  [[nodiscard]] std::int64_t lag() const;
};

// A group to watch and, optionally, the topics it consumes. Without topics, those it has committed offsets
// on (as the broker lists them; librdkafka's mock cluster lists none, so name them there).
struct GroupSpec {
  std::string group;
  std::vector<std::string> topics;
};

// "GROUP[:TOPIC[+TOPIC…]],…" → specs; throws std::invalid_argument naming a malformed entry.
std::vector<GroupSpec> parse_group_specs(const std::string& text);

struct GroupLag {
  std::string group;
  std::string error;  // empty when every partition below was read
  // Every partition of the group's topics (named, else those with commits), by topic and partition.
  std::vector<PartitionLag> partitions;
};

class LagReader {
 public:
  // Throws messaging::ConfigError when librdkafka refuses the properties.
  explicit LagReader(const messaging::KafkaProperties& props);

  // One metadata request, one ListConsumerGroupOffsets per group, one ListOffsets per partition; each
  // bounded by `timeout`. A group whose offsets or watermarks could not be read has `error` set.
  std::vector<GroupLag> read(const std::vector<GroupSpec>& groups, std::chrono::milliseconds timeout);

 private:
  messaging::TopicAdmin admin_;
};

}  // namespace orderflow::lag
