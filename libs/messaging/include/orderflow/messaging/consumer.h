// Kafka group consumer with manual commits: auto-commit and auto offset store are off, assignment is
// cooperative-sticky (eager protocols are handled too). The owner's RebalanceListener runs inside
// poll() before partitions are revoked, so it can finish in-flight work and commit first.
// Not thread-safe: poll, commit, pause/resume and close from one thread.
#pragma once

#include <librdkafka/rdkafkacpp.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "orderflow/messaging/kafka_client.h"
#include "orderflow/messaging/kafka_config.h"
#include "orderflow/messaging/offset_tracker.h"
#include "orderflow/messaging/topic_partition.h"

namespace orderflow::messaging {

class RebalanceListener {
 public:
  virtual ~RebalanceListener() = default;
  virtual void on_assigned(const std::vector<TopicPartitionKey>& partitions) = 0;
  // `lost`: the partitions already belong to someone else; do not commit for them.
  virtual void on_revoking(const std::vector<TopicPartitionKey>& partitions, bool lost) = 0;
};

struct ConsumerOptions {
  KafkaProperties properties;  // bootstrap.servers and -X overrides
  std::string group_id;
  std::vector<std::string> topics;
  bool read_committed = false;
  // partition.assignment.strategy under the -X overrides. The stage uses `range` for --retry-ordering key.
  std::string assignment_strategy = "cooperative-sticky";
  // librdkafka statistics, called from poll(). When set, statistics.interval.ms defaults to
  // kStatisticsIntervalMs (a -X override wins).
  StatsHandler on_stats;
  // librdkafka before 2.2 only: while records are consumed quickly, wake the fetcher this often so that
  // a full prefetch queue is refilled as it drains, not a second later (see fetch_nudger.h). 0 = off.
  std::chrono::milliseconds fetch_nudge_interval{20};
};

// The consumer's librdkafka properties: our defaults, then options.properties (-X wins), then the
// group id and isolation level. fetch.max.bytes defaults to 2 MiB, or message.max.bytes when that is
// set higher; with a librdkafka that has fetch.queue.backoff.ms (2.2+, `librdkafka_version` as
// rd_kafka_version() gives it) the fetcher re-checks a full prefetch queue after 10 ms instead of 1 s.
// Throws ConfigError for enable.auto.commit=true.
[[nodiscard]] KafkaProperties consumer_properties(const ConsumerOptions& options, int librdkafka_version);
[[nodiscard]] KafkaProperties consumer_properties(const ConsumerOptions& options);  // the linked librdkafka

class FetchNudger;

class Consumer : public KafkaClient {
 public:
  Consumer(const ConsumerOptions& options, RebalanceListener& listener);
  // Everything the constructor validates, without contacting a broker (check_client_config); throws
  // the same ConfigError. For --check-config (and a start, `log_warnings` as Producer::check_config).
  static void check_config(const ConsumerOptions& options, bool log_warnings = true);
  ~Consumer();
  Consumer(const Consumer&) = delete;
  Consumer& operator=(const Consumer&) = delete;

  void subscribe();
  std::unique_ptr<RdKafka::Message> poll(std::chrono::milliseconds timeout);

  // Commits the given next-offsets; `sync` waits for the broker. Returns the error (ERR_NO_ERROR ok).
  RdKafka::ErrorCode commit(const std::vector<CommitOffset>& offsets, bool sync);
  // Called (from poll) with the outcome of asynchronous commits.
  void on_async_commit(std::function<void(RdKafka::ErrorCode, const std::vector<CommitOffset>&)> cb);

  void pause(const std::string& topic, std::int32_t partition);
  void resume(const std::string& topic, std::int32_t partition);
  void seek(const std::string& topic, std::int32_t partition, std::int64_t offset);
  // Committed offsets of the current assignment (for rewinding after an aborted transaction).
  std::vector<CommitOffset> committed(std::chrono::milliseconds timeout);
  // The group's committed offsets of these partitions (offset < 0: none); empty when the broker did not
  // answer.
  std::vector<CommitOffset> committed(const std::vector<TopicPartitionKey>& partitions,
                                      std::chrono::milliseconds timeout);

  // (high watermark − position) for an assigned partition, from librdkafka's cached watermarks.
  std::int64_t lag(const std::string& topic, std::int32_t partition);

  // How often the fetcher was woken for a draining prefetch queue (0 without a nudger).
  [[nodiscard]] std::uint64_t fetch_nudges() const;

  // Leaves the group (runs the revoke callback for what is still assigned). Idempotent.
  void close();
  RdKafka::KafkaConsumer& handle() { return *consumer_; }

 private:
  class RebalanceBridge;
  class CommitBridge;
  ConsumerOptions options_;
  std::unique_ptr<RebalanceBridge> rebalance_;
  std::unique_ptr<CommitBridge> commits_;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer_;
  std::unique_ptr<FetchNudger> nudger_;  // stopped before consumer_ is closed
  bool closed_ = false;
};

}  // namespace orderflow::messaging
