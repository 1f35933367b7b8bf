// Which topics exist, and creating missing ones, through librdkafka's metadata and Admin APIs on a client
// of its own (a producer handle that never produces). A stage checks its topics with it before it consumes,
// so that a missing retry or dead-letter topic is found at start rather than at the first failed record.
// Not thread-safe: one owner thread.
#pragma once

#include <librdkafka/rdkafkacpp.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "orderflow/messaging/kafka_config.h"

namespace orderflow::messaging {

class TopicAdmin {
 public:
  // `properties`: bootstrap.servers and the user's -X (security settings apply to this client too).
  // Throws ConfigError when librdkafka rejects them.
  explicit TopicAdmin(const KafkaProperties& properties);
  ~TopicAdmin();
  TopicAdmin(const TopicAdmin&) = delete;
  TopicAdmin& operator=(const TopicAdmin&) = delete;

  // Partition count of every topic the cluster reports, from one all-topics metadata request. A request
  // naming the topics is not used because it creates them where the broker auto-creates topics (the
  // librdkafka mock cluster does so for any named metadata request, ignoring allow.auto.create.topics).
  // nullopt, with librdkafka's reason in `error`, when no broker answered within `timeout`.
  std::optional<std::map<std::string, int>> partition_counts(std::chrono::milliseconds timeout,
                                                             std::string* error);

  struct Created {
    std::string topic;
    std::string error;  // empty: created now, or it already existed (`existed`)
    bool existed = false;
  };
  // CreateTopics: `partitions` each, the broker's default replication factor (-1, Kafka >= 2.4). One
  // entry per name; a request that got no answer within `timeout` (or was given up when `stop` became
  // true) reports its error on every name.
  std::vector<Created> create(const std::vector<std::string>& names, int partitions,
                              std::chrono::milliseconds timeout, const std::atomic<bool>* stop = nullptr);

 private:
  std::unique_ptr<RdKafka::Producer> client_;
};

}  // namespace orderflow::messaging
