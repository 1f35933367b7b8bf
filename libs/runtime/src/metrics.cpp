#include "orderflow/runtime/metrics.h"

#include "orderflow/version.h"

namespace orderflow::runtime {

prometheus::Histogram::BucketBoundaries latency_buckets() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
          0.05,   0.1,     0.25,   0.5,   1.0,    2.5,   5.0,  10.0};
}

namespace detail {

std::vector<prometheus::MetricFamily> ScrapeRegistry::Collect() const {
  {
    const std::lock_guard lock(hook_mutex_);
    if (before_collect_) before_collect_();
  }
  return prometheus::Registry::Collect();
}

void ScrapeRegistry::set_before_collect(std::function<void()> hook) {
  const std::lock_guard lock(hook_mutex_);
  before_collect_ = std::move(hook);
}

}  // namespace detail

namespace {
using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;
}  // namespace

ServiceMetrics::ServiceMetrics(std::string service)
    : service_(std::move(service)),
      scrape_registry_(std::make_shared<detail::ScrapeRegistry>()),
      registry_(scrape_registry_),
      consumed_(BuildCounter()
                    .Name("orderflow_messages_consumed_total")
                    .Help("Records consumed, by topic")
                    .Labels({{"service", service_}})
                    .Register(*registry_)),
      produced_(BuildCounter()
                    .Name("orderflow_messages_produced_total")
                    .Help("Records produced and acknowledged by the broker, by topic")
                    .Labels({{"service", service_}})
                    .Register(*registry_)),
      processed_(BuildCounter()
                     .Name("orderflow_events_processed_total")
                     .Help("Input records completed, by outcome (success, declined, retried, dead_lettered)")
                     .Labels({{"service", service_}})
                     .Register(*registry_)),
      lag_(BuildGauge()
               .Name("orderflow_consumer_lag")
               .Help("Records between the consumer position and the high watermark")
               .Labels({{"service", service_}})
               .Register(*registry_)),
      processing_(BuildHistogram()
                      .Name("orderflow_processing_seconds")
                      .Help("Time to process one record (parse, validate, decide, enqueue)")
                      .Labels({{"service", service_}})
                      .Register(*registry_)),
      commits_(BuildCounter()
                   .Name("orderflow_offset_commits_total")
                   .Help("Offset commits, by result")
                   .Labels({{"service", service_}})
                   .Register(*registry_)),
      processing_hist_(processing_.Add({}, latency_buckets())),
      commit_ok_(commits_.Add({{"result", "ok"}})),
      commit_failed_(commits_.Add({{"result", "failed"}})),
      paused_gauge_(gauge("orderflow_retry_paused_partitions",
                          "Retry partitions paused until their head record is due")),
      gate_keys_(
          gauge("orderflow_retry_ordering_keys", "Keys held on the retry path (--retry-ordering key)")),
      gate_overflow_(counter("orderflow_retry_ordering_overflow_total",
                             "Keys not gated because the retry-ordering bound was hit")),
      kafka_stats_(*registry_, service_) {
  auto& build_info = BuildGauge()
                         .Name("orderflow_build_info")
                         .Help("Build information")
                         .Labels({{"service", service_}})
                         .Register(*registry_);
  build_info.Add({{"version", ORDERFLOW_VERSION}}).Set(1);
  for (const char* o : {"success", "declined", "retried", "dead_lettered"}) {
    by_outcome_[o] = &processed_.Add({{"outcome", o}});
  }
  scrape_registry_->set_before_collect([this] { kafka_stats_.refresh(); });
}

// The HTTP server may hold the registry a little longer than this object lives.
ServiceMetrics::~ServiceMetrics() {
  scrape_registry_->set_before_collect({});
}

prometheus::Counter& ServiceMetrics::counter(const std::string& name, const std::string& help,
                                             const std::map<std::string, std::string>& labels) {
  auto& fam = BuildCounter().Name(name).Help(help).Labels({{"service", service_}}).Register(*registry_);
  return fam.Add(labels);
}

prometheus::Gauge& ServiceMetrics::gauge(const std::string& name, const std::string& help,
                                         const std::map<std::string, std::string>& labels) {
  auto& fam = BuildGauge().Name(name).Help(help).Labels({{"service", service_}}).Register(*registry_);
  return fam.Add(labels);
}

prometheus::Counter& ServiceMetrics::cached(std::unordered_map<std::string, prometheus::Counter*>& cache,
                                            prometheus::Family<prometheus::Counter>& family,
                                            const char* label, std::string_view value) {
  // Heterogeneous lookup is C++20 for unordered_map only with a transparent hash; topics are few,
  // so a linear scan over the (tiny) cache avoids the per-record string allocation.
  for (auto& [k, c] : cache) {
    if (k == value) return *c;
  }
  auto* c = &family.Add({{label, std::string(value)}});
  cache.emplace(std::string(value), c);
  return *c;
}

void ServiceMetrics::consumed(std::string_view topic) {
  cached(consumed_by_topic_, consumed_, "topic", topic).Increment();
}
void ServiceMetrics::produced(std::string_view topic) {
  cached(produced_by_topic_, produced_, "topic", topic).Increment();
}
void ServiceMetrics::outcome(std::string_view outcome) {
  if (outcome.empty()) return;
  cached(by_outcome_, processed_, "outcome", outcome).Increment();
}
void ServiceMetrics::processing_seconds(double seconds) {
  processing_hist_.Observe(seconds);
}
void ServiceMetrics::commit_result(bool ok) {
  (ok ? commit_ok_ : commit_failed_).Increment();
}

void ServiceMetrics::lag(std::string_view topic, std::int32_t partition, std::int64_t lag) {
  if (lag < 0) return;
  auto key = std::make_pair(std::string(topic), partition);
  auto it = lag_by_partition_.find(key);
  if (it == lag_by_partition_.end()) {
    auto* g = &lag_.Add({{"topic", key.first}, {"partition", std::to_string(partition)}});
    it = lag_by_partition_.emplace(std::move(key), g).first;
  }
  it->second->Set(static_cast<double>(lag));
}

void ServiceMetrics::partition_revoked(std::string_view topic, std::int32_t partition) {
  auto it = lag_by_partition_.find(std::make_pair(std::string(topic), partition));
  if (it == lag_by_partition_.end()) return;
  lag_.Remove(it->second);
  lag_by_partition_.erase(it);
}

void ServiceMetrics::retry_paused(std::size_t paused) {
  paused_gauge_.Set(static_cast<double>(paused));
}

void ServiceMetrics::key_gate(std::size_t keys, std::uint64_t overflowed) {
  gate_keys_.Set(static_cast<double>(keys));
  if (overflowed > gate_overflow_seen_) {
    gate_overflow_.Increment(static_cast<double>(overflowed - gate_overflow_seen_));
    gate_overflow_seen_ = overflowed;
  }
}

}  // namespace orderflow::runtime
