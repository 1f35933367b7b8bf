// Fuzz target: decoding of header values a service reads from records anyone can write — parse_int_header
// (x-attempt, x-original-partition/offset, x-not-before), the W3C traceparent (trace_id_of,
// child_traceparent) — and what the service writes back: bounded_message (x-error-message) and
// failure_headers with arbitrary passthrough headers. Each result is compared with an independent
// reference written from the spec.
#include <algorithm>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "fuzz_targets.h"
#include "orderflow/messaging/record.h"
#include "orderflow/messaging/retry_policy.h"
#include "orderflow/messaging/trace_context.h"
#include "utf8.h"

namespace orderflow::fuzz {
namespace {

// Strict decimal int64: optional '-', at least one digit, nothing else (what from_chars accepts).
std::optional<std::int64_t> reference_int(std::string_view s) {
  if (s.empty()) return std::nullopt;
  std::size_t i = 0;
  const bool negative = s[0] == '-';
  if (negative) ++i;
  if (i == s.size()) return std::nullopt;
  std::uint64_t magnitude = 0;
  const std::uint64_t limit = negative ? std::uint64_t{1} << 63U : (std::uint64_t{1} << 63U) - 1;
  for (; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') return std::nullopt;
    const auto digit = static_cast<std::uint64_t>(s[i] - '0');
    if (magnitude > (limit - digit) / 10) return std::nullopt;
    magnitude = magnitude * 10 + digit;
  }
  if (!negative) return static_cast<std::int64_t>(magnitude);
  return magnitude == (std::uint64_t{1} << 63U) ? INT64_MIN : -static_cast<std::int64_t>(magnitude);
}

bool lower_hex(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// traceparent version 00: 00-<32 lower hex, not all 0>-<16 lower hex, not all 0>-<2 lower hex>.
bool reference_traceparent(std::string_view s) {
  return s.size() == 55 && s.substr(0, 3) == "00-" && s[35] == '-' && s[52] == '-' &&
         lower_hex(s.substr(3, 32)) && s.substr(3, 32) != std::string(32, '0') &&
         lower_hex(s.substr(36, 16)) && s.substr(36, 16) != std::string(16, '0') &&
         lower_hex(s.substr(53, 2));
}

void check_int_header(std::string_view s) {
  const auto got = messaging::parse_int_header(std::optional<std::string>(std::string(s)));
  const auto want = reference_int(s);
  ORDERFLOW_FUZZ_CHECK(got == want,
                       "parse_int_header disagrees with the reference on '" + std::string(s) + "'");
  ORDERFLOW_FUZZ_CHECK(!messaging::parse_int_header(std::nullopt).has_value(), "absent header parsed");
}

void check_traceparent(std::string_view s) {
  const auto id = messaging::trace_id_of(s);
  const bool well_formed = reference_traceparent(s);
  ORDERFLOW_FUZZ_CHECK(id.empty() != well_formed,
                       "trace_id_of disagrees with the reference on '" + std::string(s) + "'");
  if (well_formed) ORDERFLOW_FUZZ_CHECK(id == s.substr(3, 32), "trace_id_of returns the wrong slice");
  const std::string child = messaging::child_traceparent(s);
  ORDERFLOW_FUZZ_CHECK(reference_traceparent(child), "child_traceparent is malformed: " + child);
  if (well_formed) ORDERFLOW_FUZZ_CHECK(child.substr(3, 32) == s.substr(3, 32), "child lost the trace id");
}

void check_bounded(std::string_view s, std::size_t max_bytes) {
  const std::string out = messaging::bounded_message(s, max_bytes);
  if (s.size() <= max_bytes) {
    ORDERFLOW_FUZZ_CHECK(out == s, "bounded_message changed a message that fits");
    return;
  }
  ORDERFLOW_FUZZ_CHECK(out.size() <= max_bytes, "bounded_message too long");
  if (valid_utf8(s)) ORDERFLOW_FUZZ_CHECK(valid_utf8(out), "bounded_message split a UTF-8 sequence");
  static constexpr std::string_view kEllipsis = "\xE2\x80\xA6";
  if (!out.empty()) {
    ORDERFLOW_FUZZ_CHECK(
        out.size() >= kEllipsis.size() && std::string_view(out).substr(out.size() - 3) == kEllipsis,
        "a cut message does not end with an ellipsis");
    ORDERFLOW_FUZZ_CHECK(s.substr(0, out.size() - 3) == std::string_view(out).substr(0, out.size() - 3),
                         "a cut message is not a prefix of the original");
  }
}

// Passthrough headers from arbitrary bytes: name and value separated by '=', pairs by '\n'.
void check_failure_headers(std::string_view s) {
  messaging::Headers passthrough;
  std::size_t start = 0;
  while (start <= s.size() && passthrough.size() < 64) {
    const auto end = std::min(s.find('\n', start), s.size());
    const auto line = s.substr(start, end - start);
    const auto eq = line.find('=');
    passthrough.emplace_back(std::string(line.substr(0, eq)),
                             eq == std::string_view::npos ? std::string() : std::string(line.substr(eq + 1)));
    start = end + 1;
  }
  messaging::FailureHeaderInput in;
  in.origin = {"orders", 3, 42};
  in.error_message = s;
  in.service = "payment-service";
  in.failed_at_ms = 1;
  const auto out = messaging::failure_headers(in, passthrough);
  for (const auto name :
       {messaging::header::kOriginalTopic, messaging::header::kOriginalPartition,
        messaging::header::kOriginalOffset, messaging::header::kAttempt, messaging::header::kErrorClass,
        messaging::header::kErrorMessage, messaging::header::kFailedService, messaging::header::kFailedAt}) {
    const auto n =
        std::count_if(out.begin(), out.end(), [&](const messaging::Header& h) { return h.first == name; });
    ORDERFLOW_FUZZ_CHECK(n == 1,
                         "failure header " + std::string(name) + " appears " + std::to_string(n) + " times");
  }
  const auto not_before = std::count_if(out.begin(), out.end(), [](const messaging::Header& h) {
    return h.first == messaging::header::kNotBefore;
  });
  ORDERFLOW_FUZZ_CHECK(not_before == 0, "x-not-before on a dead letter (copied from the input?)");
}

}  // namespace

int headers_one(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  // Byte 0 picks bounded_message's limit (0..1023 with the next byte); the rest is the header value.
  const std::size_t max_bytes =
      size > 1 ? ((static_cast<std::size_t>(data[0]) << 8U) | data[1]) % 1024 : data[0];
  const std::string_view value(reinterpret_cast<const char*>(data) + (size > 1 ? 2 : 1),
                               size > 1 ? size - 2 : size - 1);
  check_int_header(value);
  check_traceparent(value);
  check_bounded(value, max_bytes);
  check_failure_headers(value);
  return 0;
}

}  // namespace orderflow::fuzz

#ifdef ORDERFLOW_LIBFUZZER
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return orderflow::fuzz::headers_one(data, size);
}
#endif
