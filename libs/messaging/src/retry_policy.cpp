#include "orderflow/messaging/retry_policy.h"

#include <algorithm>
#include <array>

namespace orderflow::messaging {

std::chrono::milliseconds RetryPolicy::delay_after(int failed_attempt) const {
  const int shift = std::clamp(failed_attempt - 1, 0, 30);
  const auto delay = backoff * (std::int64_t{1} << shift);
  return std::min(delay, max_backoff);
}

namespace {
bool is_failure_header(std::string_view name) {
  static constexpr std::array<std::string_view, 9> kOwn = {
      header::kOriginalTopic, header::kOriginalPartition, header::kOriginalOffset,
      header::kAttempt,       header::kErrorClass,        header::kErrorMessage,
      header::kFailedService, header::kFailedAt,          header::kNotBefore};
  return std::find(kOwn.begin(), kOwn.end(), name) != kOwn.end();
}
}  // namespace

Headers failure_headers(const FailureHeaderInput& in, const Headers& passthrough) {
  Headers h;
  h.reserve(passthrough.size() + 9);
  h.emplace_back(header::kOriginalTopic, in.origin.topic);
  h.emplace_back(header::kOriginalPartition, std::to_string(in.origin.partition));
  h.emplace_back(header::kOriginalOffset, std::to_string(in.origin.offset));
  h.emplace_back(header::kAttempt, std::to_string(in.attempt));
  h.emplace_back(header::kErrorClass, std::string(to_string(in.error_class)));
  h.emplace_back(header::kErrorMessage, bounded_message(in.error_message));
  h.emplace_back(header::kFailedService, std::string(in.service));
  h.emplace_back(header::kFailedAt, std::to_string(in.failed_at_ms));
  if (in.not_before_ms >= 0) h.emplace_back(header::kNotBefore, std::to_string(in.not_before_ms));
  for (const auto& p : passthrough) {
    if (!is_failure_header(p.first)) h.push_back(p);
  }
  return h;
}

std::string bounded_message(std::string_view msg, std::size_t max_bytes) {
  if (msg.size() <= max_bytes) return std::string(msg);
  static constexpr std::string_view kEllipsis = "…";  // 3 bytes: the result stays within max_bytes
  if (max_bytes < kEllipsis.size()) return std::string(msg.substr(0, 0));
  std::size_t cut = max_bytes - kEllipsis.size();
  // Do not split a UTF-8 sequence: back up to a lead byte.
  while (cut > 0 && (static_cast<unsigned char>(msg[cut]) & 0xC0U) == 0x80U) --cut;
  return std::string(msg.substr(0, cut)) + std::string(kEllipsis);
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace orderflow::messaging
