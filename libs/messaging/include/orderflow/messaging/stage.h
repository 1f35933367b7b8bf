// The consume → process → produce loop every consuming service runs (docs/design.md "The stage loop").
// One thread drives everything: poll, the handler, produce, delivery reports, commits. A record's
// offset is committed only after every record its processing produced (result, retry or dead letter)
// was acknowledged. Failures: poison → <group>.dlq at once; transient → <group>.retry with
// x-not-before, dead-lettered as `exhausted` after the last attempt; a retry partition whose head
// record is not due yet is paused, never slept on. In exactly-once mode the same loop runs inside
// Kafka transactions with the input offsets sent to the transaction.
// Errors: start-up misconfiguration throws ConfigError; run() returns the process exit code.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "orderflow/messaging/commit_strategy.h"
#include "orderflow/messaging/consumer.h"
#include "orderflow/messaging/failure.h"
#include "orderflow/messaging/handler.h"
#include "orderflow/messaging/kafka_config.h"
#include "orderflow/messaging/key_order.h"
#include "orderflow/messaging/offset_tracker.h"
#include "orderflow/messaging/producer.h"
#include "orderflow/messaging/record.h"
#include "orderflow/messaging/retry_pauses.h"
#include "orderflow/messaging/retry_policy.h"
#include "orderflow/messaging/stage_observer.h"
#include "orderflow/messaging/stage_router.h"

namespace orderflow::messaging {

enum class Guarantee { AtLeastOnce, ExactlyOnce };

struct StageOptions {
  std::string service;  // x-failed-service, logs
  std::string group_id;
  std::vector<std::string> input_topics;
  // Where the handler's results go: their metadata is fetched before consuming starts (see
  // Producer::prepare_topics). Optional; retry and dead-letter topics are looked up when first used.
  std::vector<std::string> output_topics;
  KafkaProperties kafka;  // bootstrap.servers and -X overrides (consumer and producer)
  RetryPolicy retry;
  RetryOrdering retry_ordering = RetryOrdering::None;
  std::size_t key_gate_max_keys = KeyGate::kDefaultMaxKeys;
  std::chrono::milliseconds commit_interval{1000};
  std::chrono::milliseconds drain_timeout{30000};
  std::chrono::seconds startup_timeout{30};  // brokers must answer within this at start-up
  // Start-up (runtime::run_stage_service, not the runner): create the retry and dead-letter topics when
  // they are missing, instead of only reporting them.
  bool create_topics = false;
  std::size_t max_record_bytes = std::size_t{1024} * 1024;
  Guarantee guarantee = Guarantee::AtLeastOnce;
  std::string instance_id = "0";  // exactly-once: transactional.id = <group_id>-<instance_id>
  std::size_t txn_max_records = 2000;
  std::chrono::milliseconds txn_max_ms{100};
  // librdkafka statistics of the stage's producer and consumer (see ProducerOptions::on_stats).
  std::function<void(std::string_view json)> on_stats;

  [[nodiscard]] std::string retry_topic() const { return group_id + ".retry"; }
  [[nodiscard]] std::string dlq_topic() const { return group_id + ".dlq"; }
};

class StageRunner final : public RebalanceListener, private CommitPort {
 public:
  StageRunner(StageOptions options, RecordHandler& handler, StageObserver& observer);
  ~StageRunner() override;

  // What the constructor validates (the producer's and the consumer's configuration, see
  // Producer::check_config), without contacting a broker; throws the same ConfigError. --check-config,
  // and a start before it waits for the brokers (`log_warnings` false, as in Producer::check_config).
  static void check_config(const StageOptions& options, bool log_warnings = true);

  // Runs until `stop` becomes true or a fatal error; drains, commits, leaves the group. Exit code.
  int run(const std::atomic<bool>& stop);

  // True while the consumer holds an assignment (readiness).
  [[nodiscard]] bool ready() const { return ready_.load(std::memory_order_relaxed); }

  void on_assigned(const std::vector<TopicPartitionKey>& partitions) override;
  void on_revoking(const std::vector<TopicPartitionKey>& partitions, bool lost) override;

 private:
  struct InFlight;
  struct Input;
  void handle_message(RdKafka::Message& msg);
  Input read_input(const RdKafka::Message& msg, const std::string& topic, bool from_retry);
  bool hold_until_due(const Input& in);
  void process(const Input& in, const std::shared_ptr<PartitionProgress>& progress);
  void queue_behind_key(InFlight& ctx, const Input& in);
  void run_handler(InFlight& ctx, const Input& in);
  static Origin origin_of(const Input& in);
  static RouteInput route_input(const Input& in);
  void publish(InFlight& ctx, const Input& in, const Plan& plan);
  void route_failure(InFlight& ctx, const Input& in, const Failure& failure);
  void send_failure_record(InFlight& ctx, const Input& in, Plan& plan);
  bool send(InFlight& ctx, const std::string& topic, const std::string* key, std::string_view value,
            const Headers& headers, std::int32_t partition = -1);
  void restore_key_order(const std::vector<TopicPartitionKey>& partitions);
  // The record's outputs are enqueued: completes it now, or hands it to its delivery reports.
  void enqueued(std::unique_ptr<InFlight> ctx);
  void complete(InFlight& ctx);
  void on_delivery(const DeliveryReport& report);
  void resume_due();
  void report_lag();
  // CommitPort: what the commit strategy asks of the clients and of the stage.
  bool flush_side_effects() override;
  void fail() override;
  [[nodiscard]] bool failed() const override { return fatal_; }
  RdKafka::ErrorCode commit_offsets(const std::vector<CommitOffset>& offsets, bool sync) override;
  void commit_result(bool ok) override;
  std::size_t drain_outputs() override;
  TxnStatus init_transactions() override;
  TxnStatus begin_transaction() override;
  TxnStatus commit_transaction(const std::vector<CommitOffset>& offsets) override;
  TxnStatus abort_transaction() override;
  void rewind() override;

  StageOptions options_;
  RecordHandler& handler_;
  StageObserver& observer_;
  std::string retry_topic_;
  StageRouter router_;
  OffsetTracker tracker_;
  KeyOrder order_;
  KafkaProperties backlog_properties_;  // --retry-ordering key: the consumer's, to read retry partitions back
  // Declared before the clients so that it outlives them: the consumer reports asynchronous commits to it.
  std::unique_ptr<CommitStrategy> commits_;
  std::unique_ptr<Producer> producer_;
  std::unique_ptr<Consumer> consumer_;
  std::vector<TopicPartitionKey> assigned_;
  RetryPauses pauses_;
  // The current record's headers as the handler sees them (RecordView::headers), reused from record to
  // record so that building the view allocates nothing.
  std::vector<HeaderView> header_views_;
  Headers header_copies_;  // messages without librdkafka's C object (test fakes): their copied headers
  std::atomic<bool> ready_{false};
  std::size_t in_flight_ = 0;
  int exit_code_ = 0;
  bool fatal_ = false;
};

}  // namespace orderflow::messaging
