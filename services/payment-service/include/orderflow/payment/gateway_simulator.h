// A simulated payment gateway: fails a call with probability `failure_rate` (transient: "gateway
// timeout") after `latency`. The outcome is a deterministic function of (seed, order event id,
// attempt), so a run is reproducible whatever the processing order. Thread-safe (stateless).
#pragma once

#include <chrono>
#include <cstdint>
#include <string_view>

namespace orderflow::payment {

class GatewaySimulator {
 public:
  GatewaySimulator(double failure_rate, std::chrono::milliseconds latency, std::uint64_t seed)
      : failure_rate_(failure_rate), latency_(latency), seed_(seed) {}

  // True when the call succeeds. Sleeps for the configured latency (simulated network time).
  [[nodiscard]] bool call(std::string_view order_event_id, int attempt) const;
  // The deterministic draw in [0, 1) used by call().
  [[nodiscard]] double draw(std::string_view order_event_id, int attempt) const;

 private:
  double failure_rate_;
  std::chrono::milliseconds latency_;
  std::uint64_t seed_;
};

}  // namespace orderflow::payment
