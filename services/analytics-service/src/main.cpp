// analytics-service: consumes `orders` and `payments`, aggregates them in tumbling event-time windows and
// publishes each closed window to `order-stats`, optionally writing the records and windows to ClickHouse
// (docs/contract.md §3 Flags and environment to §8 Delivery guarantees). The flags are
// orderflow/analytics/analytics_options.h's, the run orderflow/analytics/analytics_service.h's.
#include <spdlog/spdlog.h>

#include "orderflow/analytics/analytics_metrics.h"
#include "orderflow/analytics/analytics_options.h"
#include "orderflow/analytics/analytics_service.h"
#include "orderflow/runtime/cli.h"
#include "orderflow/runtime/logging.h"
#include "orderflow/runtime/metrics.h"

using namespace orderflow;

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
  analytics::add_analytics_options(cli);

  auto parsed = runtime::parse_command_line(cli, argc, argv);
  if (parsed.exit_code) return *parsed.exit_code;
  analytics::AnalyticsOptions options;
  try {
    options = analytics::read_analytics_options(parsed.vm);
  } catch (const runtime::UsageError& e) {
    return runtime::usage_error(cli.program, e.what());
  } catch (const messaging::ConfigError& e) {
    return runtime::usage_error(cli.program, e.what());
  }
  runtime::setup_logging("analytics-service", options.common.log_level, options.common.log_format);
  if (options.common.check_config) {
    return runtime::check_config(cli, parsed.vm, [&] {
      messaging::Consumer::check_config(analytics::consumer_options(options));
      messaging::Producer::check_config(analytics::producer_options(options));
    });
  }
  runtime::ServiceMetrics metrics("analytics-service");
  analytics::AnalyticsMetrics analytics_metrics(metrics, options.sink_on());
  analytics::AnalyticsService service(std::move(options), metrics, analytics_metrics);
  return service.run();
}
