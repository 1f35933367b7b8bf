// payment-service's record handler: parse + validate the order (poison on failure), call the
// simulated gateway (transient on failure), decide, and publish the PaymentProcessed keyed by
// customer_id with x-order-occurred-at (the stage adds the trace and correlation headers). Runs on the
// stage thread only. Free of librdkafka.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "orderflow/events/events.h"
#include "orderflow/messaging/handler.h"
#include "orderflow/payment/gateway_simulator.h"
#include "orderflow/payment/payment_decision.h"

namespace orderflow::payment {

// The service's settings and their defaults (the command line's defaults are read from here).
struct PaymentConfig {
  std::string payments_topic = "payments";
  std::int64_t max_amount_cents = kDefaultMaxAmountCents;
  double gateway_failure_rate = 0.0;
  std::chrono::milliseconds gateway_latency{0};
  std::uint64_t seed = 42;
};

class PaymentHandler final : public messaging::TypedHandler<events::OrderCreated> {
 public:
  explicit PaymentHandler(PaymentConfig config)
      : config_(std::move(config)),
        gateway_(config_.gateway_failure_rate, config_.gateway_latency, config_.seed) {}
  Parsed parse(const messaging::RecordView& record) override;
  messaging::HandlerResult handle(const events::OrderCreated& order,
                                  const messaging::RecordView& record) override;

 private:
  PaymentConfig config_;
  GatewaySimulator gateway_;
};

}  // namespace orderflow::payment
