// analytics-service's command line without running it: the defaults, flags into AnalyticsOptions, every
// validation (each names its flag), the password file, and the clients' options derived from them.
#include "orderflow/analytics/analytics_options.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

using orderflow::analytics::AnalyticsOptions;
using orderflow::runtime::UsageError;

namespace {

// The options of `args` as main() reads them (the environment variables of the flags unset).
AnalyticsOptions read(std::vector<std::string> args) {
  for (const char* env :
       {"WINDOW_MS", "ALLOWED_LATENESS_MS", "COMMIT_INTERVAL_MS", "CLICKHOUSE_URL", "CLICKHOUSE_DATABASE",
        "CLICKHOUSE_BATCH_ROWS", "CLICKHOUSE_BATCH_MS", "CLICKHOUSE_USER", "CLICKHOUSE_PASSWORD_FILE",
        "INSTANCE_ID", "KAFKA_GROUP_ID", "PROCESSING_GUARANTEE"}) {
    ::unsetenv(env);
  }
  orderflow::runtime::CommandLine cli;
  cli.program = "analytics-service";
  orderflow::runtime::add_common_options(cli, {"0.0.0.0:9105", true, "analytics-service"});
  orderflow::analytics::add_analytics_options(cli);
  args.insert(args.begin(), "analytics-service");
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  auto parsed = orderflow::runtime::parse_command_line(cli, static_cast<int>(argv.size()), argv.data());
  EXPECT_FALSE(parsed.exit_code.has_value());
  return orderflow::analytics::read_analytics_options(parsed.vm);
}

// The UsageError of `args`, "" when there is none.
std::string usage_error(const std::vector<std::string>& args) {
  try {
    (void)read(args);
  } catch (const UsageError& e) {
    return e.what();
  }
  return "";
}

TEST(AnalyticsOptions, DefaultsAreTheStructsInitialisers) {
  const auto o = read({});
  const AnalyticsOptions d;
  EXPECT_EQ(o.orders_topic, d.orders_topic);
  EXPECT_EQ(o.payments_topic, d.payments_topic);
  EXPECT_EQ(o.stats_topic, "order-stats");
  EXPECT_EQ(o.window.window_ms, d.window.window_ms);
  EXPECT_EQ(o.window.allowed_lateness_ms, d.window.allowed_lateness_ms);
  EXPECT_EQ(o.window.idle_timeout_ms, d.window.idle_timeout_ms);
  EXPECT_EQ(o.commit_interval_ms, 1000);
  EXPECT_EQ(o.startup_timeout_s, 30);
  EXPECT_EQ(o.instance_id, "0");
  EXPECT_EQ(o.sink.database, "orderflow");
  EXPECT_EQ(o.sink.batch_rows, d.sink.batch_rows);
  EXPECT_EQ(o.sink.batch_ms, d.sink.batch_ms);
  EXPECT_EQ(o.clickhouse_timeout_ms, 10000);
  EXPECT_FALSE(o.sink_on());
  EXPECT_FALSE(o.exactly_once());
  EXPECT_EQ(o.dlq_topic(), "analytics-service.dlq");
  EXPECT_TRUE(orderflow::analytics::producer_options(o).transactional_id.empty());
}

TEST(AnalyticsOptions, FlagsAreRead) {
  const auto o = read({"--orders-topic",
                       "o",
                       "--payments-topic",
                       "p",
                       "--stats-topic",
                       "s",
                       "--window-ms",
                       "5000",
                       "--allowed-lateness-ms",
                       "0",
                       "--idle-timeout-ms",
                       "7",
                       "--commit-interval-ms",
                       "250",
                       "--clickhouse-url",
                       "http://ch:9000",
                       "--clickhouse-database",
                       "db_1",
                       "--clickhouse-batch-rows",
                       "10",
                       "--clickhouse-batch-ms",
                       "0",
                       "--group-id",
                       "g"});
  EXPECT_EQ(o.window.window_ms, 5000);
  EXPECT_EQ(o.window.allowed_lateness_ms, 0);
  EXPECT_EQ(o.window.idle_timeout_ms, 7);
  EXPECT_EQ(o.commit_interval_ms, 250);
  EXPECT_TRUE(o.sink_on());
  EXPECT_EQ(o.clickhouse_endpoint.host, "ch");
  EXPECT_EQ(o.clickhouse_endpoint.port, "9000");
  EXPECT_EQ(o.sink.database, "db_1");
  EXPECT_EQ(o.sink.batch_rows, 10U);
  EXPECT_EQ(o.sink.batch_ms, 0);
  EXPECT_EQ(o.dlq_topic(), "g.dlq");
  const auto c = orderflow::analytics::consumer_options(o);
  EXPECT_EQ(c.group_id, "g");
  EXPECT_EQ(c.topics, (std::vector<std::string>{"o", "p"}));
  EXPECT_TRUE(c.read_committed);
}

TEST(AnalyticsOptions, ExactlyOnceNamesTheTransactionalIdAfterGroupAndInstance) {
  const auto o = read({"--guarantee", "exactly-once", "--group-id", "g", "--instance-id", "7"});
  EXPECT_TRUE(o.exactly_once());
  EXPECT_EQ(orderflow::analytics::producer_options(o).transactional_id, "g-7");
}

TEST(AnalyticsOptions, InvalidValuesNameTheirFlag) {
  EXPECT_EQ(usage_error({"--window-ms", "0"}), "--window-ms: must be at least 1");
  EXPECT_EQ(usage_error({"--allowed-lateness-ms", "-1"}), "--allowed-lateness-ms: must not be negative");
  EXPECT_EQ(usage_error({"--idle-timeout-ms", "0"}), "--idle-timeout-ms: must be at least 1");
  EXPECT_EQ(usage_error({"--commit-interval-ms", "0"}), "--commit-interval-ms: must be at least 1");
  EXPECT_EQ(usage_error({"--startup-timeout-s", "0"}), "--startup-timeout-s: must be at least 1");
  EXPECT_EQ(usage_error({"--instance-id", ""}), "--instance-id: must not be empty");
  EXPECT_EQ(usage_error({"--clickhouse-batch-rows", "0"}), "--clickhouse-batch-rows: must be at least 1");
  EXPECT_EQ(usage_error({"--clickhouse-batch-ms", "-1"}), "--clickhouse-batch-ms: must not be negative");
  EXPECT_EQ(usage_error({"--clickhouse-timeout-ms", "0"}), "--clickhouse-timeout-ms: must be at least 1");
  EXPECT_EQ(usage_error({"--clickhouse-database", "a-b"}),
            "--clickhouse-database: letters, digits and _ only, got 'a-b'");
  EXPECT_EQ(usage_error({"--clickhouse-url", "https://ch"}).rfind("--clickhouse-url: ", 0), 0U);
}

TEST(AnalyticsOptions, TheSinkNeedsWholeSecondWindows) {
  EXPECT_EQ(usage_error({"--window-ms", "1500"}), "");
  EXPECT_EQ(usage_error({"--window-ms", "1500", "--clickhouse-url", "http://ch"}),
            "--window-ms: must be a whole number of seconds with --clickhouse-url");
}

TEST(AnalyticsOptions, PasswordIsTheFilesFirstLine) {
  const auto path = std::filesystem::temp_directory_path() /
                    ("analytics_options_test." + std::to_string(::getpid()) + ".password");
  {
    std::ofstream out(path);
    out << "s3cret\r\nsecond line\n";
  }
  const auto o = read({"--clickhouse-user", "u", "--clickhouse-password-file", path.string()});
  std::filesystem::remove(path);
  EXPECT_EQ(o.clickhouse_user, "u");
  EXPECT_EQ(o.clickhouse_password, "s3cret");
  EXPECT_EQ(usage_error({"--clickhouse-password-file", path.string()}),
            "--clickhouse-password-file: cannot read " + path.string());
}

}  // namespace
