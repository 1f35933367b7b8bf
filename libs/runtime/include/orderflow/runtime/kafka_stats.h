// librdkafka statistics (`statistics.interval.ms`, delivered as EVENT_STATS JSON) turned into gauges:
// orderflow_producer_queue_messages and orderflow_broker_rtt_seconds{client,broker}, and into the
// broker-connectivity part of readiness (broker_problem()). offer() runs in librdkafka's callback (the
// stage's poll thread) and only copies the latest document per client type; the documents are parsed
// when someone asks — refresh() at scrape time, broker_problem() at a readiness probe, both on the
// metrics HTTP thread. All thread-safe. Malformed documents are ignored (counted in
// orderflow_kafka_stats_errors_total).
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace orderflow::runtime {

// What the gauges need from one statistics document.
struct KafkaStatsSample {
  std::string type;                 // "producer" | "consumer"
  std::int64_t queue_messages = 0;  // msg_cnt: messages in the producer's queues
  std::vector<std::pair<std::string, double>> broker_rtt_seconds;  // learned brokers with samples
  // Connection states over every broker entry but the logical ones (bootstrap entries included):
  int brokers_up = 0;       // state UP: a working connection
  int brokers_failing = 0;  // neither UP nor INIT (INIT = never needed, sparse connections): down or retrying
};

// nullopt when `json` is not a librdkafka statistics object.
std::optional<KafkaStatsSample> parse_kafka_stats(std::string_view json);

class KafkaStatsGauges {
 public:
  KafkaStatsGauges(prometheus::Registry& registry, const std::string& service);

  void offer(std::string_view json);  // cheap: one string copy under a mutex
  void refresh();                     // parses what was offered since the last call into the gauges
  // Readiness: a one-line reason when the latest statistics of the consumer (or, without one, of any
  // client) show no working connection to any broker while it is trying to reach one; nullopt when
  // connected, idle, or before any statistics. Parses what was offered since the last call first.
  [[nodiscard]] std::optional<std::string> broker_problem();

 private:
  void absorb_pending();  // with state_mutex_ held

  std::mutex pending_mutex_;
  std::map<std::string, std::string, std::less<>> pending_;  // client type → latest document
  std::mutex state_mutex_;
  std::map<std::string, KafkaStatsSample, std::less<>> latest_;  // client type → latest parsed sample
  prometheus::Family<prometheus::Gauge>& queue_family_;
  prometheus::Family<prometheus::Gauge>& rtt_family_;
  prometheus::Counter& errors_;
  prometheus::Gauge* queue_ = nullptr;
  std::map<std::pair<std::string, std::string>, prometheus::Gauge*> rtt_;  // (client, broker)
};

}  // namespace orderflow::runtime
