// lag-exporter: consumer-group lag from the brokers' committed offsets, as Prometheus metrics. It keeps
// reporting when every consumer of a group is down (their own orderflow_consumer_lag is gone then).
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <map>
#include <mutex>
#include <thread>
#include <tuple>

#include "orderflow/lag/lag_reader.h"
#include "orderflow/runtime/cli.h"
#include "orderflow/runtime/http_server.h"
#include "orderflow/runtime/logging.h"
#include "orderflow/runtime/shutdown.h"
#include "orderflow/version.h"

using namespace orderflow;
namespace po = runtime::po;
using Clock = std::chrono::steady_clock;

namespace {

// The exporter's families and the series it has published, so that a partition or group that no longer
// appears is removed instead of reporting its last value forever.
class LagMetrics {
 public:
  explicit LagMetrics(prometheus::Registry& registry)
      : lag_(prometheus::BuildGauge()
                 .Name("orderflow_group_lag")
                 .Help("Records a consumer group has still to consume: high watermark - committed offset "
                       "(log start "
                       "offset without a commit), read from the brokers")
                 .Register(registry)),
        refreshes_(prometheus::BuildCounter()
                       .Name("orderflow_lag_exporter_refreshes_total")
                       .Help("Reads of a group's committed offsets and watermarks, by result (ok|error)")
                       .Register(registry)),
        last_ok_(prometheus::BuildGauge()
                     .Name("orderflow_lag_exporter_last_success_timestamp_seconds")
                     .Help("Unix time of the last complete read of a group")
                     .Register(registry)) {
    prometheus::BuildGauge()
        .Name("orderflow_build_info")
        .Help("Build information")
        .Labels({{"service", "lag-exporter"}})
        .Register(registry)
        .Add({{"version", ORDERFLOW_VERSION}})
        .Set(1);
  }

  void update(const lag::GroupLag& g) {
    refreshes_.Add({{"group", g.group}, {"result", g.error.empty() ? "ok" : "error"}}).Increment();
    // A failed read keeps the group's last figures (its last_success timestamp ages and /readyz says why).
    if (!g.error.empty()) return;
    last_ok_.Add({{"group", g.group}}).SetToCurrentTime();
    std::map<Key, prometheus::Gauge*> now;
    for (const auto& p : g.partitions) {
      Key key{g.group, p.topic, p.partition};
      auto& gauge =
          lag_.Add({{"group", g.group}, {"topic", p.topic}, {"partition", std::to_string(p.partition)}});
      gauge.Set(static_cast<double>(p.lag()));
      now.emplace(std::move(key), &gauge);
    }
    for (auto it = series_.begin(); it != series_.end();) {
      if (std::get<0>(it->first) == g.group && now.count(it->first) == 0) {
        lag_.Remove(it->second);
        it = series_.erase(it);
      } else {
        ++it;
      }
    }
    series_.merge(now);
  }

 private:
  using Key = std::tuple<std::string, std::string, std::int32_t>;
  prometheus::Family<prometheus::Gauge>& lag_;
  prometheus::Family<prometheus::Counter>& refreshes_;
  prometheus::Family<prometheus::Gauge>& last_ok_;
  std::map<Key, prometheus::Gauge*> series_;
};

}  // namespace

int main(int argc, char** argv) {
  runtime::CommandLine cli;
  cli.program = "lag-exporter";
  cli.usage =
      "lag-exporter [--groups GROUP[:TOPIC+…],…] [--interval-ms MS] [--brokers HOST:PORT,…] [options]";
  cli.description =
      "Publishes the lag of consumer groups as orderflow_group_lag{group,topic,partition} on /metrics: for\n"
      "every partition of the topics a group consumes, the high watermark minus the committed offset (minus\n"
      "the log start offset where the group has no commit). It reads the brokers (Admin API\n"
      "ListConsumerGroupOffsets, ListOffsets) without joining the groups, so the figure stays when every\n"
      "consumer of a group is down — when the services' own orderflow_consumer_lag is gone. /readyz is 503\n"
      "until every group was read, and while the last read of one failed (its figures are kept; the reason\n"
      "is the body).\n"
      "\n"
      "Exit codes: 0 stopped by SIGINT/SIGTERM; 1 metrics address unusable; 2 usage.";
  cli.example =
      "lag-exporter --groups payment-service:orders+payment-service.retry --metrics-address 127.0.0.1:9104";
  runtime::add_common_options(cli, {"0.0.0.0:9104", false, ""});
  cli.options.add_options()(
      "groups",
      po::value<std::string>()
          ->default_value("payment-service:orders+payment-service.retry,"
                          "notification-service:orders+payments+notification-service.retry")
          ->value_name("GROUP[:TOPIC+…],…"),
      "consumer groups to watch and the topics each consumes; a group without topics: those it has committed "
      "offsets on (not listed by the mock cluster)")(
      "interval-ms", po::value<int>()->default_value(5000)->value_name("MS"),
      "time between reads; each read is bounded by it too (at most 10 s)");
  cli.env["groups"] = "LAG_GROUPS";
  cli.env["interval-ms"] = "LAG_INTERVAL_MS";

  auto parsed = runtime::parse_command_line(cli, argc, argv);
  if (parsed.exit_code) return *parsed.exit_code;
  const auto& vm = parsed.vm;
  runtime::CommonOptions common;
  messaging::KafkaProperties props;
  std::vector<lag::GroupSpec> groups;
  std::chrono::milliseconds interval{};
  try {
    common = runtime::read_common_options(vm, false);
    props = runtime::kafka_properties(common);
    try {
      groups = lag::parse_group_specs(vm["groups"].as<std::string>());
    } catch (const std::invalid_argument& e) {
      throw runtime::UsageError(std::string("--groups: ") + e.what());
    }
    if (groups.empty()) throw runtime::UsageError("--groups: name at least one consumer group");
    const int ms = vm["interval-ms"].as<int>();
    if (ms < 100) throw runtime::UsageError("--interval-ms: must be at least 100");
    interval = std::chrono::milliseconds(ms);
  } catch (const runtime::UsageError& e) {
    return runtime::usage_error(cli.program, e.what());
  }
  runtime::setup_logging(cli.program, common.log_level, common.log_format);
  if (common.check_config) {
    return runtime::check_config(
        cli, vm, [&props] { messaging::check_client_config(messaging::ClientKind::Producer, props); });
  }

  runtime::ShutdownSignal shutdown;
  std::unique_ptr<lag::LagReader> reader;
  try {
    reader = std::make_unique<lag::LagReader>(props);
  } catch (const messaging::ConfigError& e) {
    spdlog::error("{}", e.what());
    return 2;
  }
  auto registry = std::make_shared<prometheus::Registry>();
  LagMetrics metrics(*registry);
  std::mutex mutex;
  std::optional<std::string> not_ready = std::string("not ready: first read of the groups pending");
  std::unique_ptr<runtime::HttpServer> http;
  try {
    http = std::make_unique<runtime::HttpServer>(common.metrics_address, registry,
                                                 [&]() -> std::optional<std::string> {
                                                   const std::lock_guard<std::mutex> lock(mutex);
                                                   return not_ready;
                                                 });
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return 1;
  }
  spdlog::info("watching groups {} every {} ms", vm["groups"].as<std::string>(), interval.count());

  const auto timeout = std::min<std::chrono::milliseconds>(interval, std::chrono::seconds(10));
  std::map<std::string, std::string> last_error;
  while (!shutdown.requested()) {
    const auto started = Clock::now();
    std::string problem;
    for (const auto& g : reader->read(groups, timeout)) {
      metrics.update(g);
      auto& previous = last_error[g.group];
      if (!g.error.empty()) {
        // Logged when it starts or changes, not at every interval of an outage.
        if (g.error != previous) spdlog::warn("group {}: cannot read its lag: {}", g.group, g.error);
        if (problem.empty()) problem = "not ready: group " + g.group + ": " + g.error;
      } else if (!previous.empty()) {
        spdlog::info("group {}: lag readable again", g.group);
      }
      previous = g.error;
    }
    {
      const std::lock_guard<std::mutex> lock(mutex);
      if (problem.empty()) {
        not_ready.reset();
      } else {
        not_ready = problem;
      }
    }
    // Sliced so that a stop is seen within 100 ms.
    while (!shutdown.requested() && Clock::now() < started + interval) {
      std::this_thread::sleep_for(
          std::min<Clock::duration>(std::chrono::milliseconds(100), started + interval - Clock::now()));
    }
  }
  spdlog::info("stopped");
  return 0;
}
