// Which topics exist, creating missing ones, and where consumer groups stand (committed offsets, watermarks),
// through librdkafka's metadata and Admin APIs on a client of its own (a producer handle that never
// produces). A stage checks its topics with it before it consumes, so that a missing retry or dead-letter
// topic is found at start rather than at the first failed record. Not thread-safe: one owner thread.
#pragma once

#include <librdkafka/rdkafkacpp.h>

#include <atomic>
#include <chrono>
#include <cstdint>
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
  // nullopt, with librdkafka's reason in `error`, when no broker answered within `timeout`; the reason
  // ends with the connection error seen since the last answer, if any (" (last connection error: Local:
  // Authentication failure: …)"), since librdkafka's own ("Local: Broker transport failure") says no more.
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

  // Committed offsets of consumer group `group` (Admin ListConsumerGroupOffsets: an OffsetFetch to the group
  // coordinator, which does not join the group). `partitions`: topic → partition count to ask for; empty:
  // every partition the broker lists a commit on (librdkafka 2.0.2's mock cluster lists none). A partition
  // without a commit is absent. nullopt, with the reason in `error`, when the request or a partition failed.
  using Offsets = std::map<std::pair<std::string, std::int32_t>, std::int64_t>;
  std::optional<Offsets> committed_offsets(const std::string& group,
                                           const std::map<std::string, int>& partitions,
                                           std::chrono::milliseconds timeout, std::string* error);

  // Log start offset and high watermark of one partition (ListOffsets); nullopt with the reason in `error`.
  std::optional<std::pair<std::int64_t, std::int64_t>> watermarks(const std::string& topic,
                                                                  std::int32_t partition,
                                                                  std::chrono::milliseconds timeout,
                                                                  std::string* error);

 private:
  KafkaProperties properties_;
  LastClientError errors_;  // before client_: the client calls it until it is destroyed
  std::unique_ptr<RdKafka::Producer> client_;
};

}  // namespace orderflow::messaging
