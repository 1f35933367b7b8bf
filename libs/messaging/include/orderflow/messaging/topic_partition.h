// A partition of a topic by name and number, as a value: the key of per-partition state (offsets, key
// order, windows) and what rebalance callbacks hand over. Pure, no Kafka types.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

namespace orderflow::messaging {

struct TopicPartitionKey {
  std::string topic;
  std::int32_t partition = 0;
  bool operator==(const TopicPartitionKey&) const = default;
};

struct TopicPartitionKeyHash {
  std::size_t operator()(const TopicPartitionKey& k) const noexcept {
    return std::hash<std::string>{}(k.topic) * 31U + static_cast<std::size_t>(k.partition);
  }
};

}  // namespace orderflow::messaging
