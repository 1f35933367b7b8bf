#include "orderflow/runtime/stage_service.h"

#include <spdlog/spdlog.h>

#include <thread>

#include "orderflow/runtime/http_server.h"
#include "orderflow/runtime/shutdown.h"

namespace orderflow::runtime {

void add_stage_options(CommandLine& cli) {
  cli.options.add_options()
      ("commit-interval-ms", po::value<int>()->default_value(1000)->value_name("MS"),
       "commit completed offsets this often")
      ("retry-backoff-ms", po::value<int>()->default_value(1000)->value_name("MS"),
       "first retry delay; doubles per attempt")
      ("max-attempts", po::value<int>()->default_value(4)->value_name("N"),
       "attempts before a transient failure is dead-lettered")
      ("retry-ordering", po::value<std::string>()->default_value("none")->value_name("MODE"),
       "none|key: with key, later records of a key in retry follow it, keeping per-key order")
      ("retry-ordering-max-keys", po::value<int>()->default_value(100000)->value_name("N"),
       "bound of the retry-ordering key map")
      ("max-record-bytes", po::value<int>()->default_value(1048576)->value_name("BYTES"),
       "larger records are dead-lettered as poison")
      ("drain-timeout-ms", po::value<int>()->default_value(30000)->value_name("MS"),
       "on shutdown/rebalance, wait this long for deliveries")
      ("startup-timeout-s", po::value<int>()->default_value(30)->value_name("S"),
       "exit 1 when the brokers do not answer within this")
      ("instance-id", po::value<std::string>()->default_value("0")->value_name("ID"),
       "exactly-once: stable per instance; transactional.id = <group-id>-<instance-id>")
      ("txn-max-records", po::value<int>()->default_value(2000)->value_name("N"),
       "exactly-once: records per transaction")
      ("txn-max-ms", po::value<int>()->default_value(100)->value_name("MS"), "exactly-once: longest transaction");
  cli.env["commit-interval-ms"] = "COMMIT_INTERVAL_MS";
  cli.env["retry-backoff-ms"] = "RETRY_BACKOFF_MS";
  cli.env["max-attempts"] = "MAX_ATTEMPTS";
  cli.env["retry-ordering"] = "RETRY_ORDERING";
  cli.env["instance-id"] = "INSTANCE_ID";
}

namespace {
int positive(const po::variables_map& vm, const char* name, int min = 1) {
  const int v = vm[name].as<int>();
  if (v < min) throw UsageError(std::string("--") + name + ": must be at least " + std::to_string(min) + ", got " + std::to_string(v));
  return v;
}
}  // namespace

messaging::StageOptions read_stage_options(const po::variables_map& vm, const CommonOptions& common,
                                           const std::string& service,
                                           std::vector<std::string> input_topics) {
  messaging::StageOptions o;
  o.service = service;
  o.group_id = common.group_id;
  o.input_topics = std::move(input_topics);
  o.kafka = kafka_properties(common);
  o.commit_interval = std::chrono::milliseconds(positive(vm, "commit-interval-ms"));
  o.retry.backoff = std::chrono::milliseconds(positive(vm, "retry-backoff-ms", 0));
  o.retry.max_attempts = positive(vm, "max-attempts");
  const auto ordering = vm["retry-ordering"].as<std::string>();
  if (ordering == "none") {
    o.retry_ordering = messaging::RetryOrdering::None;
  } else if (ordering == "key") {
    o.retry_ordering = messaging::RetryOrdering::Key;
  } else {
    throw UsageError("--retry-ordering: must be none or key, got '" + ordering + "'");
  }
  o.key_gate_max_keys = static_cast<std::size_t>(positive(vm, "retry-ordering-max-keys"));
  o.max_record_bytes = static_cast<std::size_t>(positive(vm, "max-record-bytes"));
  o.drain_timeout = std::chrono::milliseconds(positive(vm, "drain-timeout-ms", 0));
  o.guarantee = common.guarantee == "exactly-once" ? messaging::Guarantee::ExactlyOnce
                                                   : messaging::Guarantee::AtLeastOnce;
  o.instance_id = vm["instance-id"].as<std::string>();
  if (o.instance_id.empty()) throw UsageError("--instance-id: must not be empty");
  o.txn_max_records = static_cast<std::size_t>(positive(vm, "txn-max-records"));
  o.txn_max_ms = std::chrono::milliseconds(positive(vm, "txn-max-ms"));
  o.startup_timeout = std::chrono::seconds(positive(vm, "startup-timeout-s"));
  return o;
}

bool wait_for_broker(const messaging::KafkaProperties& props, std::chrono::seconds timeout) {
  messaging::KafkaProperties p = props;
  p.set("log_level", "0");  // the connection refusals are summarised below, not logged one by one
  auto conf = messaging::make_conf(p);
  std::string err;
  std::unique_ptr<RdKafka::Producer> probe(RdKafka::Producer::create(conf.get(), err));
  if (!probe) throw messaging::ConfigError(err);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    RdKafka::Metadata* md = nullptr;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    const auto rc = probe->metadata(false, nullptr, &md, static_cast<int>(std::max<long>(100, std::min<long>(2000, left.count()))));
    std::unique_ptr<RdKafka::Metadata> owned(md);
    if (rc == RdKafka::ERR_NO_ERROR) return true;
  }
  const auto* servers = props.find("bootstrap.servers");
  spdlog::error("cannot reach Kafka at {} within {} s", servers ? *servers : "?", timeout.count());
  return false;
}

int check_stage_config(const CommandLine& cli, const po::variables_map& vm, messaging::StageOptions options) {
  // As run_stage_service() sets it (statistics.interval.ms), so that the checked clients equal the real ones.
  options.on_stats = [](std::string_view) {};
  return check_config(cli, vm, [&options] { messaging::StageRunner::check_config(options); });
}

int run_stage_service(const messaging::StageOptions& options, const CommonOptions& common,
                      messaging::RecordHandler& handler, ServiceMetrics& metrics) {
  ShutdownSignal shutdown;
  std::atomic<messaging::StageRunner*> current{nullptr};
  std::unique_ptr<HttpServer> http;
  try {
    http = std::make_unique<HttpServer>(common.metrics_address, metrics.registry_ptr(),
                                        [&current, &metrics]() -> std::optional<std::string> {
                                          auto* r = current.load();
                                          if (r == nullptr) return std::string("not ready: waiting for the Kafka brokers");
                                          if (auto problem = metrics.broker_problem()) return problem;
                                          if (r->ready()) return std::nullopt;
                                          return std::string("not ready: no partitions assigned yet (joining the group)");
                                        });
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return 1;
  }
  if (http->enabled()) spdlog::info("metrics on http://{}/metrics", common.metrics_address);
  spdlog::info("kafka: {}", options.kafka.to_log_string());
  messaging::StageOptions with_stats = options;
  with_stats.on_stats = [&metrics](std::string_view json) { metrics.kafka_stats(json); };
  std::unique_ptr<messaging::StageRunner> runner;
  try {
    // The runner first (it only creates the clients): a configuration librdkafka or our checks reject is
    // a usage error before any waiting for brokers.
    runner = std::make_unique<messaging::StageRunner>(with_stats, handler, metrics);
    if (!wait_for_broker(options.kafka, options.startup_timeout)) return 1;
  } catch (const messaging::ConfigError& e) {
    spdlog::error("{}", e.what());
    return 2;
  }
  current = runner.get();
  const int rc = runner->run(shutdown.flag());
  current = nullptr;
  return rc;
}

}  // namespace orderflow::runtime
