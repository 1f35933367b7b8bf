// RetryPolicy (backoff doubling, cap, exhaustion: docs/contract.md §7 Retries and dead letters),
// failure_headers (§6 Headers: header set, order, passthrough filtering) and bounded_message (bounded, never
// splits a UTF-8 sequence).
#include "orderflow/messaging/retry_policy.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "orderflow/messaging/failure.h"
#include "orderflow/messaging/record.h"

namespace {

using namespace std::chrono_literals;
using orderflow::messaging::bounded_message;
using orderflow::messaging::ErrorClass;
using orderflow::messaging::failure_headers;
using orderflow::messaging::FailureHeaderInput;
using orderflow::messaging::Headers;
using orderflow::messaging::RetryPolicy;
namespace header = orderflow::messaging::header;

// Strict UTF-8 check (no overlongs, no surrogates, max U+10FFFF).
bool valid_utf8(const std::string& s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t len = 0;
    std::uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    }
    if ((c & 0xE0U) == 0xC0U) {
      len = 2;
      cp = c & 0x1FU;
    } else if ((c & 0xF0U) == 0xE0U) {
      len = 3;
      cp = c & 0x0FU;
    } else if ((c & 0xF8U) == 0xF0U) {
      len = 4;
      cp = c & 0x07U;
    } else {
      return false;
    }
    if (i + len > s.size()) return false;
    for (std::size_t j = 1; j < len; ++j) {
      const auto cc = static_cast<unsigned char>(s[i + j]);
      if ((cc & 0xC0U) != 0x80U) return false;
      cp = (cp << 6U) | (cc & 0x3FU);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000)) return false;
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

// ---- RetryPolicy
// --------------------------------------------------------------------------------------------

TEST(RetryPolicyTest, DefaultsMatchTheContract) {
  const RetryPolicy p;
  EXPECT_EQ(p.backoff, 1000ms);
  EXPECT_EQ(p.max_attempts, 4);
}

TEST(RetryPolicyTest, DelayDoublesPerFailedAttempt) {
  RetryPolicy p;
  p.backoff = 250ms;
  EXPECT_EQ(p.delay_after(1), 250ms);
  EXPECT_EQ(p.delay_after(2), 500ms);
  EXPECT_EQ(p.delay_after(3), 1000ms);
  EXPECT_EQ(p.delay_after(4), 2000ms);
  EXPECT_EQ(p.delay_after(5), 4000ms);
}

TEST(RetryPolicyTest, DelayIsCappedAtMaxBackoff) {
  RetryPolicy p;
  p.backoff = 1000ms;
  p.max_backoff = 5000ms;
  EXPECT_EQ(p.delay_after(3), 4000ms);
  EXPECT_EQ(p.delay_after(4), 5000ms);
  EXPECT_EQ(p.delay_after(10), 5000ms);
}

TEST(RetryPolicyTest, HugeAttemptNumbersDoNotOverflow) {
  RetryPolicy p;  // default cap of 10 minutes
  EXPECT_EQ(p.delay_after(31), p.max_backoff);
  EXPECT_EQ(p.delay_after(64), p.max_backoff);
  EXPECT_EQ(p.delay_after(1'000'000), p.max_backoff);
  p.backoff = std::chrono::milliseconds(std::chrono::hours(24));
  p.max_backoff = std::chrono::milliseconds(std::chrono::hours(24 * 365));
  const auto d = p.delay_after(1000);
  EXPECT_GT(d.count(), 0) << "must not wrap around to a negative delay";
  EXPECT_LE(d, p.max_backoff);
}

TEST(RetryPolicyTest, NonPositiveAttemptGetsTheBaseBackoff) {
  RetryPolicy p;
  p.backoff = 300ms;
  EXPECT_EQ(p.delay_after(0), 300ms);
  EXPECT_EQ(p.delay_after(-5), 300ms);
}

TEST(RetryPolicyTest, ExhaustedAfterMaxAttempts) {
  RetryPolicy p;  // 4 attempts
  EXPECT_FALSE(p.exhausted(1));
  EXPECT_FALSE(p.exhausted(2));
  EXPECT_FALSE(p.exhausted(3));
  EXPECT_TRUE(p.exhausted(4));
  EXPECT_TRUE(p.exhausted(5));
  p.max_attempts = 1;
  EXPECT_TRUE(p.exhausted(1)) << "a single attempt: the first failure is final";
}

// ---- failure_headers
// ----------------------------------------------------------------------------------------

FailureHeaderInput sample_input() {
  FailureHeaderInput in;
  in.origin = {"orders", 3, 41};
  in.attempt = 2;
  in.error_class = ErrorClass::Transient;
  in.error_message = "payment gateway timeout";
  in.service = "payment-service";
  in.failed_at_ms = 1'700'000'000'123;
  in.not_before_ms = 1'700'000'002'123;
  return in;
}

TEST(FailureHeadersTest, RetryRecordCarriesEveryContractHeaderInOrder) {
  const Headers h = failure_headers(sample_input());
  const Headers expected{
      {"x-original-topic", "orders"},
      {"x-original-partition", "3"},
      {"x-original-offset", "41"},
      {"x-attempt", "2"},
      {"x-error-class", "transient"},
      {"x-error-message", "payment gateway timeout"},
      {"x-failed-service", "payment-service"},
      {"x-failed-at", "1700000000123"},
      {"x-not-before", "1700000002123"},
  };
  EXPECT_EQ(h, expected);
}

TEST(FailureHeadersTest, HeaderNameConstantsAreTheContractNames) {
  EXPECT_EQ(header::kOriginalTopic, "x-original-topic");
  EXPECT_EQ(header::kOriginalPartition, "x-original-partition");
  EXPECT_EQ(header::kOriginalOffset, "x-original-offset");
  EXPECT_EQ(header::kAttempt, "x-attempt");
  EXPECT_EQ(header::kErrorClass, "x-error-class");
  EXPECT_EQ(header::kErrorMessage, "x-error-message");
  EXPECT_EQ(header::kFailedService, "x-failed-service");
  EXPECT_EQ(header::kFailedAt, "x-failed-at");
  EXPECT_EQ(header::kNotBefore, "x-not-before");
}

TEST(FailureHeadersTest, DeadLetterRecordHasNoNotBefore) {
  auto in = sample_input();
  in.not_before_ms = -1;
  in.error_class = ErrorClass::Poison;
  const Headers h = failure_headers(in);
  ASSERT_EQ(h.size(), 8U);
  for (const auto& [name, value] : h) EXPECT_NE(name, "x-not-before");
  EXPECT_EQ(h[4], (std::pair<std::string, std::string>{"x-error-class", "poison"}));
}

TEST(FailureHeadersTest, NotBeforeZeroIsStillWritten) {
  auto in = sample_input();
  in.not_before_ms = 0;
  const Headers h = failure_headers(in);
  ASSERT_EQ(h.size(), 9U);
  EXPECT_EQ(h[8], (std::pair<std::string, std::string>{"x-not-before", "0"}));
}

TEST(FailureHeadersTest, ErrorClassSpellings) {
  EXPECT_EQ(orderflow::messaging::to_string(ErrorClass::Poison), "poison");
  EXPECT_EQ(orderflow::messaging::to_string(ErrorClass::Transient), "transient");
  EXPECT_EQ(orderflow::messaging::to_string(ErrorClass::Exhausted), "exhausted");
  auto in = sample_input();
  in.error_class = ErrorClass::Exhausted;
  EXPECT_EQ(failure_headers(in)[4].second, "exhausted");
}

TEST(FailureHeadersTest, UnknownOriginIsWrittenAsMinusOne) {
  FailureHeaderInput in;
  in.origin.topic = "orders";
  const Headers h = failure_headers(in);
  EXPECT_EQ(h[1].second, "-1");
  EXPECT_EQ(h[2].second, "-1");
  EXPECT_EQ(h[3].second, "1") << "default attempt";
}

TEST(FailureHeadersTest, PassthroughFollowsInOrderMinusTheFunctionsOwnHeaders) {
  // A record read back from the retry topic carries the previous failure's headers; they must be replaced,
  // not duplicated, while trace context and correlation headers pass through unchanged and in order.
  const Headers passthrough{
      {"traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
      {"x-attempt", "1"},
      {"x-error-class", "poison"},
      {"x-correlation-id", "order-7"},
      {"x-original-topic", "payment-service.retry"},
      {"x-original-partition", "9"},
      {"x-original-offset", "99"},
      {"x-error-message", "old"},
      {"x-failed-service", "someone-else"},
      {"x-failed-at", "1"},
      {"x-not-before", "2"},
      {"x-order-occurred-at", "2026-11-23T12:00:00.123Z"},
      {"custom", ""},
  };
  const Headers h = failure_headers(sample_input(), passthrough);
  ASSERT_EQ(h.size(), 9U + 4U);
  EXPECT_EQ(h[9], passthrough[0]);
  EXPECT_EQ(h[10], passthrough[3]);
  EXPECT_EQ(h[11], passthrough[11]);
  EXPECT_EQ(h[12], passthrough[12]);
  // Each contract header exactly once, with the new values.
  for (std::string_view name : {header::kOriginalTopic, header::kOriginalPartition, header::kOriginalOffset,
                                header::kAttempt, header::kErrorClass, header::kErrorMessage,
                                header::kFailedService, header::kFailedAt, header::kNotBefore}) {
    int count = 0;
    for (const auto& [n, v] : h) count += n == name ? 1 : 0;
    EXPECT_EQ(count, 1) << name;
  }
  EXPECT_EQ(h[0].second, "orders");
  EXPECT_EQ(h[3].second, "2");
}

TEST(FailureHeadersTest, LongErrorMessageIsBounded) {
  auto in = sample_input();
  const std::string huge(10000, 'e');
  in.error_message = huge;
  const Headers h = failure_headers(in);
  EXPECT_LT(h[5].second.size(), 1100U);
  EXPECT_EQ(h[5].second.substr(0, 100), std::string(100, 'e'));
}

// ---- bounded_message
// ----------------------------------------------------------------------------------------

TEST(BoundedMessageTest, ShortMessagesAreUnchanged) {
  EXPECT_EQ(bounded_message(""), "");
  EXPECT_EQ(bounded_message("order_id: must not be empty"), "order_id: must not be empty");
  const std::string exact(1024, 'x');
  EXPECT_EQ(bounded_message(exact), exact) << "exactly max_bytes is not cut";
  EXPECT_EQ(bounded_message("abcdef", 6), "abcdef");
}

TEST(BoundedMessageTest, LongAsciiIsCutWithAnEllipsisWithinMaxBytes) {
  EXPECT_EQ(bounded_message("abcdefghij", 4), "a…");
  const std::string long_text(2000, 'y');
  const auto out = bounded_message(long_text);
  EXPECT_EQ(out, std::string(1021, 'y') + "…");
  EXPECT_EQ(out.size(), 1024U);
}

TEST(BoundedMessageTest, NeverSplitsAMultiByteSequence) {
  // 2-, 3- and 4-byte sequences at every possible cut position.
  for (const std::string& unit : {std::string("é"), std::string("€"), std::string("😀")}) {
    std::string text;
    for (int i = 0; i < 50; ++i) text += unit;
    for (std::size_t prefix = 0; prefix < 4; ++prefix) {
      const std::string msg = std::string(prefix, 'a') + text;
      for (std::size_t max = 3; max < 40; ++max) {
        const auto out = bounded_message(msg, max);
        ASSERT_TRUE(valid_utf8(out)) << "unit " << unit << " prefix " << prefix << " max " << max;
        ASSERT_LE(out.size(), max);
        ASSERT_EQ(out.substr(out.size() - 3), "…");
        const auto kept = out.substr(0, out.size() - 3);
        ASSERT_GT(kept.size() + unit.size(), max - 3) << "cut no further back than the sequence start";
        ASSERT_EQ(msg.compare(0, kept.size(), kept), 0) << "a prefix of the original";
      }
    }
  }
}

TEST(BoundedMessageTest, BudgetBelowTheEllipsisIsEmpty) {
  EXPECT_EQ(bounded_message("abc", 2), "");
}

// The ellipsis counts against the budget: a caller sizing a header by max_bytes gets no more.
TEST(BoundedMessageTest, ResultNeverExceedsMaxBytes) {
  for (std::size_t max : {4U, 16U, 1024U}) {
    const std::string msg(max * 2, 'z');
    EXPECT_LE(bounded_message(msg, max).size(), max) << "max " << max;
  }
}

}  // namespace
