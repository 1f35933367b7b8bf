// analytics-service at run time: consumes `orders` and `payments`, aggregates them in tumbling event-time
// windows (window.h) and publishes each closed window to `order-stats`; with a ClickHouse URL it also
// writes the raw orders and payments and the published windows to ClickHouse (clickhouse_sink.h). An input
// offset is committed only once both rules allow it (committable_offsets): its window was published and
// its row was written (or dead-lettered, sink_rows.h). How it is committed is the CommitStrategy's
// (commit_strategy.h): offset commits (at-least-once) or one Kafka transaction per commit period
// (exactly-once, transactional.id = <group-id>-<instance-id>), so that a read_committed reader of
// `order-stats` sees every window once.
//
// Exactly-once. The offsets sent with a transaction follow the same rule as the commits of at-least-once,
// so a transaction never commits input whose ClickHouse rows are missing. An aborted transaction rebuilds
// the state as a restart does: the windows committed on `order-stats` (read_committed) are learned again
// and the input is re-read from the group's committed offsets. ClickHouse is outside the transaction: rows
// of an aborted transaction may be written again after it, and a window row written before an abort is
// superseded by the committed copy (a higher offset is a higher version); ReplacingMergeTree and the
// README's queries count each once.
//
// One instance per group: a window gathers records of every partition, so two instances would each
// publish a partial window under the same id. A rebalance therefore drops the open windows and rewinds the
// partitions still assigned to their committable offsets, rebuilding the windows from the records.
//
// Single-threaded (the calling thread runs the loop and every Kafka callback), except the readiness check
// of the HTTP thread, which reads the sink's state under a mutex.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "orderflow/analytics/analytics_metrics.h"
#include "orderflow/analytics/analytics_options.h"
#include "orderflow/analytics/clickhouse_sink.h"
#include "orderflow/analytics/commit_strategy.h"
#include "orderflow/analytics/sink_rows.h"
#include "orderflow/analytics/window.h"
#include "orderflow/messaging/consumer.h"
#include "orderflow/messaging/producer.h"
#include "orderflow/runtime/http_server.h"
#include "orderflow/runtime/metrics.h"
#include "orderflow/runtime/shutdown.h"

namespace orderflow::analytics {

class AnalyticsService final : private CommitPort, private messaging::RebalanceListener {
 public:
  AnalyticsService(AnalyticsOptions options, runtime::ServiceMetrics& service_metrics,
                   AnalyticsMetrics& metrics);
  ~AnalyticsService() override;
  AnalyticsService(const AnalyticsService&) = delete;
  AnalyticsService& operator=(const AnalyticsService&) = delete;

  // Runs until SIGINT/SIGTERM; the exit code: 0 clean stop, 1 runtime failure.
  int run();

 private:
  // Why the loop stops and with which exit code; nullopt: it goes on.
  using Stop = std::optional<int>;

  // Start, loop and stop (run's steps, in order).
  bool start_http();
  void start_sink();
  void start_producer();
  bool learn_published();
  void start_consumer();
  int loop();
  int stop(int exit_code);

  // The loop's steps.
  Stop rebuild_after_abort();
  void consume(const RdKafka::Message& msg, std::int64_t now);
  Stop publish_closed(std::int64_t now);
  Stop serve_sink(std::int64_t now);
  bool dead_letter(const RefusedRow& refused);
  void delivered(const messaging::DeliveryReport& report);

  // messaging::RebalanceListener
  void on_assigned(const std::vector<messaging::TopicPartitionKey>& partitions) override;
  void on_revoking(const std::vector<messaging::TopicPartitionKey>& partitions, bool lost) override;

  // CommitPort
  std::vector<messaging::CommitOffset> committable() override;
  void commit_result(bool ok) override;
  bool commit_offsets(const std::vector<messaging::CommitOffset>& offsets, bool sync) override;
  bool flush() override;
  [[nodiscard]] bool delivery_failed() const override { return delivery_failed_; }
  messaging::TxnStatus init_transactions() override;
  messaging::TxnStatus begin_transaction() override;
  messaging::TxnStatus commit_transaction(const std::vector<messaging::CommitOffset>& offsets) override;
  messaging::TxnStatus abort_transaction(bool open) override;
  void rebuild() override;

  using PartitionSet = std::set<std::pair<std::string, std::int32_t>>;

  const AnalyticsOptions options_;
  const std::string dlq_topic_;
  runtime::ServiceMetrics& service_metrics_;
  AnalyticsMetrics& metrics_;
  runtime::ShutdownSignal shutdown_;

  // Readiness, as /readyz reports it (the HTTP thread reads these).
  std::atomic<bool> ready_{false};
  std::mutex sink_state_mutex_;
  std::string sink_problem_;
  std::unique_ptr<runtime::HttpServer> http_;

  WindowAggregator windows_;
  std::unique_ptr<ClickHouseSink> sink_;  // none without --clickhouse-url
  bool sink_was_up_ = true;
  // Filled by the sink's refused hook, served by the loop (the producer is created after the sink).
  std::vector<RefusedRow> refused_;

  // Closed windows produced and not yet acknowledged, by start.
  std::map<std::int64_t, WindowStats> in_flight_;
  bool delivery_failed_ = false;
  // Set while a transaction is aborted: the completions of its purged records change no state.
  bool discarding_ = false;
  std::unique_ptr<messaging::Producer> producer_;
  std::unique_ptr<CommitStrategy> commits_;

  std::unique_ptr<messaging::Consumer> consumer_;
  PartitionSet assigned_, paused_;
  // Offsets the loop seeks to after a rebalance (the partitions still assigned).
  std::vector<messaging::CommitOffset> rewind_;
  // After an aborted transaction: the loop rebuilds as a start does.
  bool rebuild_pending_ = false;
};

}  // namespace orderflow::analytics
