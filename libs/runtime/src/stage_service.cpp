#include "orderflow/runtime/stage_service.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <mutex>
#include <set>
#include <thread>

#include "orderflow/messaging/topic_admin.h"
#include "orderflow/runtime/http_server.h"
#include "orderflow/runtime/logging.h"
#include "orderflow/runtime/shutdown.h"

namespace orderflow::runtime {

void add_stage_options(CommandLine& cli) {
  // The defaults are StageOptions' initial values, each spelled there once.
  const messaging::StageOptions d;
  const auto commit_interval_ms = static_cast<int>(d.commit_interval.count());
  const auto retry_backoff_ms = static_cast<int>(d.retry.backoff.count());
  const auto max_record_bytes = static_cast<int>(d.max_record_bytes);
  const auto drain_timeout_ms = static_cast<int>(d.drain_timeout.count());
  const auto startup_timeout_s = static_cast<int>(d.startup_timeout.count());
  const auto txn_max_records = static_cast<int>(d.txn_max_records);
  const auto txn_max_ms = static_cast<int>(d.txn_max_ms.count());
  // clang-format off
  cli.options.add_options()
      ("commit-interval-ms", po::value<int>()->default_value(commit_interval_ms)->value_name("MS"),
       "commit completed offsets this often")
      ("retry-backoff-ms", po::value<int>()->default_value(retry_backoff_ms)->value_name("MS"),
       "first retry delay; doubles per attempt")
      ("max-attempts", po::value<int>()->default_value(d.retry.max_attempts)->value_name("N"),
       "attempts before a transient failure is dead-lettered")
      ("retry-ordering", po::value<std::string>()->default_value("none")->value_name("MODE"),
       "none|key: with key, later records of a key in retry follow it, keeping per-key order across "
       "instances and rebalances (range assignor; the inputs and <group-id>.retry need one partition count)")
      ("retry-ordering-max-keys",
       po::value<int>()->default_value(static_cast<int>(messaging::KeyGate::kDefaultMaxKeys))->value_name("N"),
       "bound of the retry-ordering key map")
      ("max-record-bytes", po::value<int>()->default_value(max_record_bytes)->value_name("BYTES"),
       "larger records are dead-lettered as poison")
      ("drain-timeout-ms", po::value<int>()->default_value(drain_timeout_ms)->value_name("MS"),
       "on shutdown/rebalance, wait this long for deliveries")
      ("startup-timeout-s", po::value<int>()->default_value(startup_timeout_s)->value_name("S"),
       "exit 1 when the brokers do not answer within this")
      ("instance-id", po::value<std::string>()->default_value(d.instance_id)->value_name("ID"),
       "exactly-once: stable per instance; transactional.id = <group-id>-<instance-id>")
      ("txn-max-records", po::value<int>()->default_value(txn_max_records)->value_name("N"),
       "exactly-once: records per transaction")
      ("txn-max-ms", po::value<int>()->default_value(txn_max_ms)->value_name("MS"),
       "exactly-once: longest transaction")
      ("create-topics", po::bool_switch(),
       "create a missing <group-id>.retry or <group-id>.dlq topic at start (Admin API: as many partitions as "
       "the input topic, the broker's default replication factor) instead of waiting for it, e.g. "
       "--group-id canary --create-topics");
  // clang-format on
  cli.env["commit-interval-ms"] = "COMMIT_INTERVAL_MS";
  cli.env["retry-backoff-ms"] = "RETRY_BACKOFF_MS";
  cli.env["max-attempts"] = "MAX_ATTEMPTS";
  cli.env["retry-ordering"] = "RETRY_ORDERING";
  cli.env["instance-id"] = "INSTANCE_ID";
  cli.env["create-topics"] = "ORDERFLOW_CREATE_TOPICS";
}

namespace {
int positive(const po::variables_map& vm, const char* name, int min = 1) {
  const int v = vm[name].as<int>();
  if (v < min)
    throw UsageError(std::string("--") + name + ": must be at least " + std::to_string(min) + ", got " +
                     std::to_string(v));
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
  o.create_topics = vm.count("create-topics") != 0 && vm["create-topics"].as<bool>();
  return o;
}

bool wait_for_broker(const messaging::KafkaProperties& props, std::chrono::seconds timeout,
                     const std::function<void(const std::string&)>& on_problem, std::string* failure) {
  messaging::KafkaProperties p = props;
  // librdkafka would log each failed connection itself (the same failure again every 30 s while it
  // repeats); its error events carry the same, and are reported below: once as a warning, then on /readyz
  // and in the final error.
  p.set("log_level", "0");
  auto conf = messaging::make_conf(p);
  messaging::LastClientError errors;
  std::string err;
  if (conf->set("event_cb", &errors, err) != RdKafka::Conf::CONF_OK) throw messaging::ConfigError(err);
  std::unique_ptr<RdKafka::Producer> probe(RdKafka::Producer::create(conf.get(), err));
  if (!probe) throw messaging::ConfigError(err);
  const auto* servers = props.find("bootstrap.servers");
  const std::string where = servers != nullptr ? *servers : "?";
  std::string reason;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    RdKafka::Metadata* md = nullptr;
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    const auto rc = probe->metadata(
        false, nullptr, &md, static_cast<int>(std::max<long>(100, std::min<long>(2000, left.count()))));
    std::unique_ptr<RdKafka::Metadata> owned(md);
    if (rc == RdKafka::ERR_NO_ERROR) return true;
    probe->poll(0);  // serves the error events to `errors`
    const auto last = errors.get();
    if (!last) continue;
    const auto now = messaging::describe_client_error(props, last->first, last->second, RdKafka::version());
    if (now == reason) continue;
    // Once, not per attempt: the failure repeats at every reconnect until the timeout, and the final
    // error below gives the reason as it is then.
    if (reason.empty()) {
      spdlog::warn("cannot connect to Kafka at {} yet (retrying for up to {} s): {}", where, timeout.count(),
                   now);
    }
    reason = now;
    if (on_problem) on_problem(reason);
  }
  std::string message = fmt::format("cannot reach Kafka at {} within {} s", where, timeout.count());
  if (!reason.empty()) message += ": " + reason;
  if (failure != nullptr) {
    *failure = std::move(message);
  } else {
    spdlog::error("{}", message);
  }
  return false;
}

namespace {

// How often a start waiting for missing topics looks again (one all-topics metadata request each time).
constexpr auto kTopicRecheck = std::chrono::seconds(5);
constexpr auto kTopicRequestTimeout = std::chrono::seconds(5);
// The missing-topics warning is repeated this often while it does not change, so it stays visible in logs.
constexpr auto kTopicWarningRepeat = std::chrono::seconds(60);

// Sleeps up to `d`; false when `stop` was raised meanwhile.
bool sleep_unless_stopped(std::chrono::milliseconds d, const std::atomic<bool>& stop) {
  const auto until = std::chrono::steady_clock::now() + d;
  while (!stop.load()) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= until) return true;
    std::this_thread::sleep_for(
        std::min<std::chrono::steady_clock::duration>(until - now, std::chrono::milliseconds(100)));
  }
  return false;
}

// The readiness reason (one line) for `missing` topics, with the command that creates each.
std::string missing_topics_reason(const std::vector<std::string>& missing, int partitions,
                                  const messaging::StageOptions& options,
                                  const std::vector<std::string>& create_failures) {
  const auto* servers = options.kafka.find("bootstrap.servers");
  std::vector<std::string> commands;
  commands.reserve(missing.size());
  for (const auto& t : missing) {
    commands.push_back(fmt::format("kafka-topics.sh --bootstrap-server {} --create --topic {}{}",
                                   servers != nullptr ? *servers : "HOST:9092", t,
                                   partitions > 0 ? fmt::format(" --partitions {}", partitions) : ""));
  }
  const bool own = std::any_of(missing.begin(), missing.end(), [&](const std::string& t) {
    return t == options.retry_topic() || t == options.dlq_topic();
  });
  std::string reason = fmt::format(
      "not ready: missing topic(s) {} (this service reads or writes them; nothing is consumed until they "
      "exist): "
      "create them, e.g. `{}`",
      fmt::join(missing, ", "), fmt::join(commands, "; "));
  if (!own) return reason;
  if (!options.create_topics) {
    reason +=
        ", or start with --create-topics (ORDERFLOW_CREATE_TOPICS=true) to have the retry and dead-letter "
        "topics created";
  } else if (!create_failures.empty()) {
    reason += fmt::format("; --create-topics failed: {}", fmt::join(create_failures, "; "));
  } else if (partitions == 0) {
    reason += "; --create-topics waits for an input topic (the new topics take its partition count)";
  }
  return reason;
}

// --retry-ordering key: the readiness reason when the inputs and the retry topic differ in partition count
// (nullopt when they agree). Ordering rests on input partition p and retry partition p being one instance's
// (range assignor) and holding all records of a key, which needs one partition count for all of them.
std::optional<std::string> partition_count_mismatch(const messaging::StageOptions& options,
                                                    const std::map<std::string, int>& existing) {
  if (options.retry_ordering != messaging::RetryOrdering::Key) return std::nullopt;
  std::vector<std::string> counts;
  std::set<int> distinct;
  std::vector<std::string> topics = options.input_topics;
  topics.push_back(options.retry_topic());
  for (const auto& t : topics) {
    const auto it = existing.find(t);
    if (it == existing.end()) continue;
    distinct.insert(it->second);
    counts.push_back(fmt::format("{} {}", t, it->second));
  }
  if (distinct.size() <= 1) return std::nullopt;
  return fmt::format(
      "not ready: --retry-ordering key needs the input and retry topics to have one partition count, "
      "found {}: give {} as many partitions as the input (kafka-topics.sh --alter --partitions N), or run "
      "without --retry-ordering key",
      fmt::join(counts, ", "), options.retry_topic());
}

// Start-up check that every topic the stage reads or writes exists (inputs, outputs, retry, dead letters),
// so that a missing one is reported on /readyz before anything is consumed, not found at the first record
// that needs it (a dead letter that cannot be written stops the stage with that record uncommitted, and it
// would stop again after every restart). Waits, re-checking every kTopicRecheck, until they exist or `stop`
// is raised (false); with --create-topics, creates the missing retry and dead-letter topics first.
// `set_reason` publishes the readiness reason (nullopt once the topics exist).
bool wait_for_topics(const messaging::StageOptions& options, const std::atomic<bool>& stop,
                     const std::function<void(std::optional<std::string>)>& set_reason) {
  messaging::TopicAdmin admin(options.kafka);
  std::vector<std::string> needed;
  for (const auto* list : {&options.input_topics, &options.output_topics}) {
    for (const auto& t : *list) {
      if (std::find(needed.begin(), needed.end(), t) == needed.end()) needed.push_back(t);
    }
  }
  const std::vector<std::string> own = {options.retry_topic(), options.dlq_topic()};
  needed.insert(needed.end(), own.begin(), own.end());
  std::set<std::string> created;  // by --create-topics (or found created meanwhile): never asked for again
  std::string last_reason;
  auto next_warning = std::chrono::steady_clock::time_point::min();
  // Publishes why the start waits, warns (again every kTopicWarningRepeat while unchanged), then waits
  // kTopicRecheck; false when stopped meanwhile.
  const auto report_and_wait = [&](const std::string& reason) {
    set_reason(reason);
    const auto now = std::chrono::steady_clock::now();
    if (reason != last_reason || now >= next_warning) {
      spdlog::warn("{}", reason);
      next_warning = now + kTopicWarningRepeat;
    }
    last_reason = reason;
    return sleep_unless_stopped(kTopicRecheck, stop);
  };
  while (!stop.load()) {
    std::string error;
    const auto existing = admin.partition_counts(kTopicRequestTimeout, &error);
    std::string reason;
    if (!existing) {
      reason = "not ready: waiting for the Kafka brokers (topic metadata: " + error + ")";
    } else {
      std::vector<std::string> missing;
      for (const auto& t : needed) {
        if (existing->count(t) == 0) missing.push_back(t);
      }
      if (missing.empty()) {
        if (const auto mismatch = partition_count_mismatch(options, *existing)) {
          if (!report_and_wait(*mismatch)) break;
          continue;
        }
        if (!last_reason.empty()) spdlog::info("every topic of {} exists now: starting", options.service);
        set_reason(std::nullopt);
        return true;
      }
      // The new topics take the input's partition count, so that the retry topic spreads like the input.
      int partitions = 0;
      for (const auto& t : options.input_topics) {
        if (const auto it = existing->find(t); it != existing->end())
          partitions = std::max(partitions, it->second);
      }
      std::vector<std::string> failures;
      std::vector<std::string> to_create;
      for (const auto& t : missing) {
        if (std::find(own.begin(), own.end(), t) != own.end() && created.count(t) == 0)
          to_create.push_back(t);
      }
      if (options.create_topics && partitions > 0 && !to_create.empty()) {
        set_reason(fmt::format("not ready: creating the missing topic(s) {} (--create-topics)",
                               fmt::join(to_create, ", ")));
        for (const auto& c : admin.create(to_create, partitions, kTopicRequestTimeout, &stop)) {
          if (!c.error.empty()) {
            failures.push_back(c.topic + ": " + c.error);
            continue;
          }
          created.insert(c.topic);
          if (c.existed) {
            spdlog::info("topic {} was created meanwhile by someone else", c.topic);
          } else {
            spdlog::info(
                "created topic {} ({} partitions, the broker's default replication factor; --create-topics)",
                c.topic, partitions);
          }
        }
        if (stop.load()) break;
        if (failures.empty()) {
          // Look again soon: a new topic reaches every broker's metadata within moments.
          set_reason(fmt::format("not ready: created the topic(s) {}, waiting for them in the metadata",
                                 fmt::join(to_create, ", ")));
          if (!sleep_unless_stopped(std::chrono::milliseconds(500), stop)) break;
          continue;
        }
      }
      reason = missing_topics_reason(missing, partitions, options, failures);
    }
    if (!report_and_wait(reason)) break;
  }
  return false;
}

}  // namespace

int check_stage_config(const CommandLine& cli, const po::variables_map& vm, messaging::StageOptions options) {
  // As run_stage_service() sets it (statistics.interval.ms), so that the checked clients equal the real ones.
  options.on_stats = [](std::string_view) {};
  return check_config(cli, vm, [&options] { messaging::StageRunner::check_config(options); });
}

int run_stage_service(const messaging::StageOptions& options, const CommonOptions& common,
                      messaging::RecordHandler& handler, ServiceMetrics& metrics) {
  ShutdownSignal shutdown;
  std::atomic<messaging::StageRunner*> current{nullptr};
  // Why the start is not done yet (missing topics), for /readyz on the HTTP thread.
  std::mutex startup_mutex;
  std::optional<std::string> startup_reason;
  std::unique_ptr<HttpServer> http;
  try {
    http = std::make_unique<HttpServer>(
        common.metrics_address, metrics.registry_ptr(), [&]() -> std::optional<std::string> {
          auto* r = current.load();
          if (r == nullptr) {
            const std::lock_guard lock(startup_mutex);
            return startup_reason.value_or("not ready: waiting for the Kafka brokers");
          }
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
    // The configuration first, as the runner's clients would check it: one librdkafka or our checks reject
    // is a usage error before any waiting for brokers. The clients themselves are created once the brokers
    // answered: until then the wait below is the one client that connects and the one that reports why it
    // cannot (an authentication or TLS failure once, not three clients' error lines at every reconnect).
    messaging::StageRunner::check_config(with_stats, /*log_warnings=*/false);
    if (!wait_for_broker(options.kafka, options.startup_timeout, [&](const std::string& problem) {
          const std::lock_guard lock(startup_mutex);
          startup_reason = "not ready: waiting for the Kafka brokers (" + problem + ")";
        })) {
      return 1;
    }
    runner = std::make_unique<messaging::StageRunner>(with_stats, handler, metrics);
    // A missing topic is waited for (readiness 503 naming it), not an exit: it is fixed on the broker side
    // while the service runs, as a broker lost after the start is (docs/contract.md §4 Topics,
    // §11 Exit codes).
    const bool topics = wait_for_topics(options, shutdown.flag(), [&](std::optional<std::string> reason) {
      const std::lock_guard lock(startup_mutex);
      startup_reason = std::move(reason);
    });
    if (!topics) {
      spdlog::info("{} stopped before consuming (exit code 0)", options.service);
      return 0;
    }
  } catch (const messaging::ConfigError& e) {
    spdlog::error("{}", e.what());
    return 2;
  }
  current = runner.get();
  const int rc = runner->run(shutdown.flag());
  current = nullptr;
  return rc;
}

int stage_service_main(int argc, const char* const* argv, const StageService& service) {
  CommandLine cli;
  cli.program = service.program;
  cli.usage = service.program + " [options]";
  cli.description = service.description;
  cli.example = service.example;
  add_common_options(cli, {service.metrics_address, true, service.program});
  add_stage_options(cli);
  service.add_options(cli);
  cli.env.insert(service.env.begin(), service.env.end());
  auto parsed = parse_command_line(cli, argc, argv);
  if (parsed.exit_code) return *parsed.exit_code;
  const auto& vm = parsed.vm;
  CommonOptions common;
  messaging::StageOptions stage;
  HandlerFactory make_handler;
  try {
    common = read_common_options(vm, true);
    stage = read_stage_options(vm, common, service.program, {});
    make_handler = service.configure(vm, stage);
  } catch (const UsageError& e) {
    return usage_error(cli.program, e.what());
  }
  setup_logging(service.program, common.log_level, common.log_format);
  if (common.check_config) return check_stage_config(cli, vm, stage);
  ServiceMetrics metrics(service.program);
  const auto handler = make_handler(metrics);
  return run_stage_service(stage, common, *handler, metrics);
}

}  // namespace orderflow::runtime
