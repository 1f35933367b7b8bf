// The contract metrics (docs/contract.md §9 Metrics) of one service, built once at start-up; the hot path
// only increments cached counters. Implements the stage's observer hooks. Counters and histograms are
// thread-safe (prometheus-cpp); the per-topic caches are filled on the stage thread only. librdkafka
// statistics handed to kafka_stats() (any thread) are parsed when the registry is collected, i.e. on the
// metrics HTTP thread at scrape time, never on the Kafka poll thread.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "orderflow/messaging/stage_observer.h"
#include "orderflow/runtime/kafka_stats.h"

namespace orderflow::runtime {

// Buckets resolving 100 µs … 10 s (seconds).
prometheus::Histogram::BucketBoundaries latency_buckets();

namespace detail {
// A Registry that runs a hook (under its own lock) before every Collect(), so that values derived
// from pending data are brought up to date at scrape time.
class ScrapeRegistry final : public prometheus::Registry {
 public:
  std::vector<prometheus::MetricFamily> Collect() const override;
  void set_before_collect(std::function<void()> hook);

 private:
  mutable std::mutex hook_mutex_;
  std::function<void()> before_collect_;
};
}  // namespace detail

class ServiceMetrics final : public messaging::StageObserver {
 public:
  explicit ServiceMetrics(std::string service);
  ~ServiceMetrics() override;
  ServiceMetrics(const ServiceMetrics&) = delete;
  ServiceMetrics& operator=(const ServiceMetrics&) = delete;

  prometheus::Registry& registry() { return *registry_; }
  std::shared_ptr<prometheus::Registry> registry_ptr() { return registry_; }
  const std::string& service() const { return service_; }

  void consumed(std::string_view topic) override;
  void produced(std::string_view topic) override;
  void outcome(std::string_view outcome) override;
  void processing_seconds(double seconds) override;
  void commit_result(bool ok) override;
  void lag(std::string_view topic, std::int32_t partition, std::int64_t lag) override;
  void partition_revoked(std::string_view topic, std::int32_t partition) override;
  void retry_paused(std::size_t paused) override;
  void key_gate(std::size_t keys, std::uint64_t overflowed) override;

  // One librdkafka statistics document (EVENT_STATS). Thread-safe and cheap: it is copied here and
  // parsed at the next scrape or readiness probe. Set statistics.interval.ms on the client to get them.
  void kafka_stats(std::string_view json) { kafka_stats_.offer(json); }
  // Readiness: why the clients reporting statistics cannot reach any broker, if they cannot (parses the
  // documents offered since the last scrape or probe, on the caller's thread).
  [[nodiscard]] std::optional<std::string> broker_problem() { return kafka_stats_.broker_problem(); }

  prometheus::Counter& counter(const std::string& name, const std::string& help,
                               const std::map<std::string, std::string>& labels = {});
  prometheus::Gauge& gauge(const std::string& name, const std::string& help,
                           const std::map<std::string, std::string>& labels = {});

 private:
  prometheus::Counter& cached(std::unordered_map<std::string, prometheus::Counter*>& cache,
                              prometheus::Family<prometheus::Counter>& family, const char* label,
                              std::string_view value);
  std::string service_;
  std::shared_ptr<detail::ScrapeRegistry> scrape_registry_;
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>& consumed_;
  prometheus::Family<prometheus::Counter>& produced_;
  prometheus::Family<prometheus::Counter>& processed_;
  prometheus::Family<prometheus::Gauge>& lag_;
  prometheus::Family<prometheus::Histogram>& processing_;
  prometheus::Family<prometheus::Counter>& commits_;
  prometheus::Histogram& processing_hist_;
  std::unordered_map<std::string, prometheus::Counter*> consumed_by_topic_;
  std::unordered_map<std::string, prometheus::Counter*> produced_by_topic_;
  std::unordered_map<std::string, prometheus::Counter*> by_outcome_;
  std::map<std::pair<std::string, std::int32_t>, prometheus::Gauge*> lag_by_partition_;
  prometheus::Counter& commit_ok_;
  prometheus::Counter& commit_failed_;
  prometheus::Gauge& paused_gauge_;
  prometheus::Gauge& gate_keys_;
  prometheus::Counter& gate_overflow_;
  std::uint64_t gate_overflow_seen_ = 0;
  KafkaStatsGauges kafka_stats_;
};

}  // namespace orderflow::runtime
