// The hostile inputs of the hardening tests: the stored corpus (tests/data/hostile, with the exact
// x-error-message expected per input topic in cases.tsv) plus the generated ones too big to store, and the
// valid orders interleaved with them. Pure data builders; thread-safe; throw std::runtime_error when the
// corpus cannot be read.
#pragma once

#include <cstddef>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "orderflow/events/types.h"

namespace orderflow::testing {

struct HostileCase {
  std::string name;
  std::optional<std::string> key;    // "hostile:<name>"; nullopt for the null-key case
  std::optional<std::string> value;  // nullopt: a null value
  std::vector<std::pair<std::string, std::optional<std::string>>> headers;
  std::string on_orders;                    // exact x-error-message when it arrives on `orders`
  bool processed_on_orders = false;         // a valid order on `orders` (cases.tsv: "processed"), no message
  std::string on_payments;                  // ... on `payments` (notification-service)
  bool big = false;                         // produced in a phase of its own (see hostile_test.cpp)
  std::optional<std::string> payments_key;  // key of the copy sent to `payments`; nullopt: same as key
};

// The partition the services' producers (partitioner murmur2_random) choose for a non-null key.
int murmur2_partition(const std::string& key, int partitions);

inline constexpr std::size_t kDefaultMaxRecordBytes = 1048576;  // --max-record-bytes default

// tests/data/hostile/* as listed in cases.tsv (every file must be listed, and every listed file exist).
// A file whose `orders` column says "processed" is a valid order (it only carries fields the contract does
// not name): processed_on_orders is set and on_orders left empty.
std::vector<HostileCase> stored_cases();
// 100,000 nested arrays and objects, a 10 MiB and a 512 KiB string, 1,000 headers, null value, null key.
std::vector<HostileCase> generated_cases();

// A valid OrderCreated (checked with validate_order_created), serialised.
events::OrderCreated valid_order(std::mt19937_64& rng, int index);
// 1,000 headers of every shape (binary, NULL, empty name, garbage traceparent, forged x-* headers) that
// a valid record must survive.
std::vector<std::pair<std::string, std::optional<std::string>>> thousand_hostile_headers();

}  // namespace orderflow::testing
