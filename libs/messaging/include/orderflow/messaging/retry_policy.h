// Retry schedule and the headers of retry/dead-letter records (docs/contract.md §6 Headers, §7 Retries and
// dead letters). Pure functions. x-attempt on a failure record counts the attempts that have failed so far;
// the next processing of a retry record is attempt x-attempt + 1.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "orderflow/messaging/failure.h"
#include "orderflow/messaging/record.h"

namespace orderflow::messaging {

struct RetryPolicy {
  std::chrono::milliseconds backoff{1000};
  int max_attempts = 4;
  std::chrono::milliseconds max_backoff{std::chrono::minutes(10)};

  // Delay before the attempt after `failed_attempt` (1-based): backoff × 2^(failed_attempt−1), capped.
  [[nodiscard]] std::chrono::milliseconds delay_after(int failed_attempt) const;
  [[nodiscard]] bool exhausted(int failed_attempt) const { return failed_attempt >= max_attempts; }
};

// Where a failed record came from. For a record read from a retry topic these are taken from its
// x-original-* headers, so they always name the first place the record was read.
struct Origin {
  std::string topic;
  std::int32_t partition = -1;
  std::int64_t offset = -1;
};

struct FailureHeaderInput {
  Origin origin;
  int attempt = 1;  // attempts failed so far
  ErrorClass error_class = ErrorClass::Transient;
  std::string_view error_message;
  std::string_view service;
  std::int64_t failed_at_ms = 0;
  std::int64_t not_before_ms = -1;  // retry records only
};

// The contract headers, followed by `passthrough` (e.g. trace context) minus any x-* header that
// this function sets itself.
Headers failure_headers(const FailureHeaderInput& in, const Headers& passthrough = {});

// Error messages go into a header: keep them bounded and valid UTF-8.
std::string bounded_message(std::string_view msg, std::size_t max_bytes = 1024);

std::int64_t now_ms();

}  // namespace orderflow::messaging
