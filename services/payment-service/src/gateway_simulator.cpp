#include "orderflow/payment/gateway_simulator.h"

#include <thread>

namespace orderflow::payment {

double GatewaySimulator::draw(std::string_view id, int attempt) const {
  // FNV-1a over seed, id and attempt, then a splitmix64 finaliser for a uniform draw.
  std::uint64_t h = 1469598103934665603ULL ^ seed_;
  auto mix = [&h](unsigned char c) {
    h ^= c;
    h *= 1099511628211ULL;
  };
  for (char c : id) mix(static_cast<unsigned char>(c));
  for (int i = 0; i < 4; ++i) mix(static_cast<unsigned char>((attempt >> (8 * i)) & 0xFF));
  h += 0x9E3779B97F4A7C15ULL;
  h = (h ^ (h >> 30U)) * 0xBF58476D1CE4E5B9ULL;
  h = (h ^ (h >> 27U)) * 0x94D049BB133111EBULL;
  h ^= h >> 31U;
  return static_cast<double>(h >> 11U) * 0x1.0p-53;
}

bool GatewaySimulator::call(std::string_view id, int attempt) const {
  if (latency_.count() > 0) std::this_thread::sleep_for(latency_);
  if (failure_rate_ <= 0.0) return true;
  return draw(id, attempt) >= failure_rate_;
}

}  // namespace orderflow::payment
