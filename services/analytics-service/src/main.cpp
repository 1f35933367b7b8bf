// analytics-service: consumes `orders` and `payments`, aggregates them in tumbling event-time windows and
// publishes each closed window to `order-stats`. The windowing, lateness and the commit rule that makes a
// restart count nothing twice are described in orderflow/analytics/window.h; this file wires Kafka, the
// command line, metrics and the HTTP endpoint around it.
//
// With --clickhouse-url, the raw orders and payments and the published windows also go to ClickHouse
// (orderflow/analytics/clickhouse_sink.h); an input offset is committed only once both rules allow it:
// its window was published and its row was written (or dead-lettered).
//
// --guarantee exactly-once: the closed windows, the dead letters and the input offsets of a commit period
// form one Kafka transaction (transactional.id = <group-id>-<instance-id>), so a read_committed reader of
// `order-stats` sees every window once. The offsets sent with a transaction follow the same rule as the
// commits of at-least-once (never past a record of an unpublished window, nor past a row ClickHouse has
// not acknowledged), so a transaction never commits input whose ClickHouse rows are missing. An aborted
// transaction rebuilds the state as a restart does: the windows committed on `order-stats`
// (read_committed) are learned again and the input is re-read from the group's committed offsets.
// ClickHouse is outside the transaction: rows of an aborted transaction may be written again after it,
// and a window row written before an abort is superseded by the committed copy (a higher offset is a
// higher version); ReplacingMergeTree and the README's queries count each once.
//
// One instance per group: a window gathers records of every partition, so two instances would each
// publish a partial window under the same id. A rebalance therefore drops the open windows and rewinds
// the partitions still assigned to their committable offsets, rebuilding the windows from the records.
#include <librdkafka/rdkafkacpp.h>
#include <prometheus/histogram.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "orderflow/analytics/clickhouse_sink.h"
#include "orderflow/analytics/window.h"
#include "orderflow/events/clock.h"
#include "orderflow/events/codec.h"
#include "orderflow/messaging/consumer.h"
#include "orderflow/messaging/kafka_client.h"
#include "orderflow/messaging/kafka_config.h"
#include "orderflow/messaging/producer.h"
#include "orderflow/messaging/retry_policy.h"
#include "orderflow/runtime/cli.h"
#include "orderflow/runtime/http_server.h"
#include "orderflow/runtime/logging.h"
#include "orderflow/runtime/metrics.h"
#include "orderflow/runtime/shutdown.h"

using namespace orderflow;
using Clock = std::chrono::steady_clock;

namespace {

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch()).count();
}

std::optional<std::int64_t> event_ms(const std::string& occurred_at) {
  const auto t = events::parse_timestamp(occurred_at);
  if (!t) return std::nullopt;
  return std::chrono::duration_cast<std::chrono::milliseconds>(t->time_since_epoch()).count();
}

// How many of the last records of each `order-stats` partition are read at start. Keys are window
// starts, spread over the partitions, so this covers the most recent windows many times over; only
// windows a restart can re-read (the oldest unpublished one onwards) matter.
constexpr std::int64_t kStatsTailPerPartition = 1000;

// A window record of an earlier run, as read back from the stats topic.
struct PublishedRecord {
  std::int64_t start_ms = 0;
  std::int32_t partition = 0;
  std::int64_t offset = 0;
  std::string value;
};

// Reads the tail of the stats topic: the windows (of this --window-ms) published by earlier runs.
// Returns false when the topic could not be read within `timeout`.
// Exactly-once reads only committed windows (an aborted copy must not count as published), and so after
// init_transactions, which has aborted a dead run's open transaction.
bool read_published(const messaging::KafkaProperties& base, const std::string& topic, std::int64_t window_ms,
                    std::chrono::milliseconds timeout, const std::atomic<bool>& stop, bool read_committed,
                    std::vector<PublishedRecord>& published) {
  messaging::KafkaProperties props = base;
  if (read_committed) props.set("isolation.level", "read_committed");
  props.set("group.id", "analytics-service.bootstrap");  // required by KafkaConsumer; never joined
  props.set("enable.auto.commit", "false");
  props.set("enable.auto.offset.store", "false");
  props.set("enable.partition.eof", "true");
  props.set("allow.auto.create.topics", "false");
  auto conf = messaging::make_conf(props);
  std::string err;
  std::unique_ptr<RdKafka::KafkaConsumer> c(RdKafka::KafkaConsumer::create(conf.get(), err));
  if (!c) {
    spdlog::error("cannot create the {} reader: {}", topic, err);
    return false;
  }
  const auto deadline = Clock::now() + timeout;
  std::vector<std::int32_t> partitions;
  while (partitions.empty()) {
    if (stop.load() || Clock::now() >= deadline) return false;
    RdKafka::Metadata* raw = nullptr;
    // All topics: naming the topic would make the dev broker's mock create it.
    if (c->metadata(true, nullptr, &raw, 2000) == RdKafka::ERR_NO_ERROR) {
      std::unique_ptr<RdKafka::Metadata> md(raw);
      for (const auto* t : *md->topics()) {
        if (t->topic() != topic || t->err() != RdKafka::ERR_NO_ERROR) continue;
        for (const auto* p : *t->partitions()) partitions.push_back(p->id());
      }
    }
    if (partitions.empty()) {
      spdlog::warn("waiting for topic {} (create it, see docs/contract.md §4)", topic);
      std::this_thread::sleep_for(std::chrono::seconds(1));  // a missing topic is answered at once
    }
  }
  std::vector<RdKafka::TopicPartition*> assign;
  std::map<std::int32_t, std::int64_t> end;
  for (const auto p : partitions) {
    std::int64_t low = 0, high = 0;
    const auto e = c->query_watermark_offsets(topic, p, &low, &high, 5000);
    if (e != RdKafka::ERR_NO_ERROR) {
      spdlog::error("{} [{}]: cannot read the offsets: {}", topic, p, RdKafka::err2str(e));
      RdKafka::TopicPartition::destroy(assign);
      return false;
    }
    if (high <= low) continue;
    end[p] = high;
    assign.push_back(RdKafka::TopicPartition::create(topic, p, std::max(low, high - kStatsTailPerPartition)));
  }
  if (assign.empty()) return true;
  c->assign(assign);
  RdKafka::TopicPartition::destroy(assign);
  while (!end.empty()) {
    if (stop.load() || Clock::now() >= deadline) return false;
    std::unique_ptr<RdKafka::Message> m(c->consume(200));
    if (!m) continue;
    if (m->err() == RdKafka::ERR__PARTITION_EOF) {
      auto it = end.find(m->partition());
      if (it != end.end() && m->offset() >= it->second) end.erase(it);
      continue;
    }
    if (m->err() != RdKafka::ERR_NO_ERROR) continue;
    if (const auto w =
            analytics::parse_published(std::string_view(static_cast<const char*>(m->payload()), m->len()));
        w && w->window_ms == window_ms) {
      published.push_back({w->start_ms, m->partition(), m->offset(),
                           std::string(static_cast<const char*>(m->payload()), m->len())});
    }
    auto it = end.find(m->partition());
    if (it != end.end() && m->offset() + 1 >= it->second) end.erase(it);
  }
  c->close();
  return true;
}

struct Counters {
  prometheus::Counter* late;
  prometheus::Counter* replayed;
  prometheus::Counter* invalid;
  prometheus::Counter* windows_closed;
  prometheus::Counter* orders;
  prometheus::Gauge* open_windows;
  std::map<std::string, prometheus::Counter*> amount;  // by currency
};

// What a produced record's completion refers to: a closed window, or the dead letter of a row ClickHouse
// refused (whose input offset it releases).
struct DeliveryContext {
  enum class Kind { Window, DeadLetter } kind = Kind::Window;
  std::int64_t start_ms = 0;
  messaging::TopicPartitionKey tp;
  std::int64_t offset = -1;
};

struct SinkMetrics {
  std::map<analytics::Table, prometheus::Counter*> rows, batches, errors, refused;
  prometheus::Histogram* batch_seconds = nullptr;
  prometheus::Gauge* up = nullptr;
  prometheus::Gauge* buffered = nullptr;
  prometheus::Gauge* paused = nullptr;
};

std::string read_password_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw runtime::UsageError("--clickhouse-password-file: cannot read " + path);
  std::string line;
  std::getline(in, line);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

class Listener final : public messaging::RebalanceListener {
 public:
  std::function<void(const std::vector<messaging::TopicPartitionKey>&)> assigned;
  std::function<void(const std::vector<messaging::TopicPartitionKey>&, bool)> revoking;
  void on_assigned(const std::vector<messaging::TopicPartitionKey>& p) override { assigned(p); }
  void on_revoking(const std::vector<messaging::TopicPartitionKey>& p, bool lost) override {
    revoking(p, lost);
  }
};

}  // namespace

int main(int argc, char** argv) {
  runtime::CommandLine cli;
  cli.program = "analytics-service";
  cli.usage = "analytics-service [options]";
  cli.description =
      "Consumes `orders` and `payments`, aggregates them in tumbling windows by event time (occurred_at)\n"
      "and publishes every closed window to `order-stats` (keyed by the window start). Offsets are\n"
      "committed only up to the oldest record of a window not yet published, so a restart re-reads\n"
      "exactly the unpublished windows and counts nothing twice. With --clickhouse-url it also writes every\n"
      "order, payment and closed window to ClickHouse (deploy/clickhouse/schema.sql) and commits an offset\n"
      "only once ClickHouse acknowledged its row. --guarantee exactly-once puts the windows, dead letters\n"
      "and input offsets of each commit period in one Kafka transaction (transactional.id\n"
      "<group-id>-<instance-id>).";
  cli.example = "analytics-service --brokers localhost:9092 --window-ms 60000";
  runtime::add_common_options(cli, {"0.0.0.0:9105", true, "analytics-service"});
  namespace po = runtime::po;
  const analytics::WindowConfig defaults;
  const analytics::SinkConfig sink_defaults;
  const int sink_defaults_rows = static_cast<int>(sink_defaults.batch_rows);
  const int sink_defaults_ms = static_cast<int>(sink_defaults.batch_ms);
  cli.options.add_options()(
      "orders-topic", po::value<std::string>()->default_value("orders")->value_name("TOPIC"), "input topic")(
      "payments-topic", po::value<std::string>()->default_value("payments")->value_name("TOPIC"),
      "input topic")("stats-topic",
                     po::value<std::string>()->default_value("order-stats")->value_name("TOPIC"),
                     "output topic of closed windows")(
      "window-ms", po::value<long long>()->default_value(defaults.window_ms)->value_name("MS"),
      "tumbling window length")(
      "allowed-lateness-ms",
      po::value<long long>()->default_value(defaults.allowed_lateness_ms)->value_name("MS"),
      "a window closes when the watermark passes its end by this much")(
      "idle-timeout-ms", po::value<long long>()->default_value(defaults.idle_timeout_ms)->value_name("MS"),
      "a partition without records for this long no longer holds the watermark back")(
      "commit-interval-ms", po::value<int>()->default_value(1000)->value_name("MS"), "offset commit period")(
      "startup-timeout-s", po::value<int>()->default_value(30)->value_name("S"),
      "exit 1 when the stats topic cannot be read within this")(
      "clickhouse-url", po::value<std::string>()->default_value("")->value_name("URL"),
      "ClickHouse HTTP interface for the sink, e.g. http://127.0.0.1:8123 (empty: no sink)")(
      "clickhouse-database", po::value<std::string>()->default_value("orderflow")->value_name("DB"),
      "database of the tables of deploy/clickhouse/schema.sql")(
      "clickhouse-batch-rows", po::value<int>()->default_value(sink_defaults_rows)->value_name("N"),
      "rows per INSERT (per table)")(
      "clickhouse-batch-ms", po::value<int>()->default_value(sink_defaults_ms)->value_name("MS"),
      "a table's rows are sent at the latest this long after the oldest arrived")(
      "clickhouse-timeout-ms", po::value<int>()->default_value(10000)->value_name("MS"),
      "an INSERT without an answer within this counts as ClickHouse unavailable")(
      "clickhouse-user", po::value<std::string>()->default_value("")->value_name("USER"),
      "ClickHouse user (HTTP basic authentication; empty: none sent, the server's default user)")(
      "clickhouse-password-file", po::value<std::string>()->default_value("")->value_name("FILE"),
      "file whose first line is the ClickHouse user's password")(
      "instance-id", po::value<std::string>()->default_value("0")->value_name("ID"),
      "exactly-once: stable per instance; transactional.id = <group-id>-<instance-id>");
  cli.env["window-ms"] = "WINDOW_MS";
  cli.env["allowed-lateness-ms"] = "ALLOWED_LATENESS_MS";
  cli.env["commit-interval-ms"] = "COMMIT_INTERVAL_MS";
  cli.env["clickhouse-url"] = "CLICKHOUSE_URL";
  cli.env["clickhouse-database"] = "CLICKHOUSE_DATABASE";
  cli.env["clickhouse-batch-rows"] = "CLICKHOUSE_BATCH_ROWS";
  cli.env["clickhouse-batch-ms"] = "CLICKHOUSE_BATCH_MS";
  cli.env["clickhouse-user"] = "CLICKHOUSE_USER";
  cli.env["clickhouse-password-file"] = "CLICKHOUSE_PASSWORD_FILE";
  cli.env["instance-id"] = "INSTANCE_ID";

  auto parsed = runtime::parse_command_line(cli, argc, argv);
  if (parsed.exit_code) return *parsed.exit_code;
  const auto& vm = parsed.vm;
  runtime::CommonOptions common;
  analytics::WindowConfig wcfg;
  std::string orders_topic, payments_topic, stats_topic;
  int commit_interval_ms = 1000, startup_timeout_s = 30;
  std::string clickhouse_url, clickhouse_user, clickhouse_password;
  analytics::ClickHouseEndpoint endpoint;
  analytics::SinkConfig sink_cfg;
  int clickhouse_timeout_ms = 10000;
  messaging::KafkaProperties props;
  bool exactly_once = false;
  std::string instance_id;
  try {
    common = runtime::read_common_options(vm, true);
    exactly_once = common.guarantee == "exactly-once";
    instance_id = vm["instance-id"].as<std::string>();
    if (instance_id.empty()) throw runtime::UsageError("--instance-id: must not be empty");
    orders_topic = vm["orders-topic"].as<std::string>();
    payments_topic = vm["payments-topic"].as<std::string>();
    stats_topic = vm["stats-topic"].as<std::string>();
    wcfg.window_ms = vm["window-ms"].as<long long>();
    wcfg.allowed_lateness_ms = vm["allowed-lateness-ms"].as<long long>();
    wcfg.idle_timeout_ms = vm["idle-timeout-ms"].as<long long>();
    if (wcfg.window_ms < 1) throw runtime::UsageError("--window-ms: must be at least 1");
    if (wcfg.allowed_lateness_ms < 0)
      throw runtime::UsageError("--allowed-lateness-ms: must not be negative");
    if (wcfg.idle_timeout_ms < 1) throw runtime::UsageError("--idle-timeout-ms: must be at least 1");
    commit_interval_ms = vm["commit-interval-ms"].as<int>();
    if (commit_interval_ms < 1) throw runtime::UsageError("--commit-interval-ms: must be at least 1");
    startup_timeout_s = vm["startup-timeout-s"].as<int>();
    if (startup_timeout_s < 1) throw runtime::UsageError("--startup-timeout-s: must be at least 1");
    clickhouse_url = vm["clickhouse-url"].as<std::string>();
    if (!clickhouse_url.empty()) {
      try {
        endpoint = analytics::parse_clickhouse_url(clickhouse_url);
      } catch (const std::invalid_argument& e) {
        throw runtime::UsageError(std::string("--clickhouse-url: ") + e.what());
      }
      // The order_stats table keys windows by their start second.
      if (wcfg.window_ms % 1000 != 0) {
        throw runtime::UsageError("--window-ms: must be a whole number of seconds with --clickhouse-url");
      }
    }
    sink_cfg.database = vm["clickhouse-database"].as<std::string>();
    if (sink_cfg.database.empty() ||
        sink_cfg.database.find_first_not_of(
            "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") != std::string::npos) {
      throw runtime::UsageError("--clickhouse-database: letters, digits and _ only, got '" +
                                sink_cfg.database + "'");
    }
    const int batch_rows = vm["clickhouse-batch-rows"].as<int>();
    if (batch_rows < 1) throw runtime::UsageError("--clickhouse-batch-rows: must be at least 1");
    sink_cfg.batch_rows = static_cast<std::size_t>(batch_rows);
    sink_cfg.batch_ms = vm["clickhouse-batch-ms"].as<int>();
    if (sink_cfg.batch_ms < 0) throw runtime::UsageError("--clickhouse-batch-ms: must not be negative");
    clickhouse_timeout_ms = vm["clickhouse-timeout-ms"].as<int>();
    if (clickhouse_timeout_ms < 1) throw runtime::UsageError("--clickhouse-timeout-ms: must be at least 1");
    clickhouse_user = vm["clickhouse-user"].as<std::string>();
    if (const auto& f = vm["clickhouse-password-file"].as<std::string>(); !f.empty()) {
      clickhouse_password = read_password_file(f);
    }
    props = runtime::kafka_properties(common);
  } catch (const runtime::UsageError& e) {
    return runtime::usage_error(cli.program, e.what());
  } catch (const messaging::ConfigError& e) {
    return runtime::usage_error(cli.program, e.what());
  }
  runtime::setup_logging("analytics-service", common.log_level, common.log_format);

  messaging::ConsumerOptions copts;
  copts.properties = props;
  copts.group_id = common.group_id;
  copts.topics = {orders_topic, payments_topic};
  // Only committed records count: a transactional producer's aborted payments reach no window and no row.
  copts.read_committed = true;
  messaging::ProducerOptions popts;
  popts.properties = props;
  if (exactly_once) popts.transactional_id = common.group_id + "-" + instance_id;
  if (common.check_config) {
    return runtime::check_config(cli, vm, [&] {
      messaging::Consumer::check_config(copts);
      messaging::Producer::check_config(popts);
    });
  }

  runtime::ShutdownSignal shutdown;
  runtime::ServiceMetrics metrics("analytics-service");
  Counters ctr{};
  ctr.late = &metrics.counter("orderflow_analytics_late_records_total",
                              "records for a window that had already closed (not counted in any window)");
  ctr.replayed = &metrics.counter("orderflow_analytics_replayed_records_total",
                                  "records re-read after a restart whose window an earlier run published");
  ctr.invalid = &metrics.counter("orderflow_analytics_invalid_records_total",
                                 "input records that are not valid events (ignored)");
  ctr.windows_closed = &metrics.counter("orderflow_analytics_windows_closed_total",
                                        "closed windows acknowledged on the stats topic");
  ctr.orders =
      &metrics.counter("orderflow_analytics_orders_aggregated_total", "orders counted in published windows");
  ctr.open_windows =
      &metrics.gauge("orderflow_analytics_open_windows", "windows open or awaiting acknowledgement");
  auto amount_counter = [&](const std::string& currency) -> prometheus::Counter& {
    auto it = ctr.amount.find(currency);
    if (it == ctr.amount.end()) {
      it = ctr.amount
               .emplace(currency, &metrics.counter("orderflow_analytics_amount_cents_aggregated_total",
                                                   "order amounts counted in published windows",
                                                   {{"currency", currency}}))
               .first;
    }
    return *it->second;
  };

  // The sink's state as /readyz reports it (the HTTP thread reads it).
  std::mutex sink_state_mutex;
  std::string sink_problem;

  SinkMetrics sm;
  const bool sink_on = !clickhouse_url.empty();
  // The sink's counters and the pause gauge exist without the sink too (at 0), so that one dashboard serves
  // both; the gauges and the histogram that only mean something with a ClickHouse are registered with it.
  sm.paused = &metrics.gauge("orderflow_analytics_input_paused",
                             "1 while the input is paused because ClickHouse does not accept INSERTs");
  for (const auto t : {analytics::Table::Orders, analytics::Table::Payments, analytics::Table::OrderStats}) {
    const std::map<std::string, std::string> label{{"table", std::string(analytics::table_name(t))}};
    sm.rows[t] = &metrics.counter("orderflow_analytics_clickhouse_rows_written_total",
                                  "rows ClickHouse acknowledged, by table", label);
    sm.batches[t] = &metrics.counter("orderflow_analytics_clickhouse_batches_total",
                                     "INSERTs ClickHouse acknowledged, by table", label);
    sm.errors[t] =
        &metrics.counter("orderflow_analytics_clickhouse_errors_total",
                         "INSERTs that failed (ClickHouse unavailable, or a batch it refused)", label);
    sm.refused[t] =
        &metrics.counter("orderflow_analytics_clickhouse_rows_refused_total",
                         "rows ClickHouse refused on their own (sent to the dead-letter topic)", label);
  }
  if (sink_on) {
    sm.batch_seconds = &prometheus::BuildHistogram()
                            .Name("orderflow_analytics_clickhouse_batch_seconds")
                            .Help("duration of an acknowledged INSERT")
                            .Labels({{"service", "analytics-service"}})
                            .Register(metrics.registry())
                            .Add({}, prometheus::Histogram::BucketBoundaries{0.005, 0.01, 0.025, 0.05, 0.1,
                                                                             0.25, 0.5, 1, 2.5, 5, 10});
    sm.up =
        &metrics.gauge("orderflow_analytics_clickhouse_up", "1 while ClickHouse accepts the sink's INSERTs");
    sm.up->Set(1);
    sm.buffered =
        &metrics.gauge("orderflow_analytics_clickhouse_buffered_rows", "rows waiting for an INSERT");
  }

  std::atomic<bool> ready{false};
  std::unique_ptr<runtime::HttpServer> http;
  try {
    http = std::make_unique<runtime::HttpServer>(
        common.metrics_address, metrics.registry_ptr(), [&]() -> std::optional<std::string> {
          if (!ready.load()) return std::string("not ready: no partitions assigned yet (joining the group)");
          if (auto problem = metrics.broker_problem()) return "not ready: " + *problem;
          {
            const std::lock_guard lock(sink_state_mutex);
            if (!sink_problem.empty()) return "not ready: " + sink_problem;
          }
          return std::nullopt;
        });
  } catch (const std::exception& e) {
    spdlog::error("metrics address {}: {}", common.metrics_address, e.what());
    return 1;
  }

  spdlog::info("analytics-service: brokers {} group {} window {} ms, allowed lateness {} ms, properties: {}",
               common.brokers, common.group_id, wcfg.window_ms, wcfg.allowed_lateness_ms,
               props.to_log_string());
  if (sink_on) {
    spdlog::info("ClickHouse sink: {} database {}, batches of {} rows or {} ms", clickhouse_url,
                 sink_cfg.database, sink_cfg.batch_rows, sink_cfg.batch_ms);
  }

  analytics::WindowAggregator agg(wcfg);

  const std::string dlq_topic = common.group_id + ".dlq";
  // Set by the sink's refused hook, served by the main loop (the producer is created after the sink).
  std::vector<std::tuple<analytics::Table, analytics::SinkRow, std::string>> refused_rows;
  std::unique_ptr<analytics::ClickHouseSink> sink;
  if (sink_on) {
    analytics::SinkHooks hooks;
    hooks.written = [&](analytics::Table t, std::size_t rows, double seconds) {
      sm.rows[t]->Increment(static_cast<double>(rows));
      sm.batches[t]->Increment();
      sm.batch_seconds->Observe(seconds);
    };
    hooks.failed = [&](analytics::Table t, const std::string& reason) {
      sm.errors[t]->Increment();
      spdlog::warn("ClickHouse INSERT into {} failed: {}", analytics::table_name(t), reason);
    };
    hooks.refused = [&](analytics::Table t, const analytics::SinkRow& row, const std::string& reason) {
      sm.refused[t]->Increment();
      refused_rows.emplace_back(t, row, reason);
    };
    sink = std::make_unique<analytics::ClickHouseSink>(
        sink_cfg,
        std::make_unique<analytics::HttpInserter>(endpoint, clickhouse_user, clickhouse_password,
                                                  std::chrono::milliseconds(clickhouse_timeout_ms)),
        std::move(hooks));
  }

  // Delivery: the context is a heap DeliveryContext owned by the completion (which fires exactly once per
  // produced record, also at shutdown).
  std::map<std::int64_t, analytics::WindowStats> in_flight;
  bool delivery_failed = false;
  // Set while a transaction is aborted: the completions of its purged records change no state.
  bool discarding = false;
  messaging::Producer producer(popts, [&](const messaging::DeliveryReport& r) {
    const std::unique_ptr<DeliveryContext> ctx(static_cast<DeliveryContext*>(r.context));
    if (discarding) return;
    if (ctx->kind == DeliveryContext::Kind::DeadLetter) {
      if (!r.ok()) {
        spdlog::error("dead letter of {} [{}] @{} not delivered to {}: {}", ctx->tp.topic, ctx->tp.partition,
                      ctx->offset, dlq_topic, r.error_text);
        delivery_failed = true;
        return;
      }
      metrics.produced(dlq_topic);
      metrics.outcome("dead_lettered");
      if (sink) sink->release(ctx->tp, ctx->offset);
      return;
    }
    const std::int64_t start = ctx->start_ms;
    auto it = in_flight.find(start);
    if (!r.ok()) {
      spdlog::error("window {} not delivered to {}: {}", start, stats_topic, r.error_text);
      delivery_failed = true;
      return;
    }
    metrics.produced(stats_topic);
    if (it != in_flight.end()) {
      ctr.windows_closed->Increment();
      ctr.orders->Increment(static_cast<double>(it->second.orders));
      for (const auto& [c, v] : it->second.order_amount_cents_by_currency)
        amount_counter(c).Increment(static_cast<double>(v));
      if (sink) {
        analytics::SinkRow row;
        row.value = analytics::to_json(it->second, wcfg.window_ms);
        if (auto json = analytics::window_row(row.value, r.offset)) {
          row.json = std::move(*json);
          row.tp = {stats_topic, r.partition};
          row.offset = r.offset;
          sink->add(analytics::Table::OrderStats, std::move(row), now_ms());
        }
      }
      in_flight.erase(it);
    }
    agg.acknowledged(start);
  });
  producer.set_interrupt(&shutdown.flag());

  // Fences an earlier run of this transactional.id: the broker aborts its open transaction, so the
  // committed windows read next are final.
  if (exactly_once) {
    try {
      producer.init_transactions(std::chrono::seconds(60));
    } catch (const messaging::TxnError& e) {
      spdlog::critical("cannot initialise transactions ({}): {}", popts.transactional_id, e.what());
      return 1;
    }
    spdlog::info("exactly-once: transactional.id {}", popts.transactional_id);
  }

  // What a start (and, in exactly-once mode, an aborted transaction) rebuilds from: the windows published
  // earlier, whose re-read records are not counted again.
  auto learn_published = [&]() -> bool {
    std::vector<PublishedRecord> published;
    if (!read_published(props, stats_topic, wcfg.window_ms, std::chrono::seconds(startup_timeout_s),
                        shutdown.flag(), exactly_once, published)) {
      if (!shutdown.requested())
        spdlog::error("could not read {} within {} s", stats_topic, startup_timeout_s);
      return false;
    }
    for (const auto& w : published) agg.seed_published(w.start_ms);
    spdlog::info("{} windows published earlier (read from {}); their re-read records are not counted again",
                 published.size(), stats_topic);
    if (!sink) return true;
    // Windows an earlier run published may not have reached ClickHouse before it stopped: written again
    // (the same row, the same version: ReplacingMergeTree keeps one).
    std::size_t again = 0;
    for (const auto& w : published) {
      auto row = analytics::window_row(w.value, w.offset);
      if (!row) continue;  // written by a release without the sink's fields
      analytics::SinkRow r;
      r.json = std::move(*row);
      r.tp = {stats_topic, w.partition};
      r.offset = w.offset;
      r.value = w.value;
      sink->add(analytics::Table::OrderStats, std::move(r), now_ms());
      ++again;
    }
    if (again > 0) spdlog::info("{} published windows queued for ClickHouse again (idempotent)", again);
    return true;
  };
  if (!learn_published()) return shutdown.requested() ? 0 : 1;

  // Exactly-once: the transaction that the next window or dead letter joins, opened on demand; the offsets
  // committed by the last one (a period without progress commits nothing).
  bool txn_open = false;
  std::vector<messaging::CommitOffset> txn_committed;
  auto begin_txn = [&]() -> bool {
    if (!exactly_once || txn_open) return true;
    try {
      producer.begin_transaction();
    } catch (const messaging::TxnError& e) {
      spdlog::critical("begin_transaction failed: {}", e.what());
      return false;
    }
    txn_open = true;
    return true;
  };

  // committable = min(window rule, the sink's oldest held row) per partition.
  auto committable = [&] {
    auto offsets = agg.committable();
    if (sink) {
      for (auto& o : offsets) {
        if (const auto held = sink->min_pending({o.topic, o.partition})) o.offset = std::min(o.offset, *held);
      }
    }
    return offsets;
  };

  std::unique_ptr<messaging::Consumer> consumer;
  std::vector<messaging::CommitOffset> rewind;
  std::set<std::pair<std::string, std::int32_t>> assigned, paused;

  // Exactly-once. An abort drops every record of the transaction and asks the loop to rebuild (as a
  // start does); a fenced or broken producer stops the service (exit 1).
  bool rebuild_pending = false;
  bool txn_fatal = false;
  auto abort_txn = [&](const std::string& why) {
    spdlog::warn("aborting the transaction: {}; rebuilding from the committed offsets", why);
    discarding = true;
    try {
      if (txn_open) producer.abort_transaction(std::chrono::seconds(60));
    } catch (const messaging::TxnError& e) {
      spdlog::critical("abort_transaction failed: {}", e.what());
      txn_fatal = true;
    }
    producer.flush(std::chrono::seconds(5));  // serves the purged records' completions
    discarding = false;
    delivery_failed = false;
    txn_open = false;
    in_flight.clear();
    refused_rows.clear();
    rebuild_pending = true;
  };
  // Commits the open transaction (or one with the offsets only, when they moved) with the committable
  // offsets, once every record of it was acknowledged. False when the service must stop.
  auto commit_txn = [&](const char* why) -> bool {
    if (!producer.flush(std::chrono::seconds(30)) || delivery_failed) {
      abort_txn(delivery_failed ? "a record of the transaction was not delivered"
                                : "records not acknowledged within 30 s");
      return !txn_fatal;
    }
    const auto offsets = committable();
    const auto same = [](const std::vector<messaging::CommitOffset>& a,
                         const std::vector<messaging::CommitOffset>& b) {
      return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](const auto& x, const auto& y) {
        return x.topic == y.topic && x.partition == y.partition && x.offset == y.offset;
      });
    };
    if (!txn_open && (offsets.empty() || same(offsets, txn_committed))) return true;
    if (!begin_txn()) return false;
    try {
      if (!offsets.empty()) {
        messaging::TopicPartitionList list;
        list.reserve(offsets.size());
        for (const auto& o : offsets) list.add(o.topic, o.partition, o.offset);
        const std::unique_ptr<RdKafka::ConsumerGroupMetadata> group(consumer->handle().groupMetadata());
        producer.send_offsets_to_transaction(list.items(), group.get(), std::chrono::seconds(30));
      }
      producer.commit_transaction(std::chrono::seconds(60));
    } catch (const messaging::TxnError& e) {
      metrics.commit_result(false);
      if (e.fatal()) {
        spdlog::critical("transaction failed fatally (fenced by a newer instance?): {}", e.what());
        txn_open = false;
        return false;
      }
      abort_txn(std::string(why) + " commit failed: " + e.what());
      return !txn_fatal;
    }
    txn_open = false;
    txn_committed = offsets;
    metrics.commit_result(true);
    spdlog::debug("transaction committed ({})", why);
    return true;
  };

  Listener listener;
  listener.assigned = [&](const std::vector<messaging::TopicPartitionKey>& parts) {
    for (const auto& tp : parts) {
      agg.assigned(tp, now_ms());
      assigned.emplace(tp.topic, tp.partition);
    }
    ready = true;
  };
  listener.revoking = [&](const std::vector<messaging::TopicPartitionKey>& parts, bool lost) {
    // Windows mix partitions: what was counted from a revoked partition cannot be taken out of them, so
    // every open window is dropped and rebuilt by re-reading from the committable offsets.
    producer.flush(std::chrono::seconds(30));
    if (sink && sink->up()) sink->service(now_ms(), true);
    auto offsets = committable();
    if (exactly_once) {
      if (lost) {
        abort_txn("partitions lost");
      } else if (!commit_txn("rebalance")) {
        txn_fatal = true;
      }
    } else if (!lost && !offsets.empty()) {
      metrics.commit_result(consumer->commit(offsets, true) == RdKafka::ERR_NO_ERROR);
    }
    rewind.clear();
    if (rebuild_pending) offsets.clear();  // the loop re-reads every partition from the committed offsets
    for (const auto& o : offsets) {
      bool gone = false;
      for (const auto& tp : parts) gone = gone || (tp.topic == o.topic && tp.partition == o.partition);
      if (!gone) rewind.push_back(o);
    }
    for (const auto& tp : parts) {
      agg.revoked(tp);
      assigned.erase({tp.topic, tp.partition});
      paused.erase({tp.topic, tp.partition});
    }
    agg.reset_open();
    in_flight.clear();
    if (sink) sink->drop_input_rows();  // re-read from the offsets above
  };
  consumer = std::make_unique<messaging::Consumer>(copts, listener);
  consumer->on_async_commit([&](RdKafka::ErrorCode err, const std::vector<messaging::CommitOffset>&) {
    metrics.commit_result(err == RdKafka::ERR_NO_ERROR);
  });
  consumer->subscribe();

  // A refused row's dead letter: the record as read, with the contract's failure headers.
  auto dead_letter = [&](analytics::Table t, const analytics::SinkRow& row,
                         const std::string& reason) -> bool {
    spdlog::warn("ClickHouse refused a row of {} ({} [{}] @{}): {}; sending it to {}",
                 analytics::table_name(t), row.tp.topic, row.tp.partition, row.offset, reason, dlq_topic);
    if (!begin_txn()) return false;
    const std::string message = "ClickHouse refused the row: " + reason;
    messaging::FailureHeaderInput in;
    in.origin = {row.tp.topic, row.tp.partition, row.offset};
    in.error_class = messaging::ErrorClass::Poison;
    in.error_message = message;
    in.service = "analytics-service";
    in.failed_at_ms = messaging::now_ms();
    const auto headers = messaging::failure_headers(in, row.headers);
    auto ctx = std::make_unique<DeliveryContext>();
    ctx->kind = DeliveryContext::Kind::DeadLetter;
    ctx->tp = row.tp;
    ctx->offset = row.offset;
    std::string err;
    if (!producer.produce(dlq_topic, row.key ? &*row.key : nullptr, row.value.data(), row.value.size(),
                          headers, ctx.get(), &err)) {
      if (!shutdown.requested()) spdlog::error("cannot enqueue a dead letter for {}: {}", dlq_topic, err);
      return false;
    }
    (void)ctx.release();  // the completion owns it now
    return true;
  };

  // Input rows for the sink: the record as read, for a dead letter.
  auto sink_row = [&](const RdKafka::Message& msg, std::string json) {
    analytics::SinkRow row;
    row.json = std::move(json);
    row.tp = {msg.topic_name(), msg.partition()};
    row.offset = msg.offset();
    row.holds_offset = true;
    row.key = messaging::message_key(msg);
    row.value.assign(static_cast<const char*>(msg.payload()), msg.len());
    row.headers = messaging::all_headers(msg);
    return row;
  };

  auto last_commit = Clock::now();
  // A loop turn takes about one poll; a turn much longer than that is a stall (WindowAggregator::stalled).
  constexpr std::int64_t kPollMs = 100;
  constexpr std::int64_t kStallMs = 1000;
  std::int64_t last_loop_ms = now_ms();
  int exit_code = 0;
  bool sink_was_up = true;
  while (!shutdown.requested()) {
    if (txn_fatal) {
      exit_code = 1;
      break;
    }
    if (rebuild_pending) {
      // After an aborted transaction, as a start: the committed windows, then every assigned partition
      // from the group's committed offsets.
      rebuild_pending = false;
      agg = analytics::WindowAggregator(wcfg);
      if (sink) sink->drop_input_rows();
      if (!learn_published()) {
        exit_code = shutdown.requested() ? 0 : 1;
        break;
      }
      for (const auto& [topic, partition] : assigned) agg.assigned({topic, partition}, now_ms());
      const auto committed = consumer->committed(std::chrono::seconds(10));
      if (committed.empty() && !assigned.empty()) {
        // Without the committed offsets the input cannot be rewound; a restart rebuilds instead.
        spdlog::critical("cannot read the group's committed offsets after the abort; stopping");
        exit_code = 1;
        break;
      }
      for (const auto& c : committed) {
        consumer->seek(c.topic, c.partition, c.offset >= 0 ? c.offset : RdKafka::Topic::OFFSET_BEGINNING);
      }
      rewind.clear();
      txn_committed.clear();
      spdlog::info("rebuilt after the abort: {} partitions re-read from the committed offsets",
                   committed.size());
    }
    auto msg = consumer->poll(std::chrono::milliseconds(kPollMs));
    if (const auto gap = now_ms() - last_loop_ms; gap > kStallMs) agg.stalled(gap - kPollMs);
    if (!rewind.empty()) {
      for (const auto& o : rewind) consumer->seek(o.topic, o.partition, o.offset);
      rewind.clear();
      msg.reset();  // may predate the seek
    }
    const std::int64_t now = now_ms();
    if (msg && msg->err() == RdKafka::ERR_NO_ERROR) {
      const messaging::TopicPartitionKey tp{msg->topic_name(), msg->partition()};
      metrics.consumed(tp.topic);
      const std::string_view bytes(static_cast<const char*>(msg->payload()), msg->len());
      std::optional<analytics::WindowAggregator::Outcome> outcome;
      if (tp.topic == orders_topic) {
        auto o = events::parse_order_created(bytes);
        if (o.has_value()) {
          if (const auto t = event_ms(o.value().occurred_at)) {
            if (sink) {
              sink->add(analytics::Table::Orders,
                        sink_row(*msg, analytics::order_row(o.value(), *t, tp.partition, msg->offset())),
                        now);
            }
            outcome = agg.add_order(tp, msg->offset(), *t, now, o.value().customer_id, o.value().amount_cents,
                                    o.value().currency);
          }
        }
      } else {
        auto p = events::parse_payment_processed(bytes);
        if (p.has_value()) {
          const auto& v = p.value();
          if (const auto t = event_ms(v.occurred_at)) {
            if (sink) {
              sink->add(analytics::Table::Payments,
                        sink_row(*msg, analytics::payment_row(v, *t, tp.partition, msg->offset())), now);
            }
            outcome =
                agg.add_payment(tp, msg->offset(), *t, now, v.status == events::PaymentStatus::Authorized,
                                v.amount_cents, v.currency, v.decline_reason.value_or(""));
          }
        }
      }
      if (!outcome) {
        // Poison is the producing service's business (its DLQ); here it only must not stall the commit.
        ctr.invalid->Increment();
        agg.skip(tp, msg->offset(), now);
        spdlog::debug("{} [{}] @{}: not a valid event, ignored", tp.topic, tp.partition, msg->offset());
      } else if (*outcome == analytics::WindowAggregator::Outcome::Late) {
        ctr.late->Increment();
        spdlog::debug("{} [{}] @{}: late record (its window has closed), not counted", tp.topic, tp.partition,
                      msg->offset());
      } else if (*outcome == analytics::WindowAggregator::Outcome::Replayed) {
        ctr.replayed->Increment();
      }
    } else if (msg && msg->err() != RdKafka::ERR__TIMED_OUT && msg->err() != RdKafka::ERR__PARTITION_EOF) {
      spdlog::warn("consumer: {}", msg->errstr());
    }
    last_loop_ms = now_ms();

    // While the input is paused for the sink, no window closes: the paused partitions would look idle and
    // their records, read after the pause, late.
    auto closed = paused.empty() ? agg.close_ready(now) : std::vector<analytics::WindowStats>{};
    if (!closed.empty() && !begin_txn()) {
      exit_code = 1;
      break;
    }
    for (auto& w : closed) {
      const auto start = w.start_ms;
      messaging::OutRecord rec;
      rec.topic = stats_topic;
      rec.key =
          events::format_timestamp(std::chrono::system_clock::time_point(std::chrono::milliseconds(start)));
      rec.value = analytics::to_json(w, wcfg.window_ms);
      spdlog::info("window {} closed: {} orders, {} authorised, {} declined, {} customers", *rec.key,
                   w.orders, w.payments_authorized, w.payments_declined, w.customers.size());
      in_flight[start] = std::move(w);
      std::string err;
      auto context = std::make_unique<DeliveryContext>();
      context->start_ms = start;
      if (producer.produce(rec, context.get(), &err)) {
        (void)context.release();  // the completion owns it now
      } else {
        if (!shutdown.requested()) {
          spdlog::error("cannot enqueue window {} for {}: {}", start, stats_topic, err);
          exit_code = 1;
        }
        break;
      }
    }
    if (exit_code != 0) break;
    producer.poll(std::chrono::milliseconds(0));

    if (sink) {
      const bool up = sink->service(now);
      for (const auto& [t, row, reason] : refused_rows) {
        if (!dead_letter(t, row, reason)) {
          exit_code = shutdown.requested() ? 0 : 1;
          break;
        }
      }
      refused_rows.clear();
      if (exit_code != 0) break;
      // ClickHouse unavailable: stop fetching (the lag grows, memory does not) until an INSERT succeeds.
      if (!up) {
        for (const auto& tp : assigned) {
          if (paused.insert(tp).second) consumer->pause(tp.first, tp.second);
        }
      } else if (!paused.empty()) {
        for (const auto& tp : paused) {
          consumer->resume(tp.first, tp.second);
          agg.assigned({tp.first, tp.second}, now);  // its idle clock starts again
        }
        paused.clear();
      }
      if (up != sink_was_up) {
        if (up) {
          spdlog::info("ClickHouse sink: INSERTs accepted again; input resumed");
        } else {
          spdlog::error("ClickHouse sink unavailable: {}; input paused, retrying with backoff",
                        sink->problem());
        }
        sink_was_up = up;
      }
      {
        const std::lock_guard lock(sink_state_mutex);
        sink_problem = up ? std::string() : "ClickHouse sink unavailable (retrying): " + sink->problem();
      }
      sm.up->Set(up ? 1 : 0);
      sm.paused->Set(paused.empty() ? 0 : 1);
      sm.buffered->Set(static_cast<double>(sink->buffered()));
    }
    if (delivery_failed) {
      if (!exactly_once) {
        exit_code = 1;
        break;
      }
      abort_txn("a record of the transaction was not delivered");
      continue;
    }
    ctr.open_windows->Set(static_cast<double>(agg.open_windows() + agg.pending_windows()));
    if (Clock::now() - last_commit >= std::chrono::milliseconds(commit_interval_ms)) {
      last_commit = Clock::now();
      if (exactly_once) {
        if (!commit_txn("period")) {
          exit_code = 1;
          break;
        }
      } else if (const auto offsets = committable(); !offsets.empty()) {
        consumer->commit(offsets, false);
      }
    }
  }

  // Stop: publish nothing new (open windows are rebuilt by the next run), wait for what is in flight,
  // write what the sink holds (when ClickHouse answers; otherwise the next run re-reads it), commit what
  // is complete.
  producer.flush(std::chrono::seconds(30));
  if (sink && exit_code == 0 && !delivery_failed) {
    if (sink->up() || sink->retry_at_ms() <= now_ms()) sink->service(now_ms(), true);
    for (const auto& [t, row, reason] : refused_rows) {
      if (!dead_letter(t, row, reason)) break;
    }
    refused_rows.clear();
    producer.flush(std::chrono::seconds(30));
  }
  if (exactly_once) {
    // The next run re-reads what an abort here leaves uncommitted.
    if (exit_code == 0 && !delivery_failed && !txn_fatal && !rebuild_pending) {
      if (!commit_txn("shutdown")) exit_code = 1;
    } else if (txn_open && !txn_fatal) {
      abort_txn("stopping on an error");
    }
  } else if (exit_code == 0 && !delivery_failed) {
    const auto offsets = committable();
    if (!offsets.empty()) metrics.commit_result(consumer->commit(offsets, true) == RdKafka::ERR_NO_ERROR);
  }
  consumer->close();
  spdlog::info("analytics-service stopped");
  return delivery_failed ? 1 : exit_code;
}
