// analytics-service's own flags and environment variables (add_analytics_options) and the typed options
// a run starts from (read_analytics_options), with every check a start makes before contacting anything.
// Each default is written once: the initialisers below (and WindowConfig's, SinkConfig's), which the flags
// show in --help and fall back to.
#pragma once

#include <string>

#include "orderflow/analytics/clickhouse_sink.h"
#include "orderflow/analytics/window.h"
#include "orderflow/messaging/consumer.h"
#include "orderflow/messaging/kafka_config.h"
#include "orderflow/messaging/producer.h"
#include "orderflow/runtime/cli.h"

namespace orderflow::analytics {

struct AnalyticsOptions {
  runtime::CommonOptions common;
  std::string orders_topic = "orders";
  std::string payments_topic = "payments";
  std::string stats_topic = "order-stats";
  WindowConfig window;
  int commit_interval_ms = 1000;
  int startup_timeout_s = 30;
  // Exactly-once: stable per instance (part of the transactional.id).
  std::string instance_id = "0";

  // The ClickHouse sink; none when the URL is empty.
  std::string clickhouse_url;
  ClickHouseEndpoint clickhouse_endpoint;  // parsed from the URL
  SinkConfig sink;
  int clickhouse_timeout_ms = 10000;
  std::string clickhouse_user;
  std::string clickhouse_password;  // the first line of --clickhouse-password-file

  messaging::KafkaProperties kafka;  // bootstrap.servers and every -X

  [[nodiscard]] bool exactly_once() const { return common.guarantee == "exactly-once"; }
  [[nodiscard]] bool sink_on() const { return !clickhouse_url.empty(); }
  // Where the rows ClickHouse refuses go.
  [[nodiscard]] std::string dlq_topic() const { return common.group_id + ".dlq"; }
};

// The flags of analytics-service besides runtime::add_common_options', with their environment variables.
void add_analytics_options(runtime::CommandLine& cli);

// Reads the common options and the service's own; throws runtime::UsageError naming the flag (exit 2) on an
// invalid value, messaging::ConfigError on an invalid -X entry. Reads --clickhouse-password-file.
[[nodiscard]] AnalyticsOptions read_analytics_options(const runtime::po::variables_map& vm);

// The clients as the service configures them (also what --check-config checks).
[[nodiscard]] messaging::ConsumerOptions consumer_options(const AnalyticsOptions& options);
[[nodiscard]] messaging::ProducerOptions producer_options(const AnalyticsOptions& options);

}  // namespace orderflow::analytics
