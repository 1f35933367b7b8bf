// notification-service: consumes `orders` and `payments`, delivers notifications through a sink and
// publishes NotificationSent to `notifications` (docs/contract.md §3 Flags and
// environment to §8 Delivery guarantees).
#include <memory>
#include <stdexcept>

#include "orderflow/notification/notification_handler.h"
#include "orderflow/notification/notification_metrics.h"
#include "orderflow/runtime/stage_service.h"

using namespace orderflow;

int main(int argc, char** argv) {
  namespace po = runtime::po;
  runtime::StageService service;
  service.program = "notification-service";
  service.description =
      "Consumes `orders` and `payments`; for each valid order sends ORDER_RECEIVED and for each payment\n"
      "PAYMENT_AUTHORIZED or PAYMENT_DECLINED through the sink, then publishes NotificationSent to\n"
      "`notifications`. De-duplicates on (order_id, kind) within a bounded window.";
  service.example = "notification-service --sink file:notifications.jsonl";
  service.metrics_address = "0.0.0.0:9103";
  service.env = {{"sink", "NOTIFICATION_SINK"},
                 {"sink-failure-rate", "SINK_FAILURE_RATE"},
                 {"dedupe-window", "DEDUPE_WINDOW"}};
  service.add_options = [](runtime::CommandLine& cli) {
    const notification::NotificationConfig defaults;
    cli.options.add_options()(
        "orders-topic", po::value<std::string>()->default_value(defaults.orders_topic)->value_name("TOPIC"),
        "input topic of orders")(
        "payments-topic",
        po::value<std::string>()->default_value(defaults.payments_topic)->value_name("TOPIC"),
        "input topic of payments")(
        "notifications-topic",
        po::value<std::string>()->default_value(defaults.notifications_topic)->value_name("TOPIC"),
        "output topic")("sink", po::value<std::string>()->default_value("log")->value_name("SINK"),
                        "log | file:PATH | webhook:URL")(
        "sink-failure-rate", po::value<double>()->default_value(0.0)->value_name("RATIO"),
        "simulated transient sink failures, 0..1")("webhook-timeout-ms",
                                                   po::value<int>()->default_value(2000)->value_name("MS"),
                                                   "webhook request timeout")(
        "channel", po::value<std::string>()->default_value(defaults.channel)->value_name("NAME"),
        "channel written into notifications")(
        "dedupe-window",
        po::value<int>()->default_value(static_cast<int>(defaults.dedupe_window))->value_name("N"),
        "(order_id, kind) pairs remembered for de-duplication")(
        "seed", po::value<unsigned long long>()->default_value(42)->value_name("N"),
        "seed of the sink failure simulation");
  };
  service.configure = [](const po::variables_map& vm, messaging::StageOptions& stage) {
    notification::NotificationConfig config;
    config.orders_topic = vm["orders-topic"].as<std::string>();
    config.payments_topic = vm["payments-topic"].as<std::string>();
    config.notifications_topic = vm["notifications-topic"].as<std::string>();
    config.channel = vm["channel"].as<std::string>();
    if (config.channel.empty() || config.channel.size() > 32)
      throw runtime::UsageError("--channel: must be 1 to 32 characters");
    const int window = vm["dedupe-window"].as<int>();
    if (window < 1) throw runtime::UsageError("--dedupe-window: must be at least 1");
    config.dedupe_window = static_cast<std::size_t>(window);
    const double rate = vm["sink-failure-rate"].as<double>();
    if (!(rate >= 0.0 && rate <= 1.0))
      throw runtime::UsageError("--sink-failure-rate: must be between 0 and 1");
    const int timeout = vm["webhook-timeout-ms"].as<int>();
    if (timeout < 1) throw runtime::UsageError("--webhook-timeout-ms: must be at least 1");
    stage.input_topics = {config.orders_topic, config.payments_topic};
    stage.output_topics = {config.notifications_topic};
    // Made here, not when the handler is: the file sink opens its file, so that --check-config reports a
    // path that cannot be opened. Held by a shared_ptr because a HandlerFactory is copyable; it is called
    // once.
    auto sink = std::make_shared<std::unique_ptr<notification::Sink>>();
    try {
      *sink = notification::with_failure_rate(
          notification::make_sink(vm["sink"].as<std::string>(), std::chrono::milliseconds(timeout)), rate,
          vm["seed"].as<unsigned long long>());
    } catch (const std::invalid_argument& e) {
      throw runtime::UsageError(e.what());
    }
    return runtime::HandlerFactory([config, sink](runtime::ServiceMetrics& metrics) {
      return std::make_unique<notification::NotificationHandler>(
          config, std::move(*sink), std::make_unique<notification::NotificationMetrics>(metrics));
    });
  };
  return runtime::stage_service_main(argc, argv, service);
}
