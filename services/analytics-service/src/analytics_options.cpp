#include "orderflow/analytics/analytics_options.h"

#include <fstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace orderflow::analytics {

namespace {

std::string read_password_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw runtime::UsageError("--clickhouse-password-file: cannot read " + path);
  std::string line;
  std::getline(in, line);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

}  // namespace

void add_analytics_options(runtime::CommandLine& cli) {
  namespace po = runtime::po;
  const AnalyticsOptions d;
  const auto text = [](const std::string& value, const char* name) {
    return po::value<std::string>()->default_value(value)->value_name(name);
  };
  const auto ms = [](std::int64_t value) {
    return po::value<long long>()->default_value(static_cast<long long>(value))->value_name("MS");
  };
  const auto number = [](int value, const char* name) {
    return po::value<int>()->default_value(value)->value_name(name);
  };
  auto add = cli.options.add_options();
  add("orders-topic", text(d.orders_topic, "TOPIC"), "input topic");
  add("payments-topic", text(d.payments_topic, "TOPIC"), "input topic");
  add("stats-topic", text(d.stats_topic, "TOPIC"), "output topic of closed windows");
  add("window-ms", ms(d.window.window_ms), "tumbling window length");
  add("allowed-lateness-ms", ms(d.window.allowed_lateness_ms),
      "a window closes when the watermark passes its end by this much");
  add("idle-timeout-ms", ms(d.window.idle_timeout_ms),
      "a partition without records for this long no longer holds the watermark back");
  add("commit-interval-ms", number(d.commit_interval_ms, "MS"), "offset commit period");
  add("startup-timeout-s", number(d.startup_timeout_s, "S"),
      "exit 1 when the stats topic cannot be read within this");
  add("clickhouse-url", text(d.clickhouse_url, "URL"),
      "ClickHouse HTTP interface for the sink, e.g. http://127.0.0.1:8123 (empty: no sink)");
  add("clickhouse-database", text(d.sink.database, "DB"),
      "database of the tables of deploy/clickhouse/schema.sql");
  add("clickhouse-batch-rows", number(static_cast<int>(d.sink.batch_rows), "N"),
      "rows per INSERT (per table)");
  add("clickhouse-batch-ms", number(static_cast<int>(d.sink.batch_ms), "MS"),
      "a table's rows are sent at the latest this long after the oldest arrived");
  add("clickhouse-timeout-ms", number(d.clickhouse_timeout_ms, "MS"),
      "an INSERT without an answer within this counts as ClickHouse unavailable");
  add("clickhouse-user", text(d.clickhouse_user, "USER"),
      "ClickHouse user (HTTP basic authentication; empty: none sent, the server's default user)");
  add("clickhouse-password-file", text("", "FILE"),
      "file whose first line is the ClickHouse user's password");
  add("instance-id", text(d.instance_id, "ID"),
      "exactly-once: stable per instance; transactional.id = <group-id>-<instance-id>");
  // The environment variable of each flag that has one.
  static constexpr std::pair<const char*, const char*> kEnv[] = {
      {"window-ms", "WINDOW_MS"},
      {"allowed-lateness-ms", "ALLOWED_LATENESS_MS"},
      {"commit-interval-ms", "COMMIT_INTERVAL_MS"},
      {"clickhouse-url", "CLICKHOUSE_URL"},
      {"clickhouse-database", "CLICKHOUSE_DATABASE"},
      {"clickhouse-batch-rows", "CLICKHOUSE_BATCH_ROWS"},
      {"clickhouse-batch-ms", "CLICKHOUSE_BATCH_MS"},
      {"clickhouse-user", "CLICKHOUSE_USER"},
      {"clickhouse-password-file", "CLICKHOUSE_PASSWORD_FILE"},
      {"instance-id", "INSTANCE_ID"},
  };
  for (const auto& [flag, variable] : kEnv) cli.env[flag] = variable;
}

AnalyticsOptions read_analytics_options(const runtime::po::variables_map& vm) {
  using runtime::UsageError;
  AnalyticsOptions o;
  o.common = runtime::read_common_options(vm, true);
  o.instance_id = vm["instance-id"].as<std::string>();
  if (o.instance_id.empty()) throw UsageError("--instance-id: must not be empty");
  o.orders_topic = vm["orders-topic"].as<std::string>();
  o.payments_topic = vm["payments-topic"].as<std::string>();
  o.stats_topic = vm["stats-topic"].as<std::string>();
  o.window.window_ms = vm["window-ms"].as<long long>();
  o.window.allowed_lateness_ms = vm["allowed-lateness-ms"].as<long long>();
  o.window.idle_timeout_ms = vm["idle-timeout-ms"].as<long long>();
  if (o.window.window_ms < 1) throw UsageError("--window-ms: must be at least 1");
  if (o.window.allowed_lateness_ms < 0) throw UsageError("--allowed-lateness-ms: must not be negative");
  if (o.window.idle_timeout_ms < 1) throw UsageError("--idle-timeout-ms: must be at least 1");
  o.commit_interval_ms = vm["commit-interval-ms"].as<int>();
  if (o.commit_interval_ms < 1) throw UsageError("--commit-interval-ms: must be at least 1");
  o.startup_timeout_s = vm["startup-timeout-s"].as<int>();
  if (o.startup_timeout_s < 1) throw UsageError("--startup-timeout-s: must be at least 1");
  o.clickhouse_url = vm["clickhouse-url"].as<std::string>();
  if (!o.clickhouse_url.empty()) {
    try {
      o.clickhouse_endpoint = parse_clickhouse_url(o.clickhouse_url);
    } catch (const std::invalid_argument& e) {
      throw UsageError(std::string("--clickhouse-url: ") + e.what());
    }
    // The order_stats table keys windows by their start second.
    if (o.window.window_ms % 1000 != 0) {
      throw UsageError("--window-ms: must be a whole number of seconds with --clickhouse-url");
    }
  }
  o.sink.database = vm["clickhouse-database"].as<std::string>();
  if (o.sink.database.empty() ||
      o.sink.database.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") !=
          std::string::npos) {
    throw UsageError("--clickhouse-database: letters, digits and _ only, got '" + o.sink.database + "'");
  }
  const int batch_rows = vm["clickhouse-batch-rows"].as<int>();
  if (batch_rows < 1) throw UsageError("--clickhouse-batch-rows: must be at least 1");
  o.sink.batch_rows = static_cast<std::size_t>(batch_rows);
  o.sink.batch_ms = vm["clickhouse-batch-ms"].as<int>();
  if (o.sink.batch_ms < 0) throw UsageError("--clickhouse-batch-ms: must not be negative");
  o.clickhouse_timeout_ms = vm["clickhouse-timeout-ms"].as<int>();
  if (o.clickhouse_timeout_ms < 1) throw UsageError("--clickhouse-timeout-ms: must be at least 1");
  o.clickhouse_user = vm["clickhouse-user"].as<std::string>();
  if (const auto& f = vm["clickhouse-password-file"].as<std::string>(); !f.empty()) {
    o.clickhouse_password = read_password_file(f);
  }
  o.kafka = runtime::kafka_properties(o.common);
  return o;
}

messaging::ConsumerOptions consumer_options(const AnalyticsOptions& options) {
  messaging::ConsumerOptions c;
  c.properties = options.kafka;
  c.group_id = options.common.group_id;
  c.topics = {options.orders_topic, options.payments_topic};
  // Only committed records count: a transactional producer's aborted payments reach no window and no row.
  c.read_committed = true;
  return c;
}

messaging::ProducerOptions producer_options(const AnalyticsOptions& options) {
  messaging::ProducerOptions p;
  p.properties = options.kafka;
  if (options.exactly_once()) p.transactional_id = options.common.group_id + "-" + options.instance_id;
  return p;
}

}  // namespace orderflow::analytics
