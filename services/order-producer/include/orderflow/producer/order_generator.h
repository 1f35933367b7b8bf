// The order generator: a pure, seeded source of OrderCreated records (realistic carts, prices and
// currencies over a pool of customers) and of deliberately malformed ones (several kinds) to
// exercise dead-lettering. Same seed, same stream — except occurred_at, which is the time passed in.
// Not thread-safe (owns its random engine).
#pragma once

#include <chrono>
#include <cstdint>
#include <random>
#include <string>

#include "orderflow/events/events.h"

namespace orderflow::producer {

struct GeneratedRecord {
  std::string key;    // customer_id
  std::string value;  // JSON bytes
  std::string order_id;
  bool valid = true;
  std::string malformation;  // what is wrong, for invalid records
};

class OrderGenerator {
 public:
  OrderGenerator(std::uint64_t seed, int customers, double invalid_ratio);

  GeneratedRecord next(std::chrono::system_clock::time_point now);
  events::OrderCreated next_order(std::chrono::system_clock::time_point now);

 private:
  GeneratedRecord malformed(events::OrderCreated order);
  std::mt19937_64 rng_;
  int customers_;
  double invalid_ratio_;
  std::uint64_t sequence_ = 0;
};

}  // namespace orderflow::producer
