// payment-service: consumes `orders`, decides each payment, publishes to `payments` (docs/contract.md §3
// Flags and environment to §8 Delivery guarantees).
#include "orderflow/payment/payment_handler.h"
#include "orderflow/runtime/stage_service.h"

using namespace orderflow;

int main(int argc, char** argv) {
  namespace po = runtime::po;
  runtime::StageService service;
  service.program = "payment-service";
  service.description =
      "Consumes OrderCreated events from `orders`, authorises or declines each payment and publishes\n"
      "PaymentProcessed to `payments` (keyed by customer_id). Offsets are committed only after the\n"
      "result (or its retry / dead-letter record) is acknowledged by the broker.";
  service.example = "payment-service --brokers localhost:9092";
  service.metrics_address = "0.0.0.0:9102";
  service.env = {{"max-amount-cents", "MAX_AMOUNT_CENTS"},
                 {"gateway-failure-rate", "GATEWAY_FAILURE_RATE"},
                 {"gateway-latency-ms", "GATEWAY_LATENCY_MS"}};
  service.add_options = [](runtime::CommandLine& cli) {
    const payment::PaymentConfig defaults;
    cli.options.add_options()("orders-topic",
                              po::value<std::string>()->default_value("orders")->value_name("TOPIC"),
                              "input topic")(
        "payments-topic",
        po::value<std::string>()->default_value(defaults.payments_topic)->value_name("TOPIC"),
        "output topic")("max-amount-cents",
                        po::value<long long>()->default_value(defaults.max_amount_cents)->value_name("CENTS"),
                        "decline orders above this amount")(
        "gateway-failure-rate",
        po::value<double>()->default_value(defaults.gateway_failure_rate)->value_name("RATIO"),
        "simulated transient gateway failures, 0..1")(
        "gateway-latency-ms",
        po::value<int>()->default_value(static_cast<int>(defaults.gateway_latency.count()))->value_name("MS"),
        "simulated gateway latency per call")(
        "seed", po::value<unsigned long long>()->default_value(defaults.seed)->value_name("N"),
        "seed of the gateway simulation");
  };
  service.configure = [](const po::variables_map& vm, messaging::StageOptions& stage) {
    payment::PaymentConfig config;
    stage.input_topics = {vm["orders-topic"].as<std::string>()};
    config.payments_topic = vm["payments-topic"].as<std::string>();
    stage.output_topics = {config.payments_topic};
    config.max_amount_cents = vm["max-amount-cents"].as<long long>();
    if (config.max_amount_cents < 0) throw runtime::UsageError("--max-amount-cents: must not be negative");
    config.gateway_failure_rate = vm["gateway-failure-rate"].as<double>();
    if (!(config.gateway_failure_rate >= 0.0 && config.gateway_failure_rate <= 1.0)) {
      throw runtime::UsageError("--gateway-failure-rate: must be between 0 and 1");
    }
    const int latency = vm["gateway-latency-ms"].as<int>();
    if (latency < 0) throw runtime::UsageError("--gateway-latency-ms: must not be negative");
    config.gateway_latency = std::chrono::milliseconds(latency);
    config.seed = vm["seed"].as<unsigned long long>();
    return runtime::HandlerFactory([config](runtime::ServiceMetrics& /*metrics*/) {
      return std::make_unique<payment::PaymentHandler>(config);
    });
  };
  return runtime::stage_service_main(argc, argv, service);
}
