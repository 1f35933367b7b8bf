// StageRouter (docs/contract.md §7 Retries and dead letters): what one consumed record's processing sends —
// the handler's outputs, one retry record (backoff, x-not-before, x-attempt, partition under key ordering)
// or one dead letter (poison at once, exhausted after the last attempt, without its value when oversized),
// the headers carried over from the input, the trace and correlation headers the stage adds to the handler's
// outputs, and the Outcome labels.
#include "orderflow/messaging/stage_router.h"

#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "orderflow/messaging/trace_context.h"

namespace {

using namespace std::chrono_literals;
using orderflow::messaging::ErrorClass;
using orderflow::messaging::Failure;
using orderflow::messaging::HandlerResult;
using orderflow::messaging::Headers;
using orderflow::messaging::Origin;
using orderflow::messaging::Outcome;
using orderflow::messaging::OutRecord;
using orderflow::messaging::Plan;
using orderflow::messaging::RetryOrdering;
using orderflow::messaging::RouteInput;
using orderflow::messaging::RouterConfig;
using orderflow::messaging::StageRouter;
using orderflow::messaging::trace_id_of;
namespace header = orderflow::messaging::header;

constexpr std::int64_t kNow = 1'700'000'000'000;
const std::string kTraceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

RouterConfig config(RetryOrdering ordering = RetryOrdering::None) {
  RouterConfig c;
  c.service = "payment-service";
  c.retry_topic = "payment-service.retry";
  c.dlq_topic = "payment-service.dlq";
  c.retry.backoff = 1000ms;
  c.retry.max_attempts = 4;
  c.retry.max_backoff = 10000ms;
  c.ordering = ordering;
  c.max_record_bytes = 100;
  return c;
}

// A record first read at orders[2]@17, now read from partition 5 (of the retry topic or of `orders`).
RouteInput input(int attempt = 1, std::size_t value_bytes = 10) {
  RouteInput in;
  in.origin = Origin{"orders", 2, 17};
  in.partition = 5;
  in.attempt = attempt;
  in.value_bytes = value_bytes;
  in.headers = {{std::string(header::kCorrelationId), "order-1"},
                {std::string(header::kTraceparent), kTraceparent},
                {"x-custom", "kept"}};
  return in;
}

std::optional<std::string> value_of(const Headers& h, std::string_view name) {
  std::optional<std::string> found;
  for (const auto& [n, v] : h) {
    if (n == name) found = v;
  }
  return found;
}

std::size_t count_of(const Headers& h, std::string_view name) {
  std::size_t n = 0;
  for (const auto& p : h) n += p.first == name ? 1 : 0;
  return n;
}

TEST(StageRouterTest, OutcomeLabelsAreTheMetricsLabels) {
  EXPECT_EQ(to_string(Outcome::Success), "success");
  EXPECT_EQ(to_string(Outcome::Declined), "declined");
  EXPECT_EQ(to_string(Outcome::Retried), "retried");
  EXPECT_EQ(to_string(Outcome::DeadLettered), "dead_lettered");
  EXPECT_EQ(to_string(Outcome::Skipped), "");
}

TEST(StageRouterTest, SuccessSendsTheOutputsWithTheHopHeaders) {
  const StageRouter router(config());
  HandlerResult result;
  result.outputs.push_back(OutRecord{"payments", std::string("cust-1"), "{}", {{"x-own", "1"}}});
  result.outputs.push_back(OutRecord{"audit", std::nullopt, "v", {}});
  const Plan plan = router.route(input(), std::move(result), kNow);
  EXPECT_EQ(plan.outcome, Outcome::Success);
  EXPECT_FALSE(plan.failure);
  ASSERT_EQ(plan.outputs.size(), 2U);
  EXPECT_EQ(plan.outputs[0].topic, "payments");
  EXPECT_EQ(plan.outputs[0].key, "cust-1");
  EXPECT_EQ(plan.outputs[1].topic, "audit");
  EXPECT_FALSE(plan.outputs[1].key);
  for (const auto& out : plan.outputs) {
    // x-correlation-id and traceparent first, then the handler's own, in its order.
    ASSERT_GE(out.headers.size(), 2U) << out.topic;
    EXPECT_EQ(out.headers[0], (std::pair<std::string, std::string>{"x-correlation-id", "order-1"}));
    EXPECT_EQ(out.headers[1].first, "traceparent");
    EXPECT_EQ(trace_id_of(out.headers[1].second), trace_id_of(kTraceparent)) << "the trace continues";
    EXPECT_NE(out.headers[1].second, kTraceparent) << "with a new span";
  }
  EXPECT_EQ(plan.outputs[0].headers.size(), 3U);
  EXPECT_EQ(plan.outputs[0].headers[2], (std::pair<std::string, std::string>{"x-own", "1"}));
  EXPECT_NE(plan.outputs[0].headers[1].second, plan.outputs[1].headers[1].second)
      << "each produced record is a span of its own";
}

// The stage adds traceparent and x-correlation-id to every output (docs/contract.md §6) unless the handler
// set them; the correlation is the handler's (from its event) before the input's.
TEST(StageRouterTest, HopHeadersPreferTheHandlersCorrelationThenTheInputs) {
  const std::vector<orderflow::messaging::HeaderView> in = {{"x-correlation-id", "from-input"},
                                                            {"traceparent", kTraceparent}};
  HandlerResult named;
  named.correlation_id = "order-7";
  named.outputs.push_back(OutRecord{"payments", std::nullopt, "{}", {}});
  auto plan = StageRouter::accept(std::move(named), in);
  EXPECT_EQ(value_of(plan.outputs[0].headers, header::kCorrelationId), "order-7");

  HandlerResult carried;
  carried.outputs.push_back(OutRecord{"payments", std::nullopt, "{}", {}});
  plan = StageRouter::accept(std::move(carried), in);
  EXPECT_EQ(value_of(plan.outputs[0].headers, header::kCorrelationId), "from-input");

  HandlerResult none;
  none.outputs.push_back(OutRecord{"payments", std::nullopt, "{}", {}});
  plan = StageRouter::accept(std::move(none), {});
  EXPECT_EQ(count_of(plan.outputs[0].headers, header::kCorrelationId), 0U) << "no correlation to carry";
  EXPECT_EQ(trace_id_of(value_of(plan.outputs[0].headers, header::kTraceparent).value_or("")).size(), 32U)
      << "no parent: a new trace";
}

TEST(StageRouterTest, HopHeadersTheHandlerSetItselfAreKept) {
  const std::vector<orderflow::messaging::HeaderView> in = {{"x-correlation-id", "from-input"},
                                                            {"traceparent", kTraceparent}};
  const std::string own = "00-11111111111111111111111111111111-2222222222222222-01";
  HandlerResult result;
  result.correlation_id = "order-7";
  result.outputs.push_back(
      OutRecord{"payments", std::nullopt, "{}", {{"traceparent", own}, {"x-correlation-id", "mine"}}});
  const auto plan = StageRouter::accept(std::move(result), in);
  EXPECT_EQ(plan.outputs[0].headers, (Headers{{"traceparent", own}, {"x-correlation-id", "mine"}}));
}

TEST(StageRouterTest, HopHeadersMalformedParentStartsANewTrace) {
  const std::vector<orderflow::messaging::HeaderView> in = {{"traceparent", "00-not-a-trace"}};
  HandlerResult result;
  result.outputs.push_back(OutRecord{"payments", std::nullopt, "{}", {}});
  const auto plan = StageRouter::accept(std::move(result), in);
  const auto tp = value_of(plan.outputs[0].headers, header::kTraceparent);
  ASSERT_TRUE(tp.has_value());
  EXPECT_EQ(trace_id_of(*tp).size(), 32U) << *tp;
  EXPECT_EQ(count_of(plan.outputs[0].headers, header::kTraceparent), 1U);
}

TEST(StageRouterTest, NoOutputsIsStillASuccess) {
  const Plan plan = StageRouter::accept(HandlerResult{});
  EXPECT_EQ(plan.outcome, Outcome::Success);
  EXPECT_TRUE(plan.outputs.empty());
  EXPECT_FALSE(plan.failure);
}

TEST(StageRouterTest, DeclinedKeepsItsOutcome) {
  HandlerResult result;
  result.outcome = Outcome::Declined;
  result.outputs.push_back(OutRecord{"payments", std::nullopt, "{}", {}});
  const Plan plan = StageRouter::accept(std::move(result));
  EXPECT_EQ(plan.outcome, Outcome::Declined);
  EXPECT_EQ(plan.outputs.size(), 1U);
}

TEST(StageRouterTest, TransientFailureIsRetriedWithBackoff) {
  const StageRouter router(config());
  const Plan plan = router.route(input(1), HandlerResult::fail(Failure::transient("gateway timeout")), kNow);
  EXPECT_EQ(plan.outcome, Outcome::Retried);
  EXPECT_TRUE(plan.outputs.empty());
  ASSERT_TRUE(plan.failure);
  const auto& r = *plan.failure;
  EXPECT_EQ(r.topic, "payment-service.retry");
  EXPECT_EQ(r.partition, -1);  // the partitioner's choice without key ordering
  EXPECT_TRUE(r.with_value);
  EXPECT_EQ(r.error_class, ErrorClass::Transient);
  EXPECT_EQ(r.attempt, 1);
  EXPECT_EQ(r.message, "gateway timeout");
  EXPECT_EQ(value_of(r.headers, header::kNotBefore), std::to_string(kNow + 1000));
  EXPECT_EQ(value_of(r.headers, header::kAttempt), "1");
  EXPECT_EQ(value_of(r.headers, header::kErrorClass), "transient");
  EXPECT_EQ(value_of(r.headers, header::kErrorMessage), "gateway timeout");
  EXPECT_EQ(value_of(r.headers, header::kFailedService), "payment-service");
  EXPECT_EQ(value_of(r.headers, header::kFailedAt), std::to_string(kNow));
  EXPECT_EQ(value_of(r.headers, header::kOriginalTopic), "orders");
  EXPECT_EQ(value_of(r.headers, header::kOriginalPartition), "2");
  EXPECT_EQ(value_of(r.headers, header::kOriginalOffset), "17");
}

TEST(StageRouterTest, BackoffDoublesWithTheAttemptAndIsCapped) {
  const StageRouter router(config());
  const auto not_before = [&](int attempt) {
    const Plan plan = router.route_failure(input(attempt), Failure::transient("t"), kNow);
    EXPECT_EQ(plan.outcome, Outcome::Retried);
    return value_of(plan.failure->headers, header::kNotBefore);
  };
  EXPECT_EQ(not_before(2), std::to_string(kNow + 2000));
  EXPECT_EQ(not_before(3), std::to_string(kNow + 4000));
  RouterConfig c = config();
  c.retry.max_attempts = 10;
  const StageRouter long_router(c);
  const Plan capped = long_router.route_failure(input(8), Failure::transient("t"), kNow);
  EXPECT_EQ(value_of(capped.failure->headers, header::kNotBefore), std::to_string(kNow + 10000));
}

TEST(StageRouterTest, LastAttemptIsDeadLetteredAsExhausted) {
  const StageRouter router(config());
  const Plan plan = router.route_failure(input(4), Failure::transient("gateway timeout"), kNow);
  EXPECT_EQ(plan.outcome, Outcome::DeadLettered);
  ASSERT_TRUE(plan.failure);
  const auto& r = *plan.failure;
  EXPECT_EQ(r.topic, "payment-service.dlq");
  EXPECT_EQ(r.partition, -1);
  EXPECT_TRUE(r.with_value);
  EXPECT_EQ(r.error_class, ErrorClass::Exhausted);
  EXPECT_EQ(value_of(r.headers, header::kErrorClass), "exhausted");
  EXPECT_EQ(value_of(r.headers, header::kAttempt), "4");
  EXPECT_FALSE(value_of(r.headers, header::kNotBefore));
}

TEST(StageRouterTest, PoisonIsDeadLetteredAtOnce) {
  const StageRouter router(config());
  const Plan plan = router.route(input(1), HandlerResult::fail(Failure::poison("$.amount: missing")), kNow);
  EXPECT_EQ(plan.outcome, Outcome::DeadLettered);
  const auto& r = *plan.failure;
  EXPECT_EQ(r.topic, "payment-service.dlq");
  EXPECT_EQ(r.error_class, ErrorClass::Poison);
  EXPECT_EQ(value_of(r.headers, header::kErrorClass), "poison");
  EXPECT_EQ(value_of(r.headers, header::kErrorMessage), "$.amount: missing");
  EXPECT_EQ(value_of(r.headers, header::kAttempt), "1");
  EXPECT_FALSE(value_of(r.headers, header::kNotBefore));
}

TEST(StageRouterTest, KeyOrderingKeepsTheRetryRecordInItsInputPartition) {
  const StageRouter router(config(RetryOrdering::Key));
  const Plan retry = router.route_failure(input(1), Failure::transient("t"), kNow);
  EXPECT_EQ(retry.failure->partition, 5);
  // A dead letter is not part of a key's order: the partitioner chooses.
  const Plan dead = router.route_failure(input(1), Failure::poison("p"), kNow);
  EXPECT_EQ(dead.failure->partition, -1);
}

TEST(StageRouterTest, ParkedRecordIsDueAtOnceAndKeepsItsFailedAttempts) {
  const StageRouter router(config(RetryOrdering::Key));
  const Plan first = router.park(input(1), kNow);
  EXPECT_EQ(first.outcome, Outcome::Retried);
  const auto& r = *first.failure;
  EXPECT_EQ(r.topic, "payment-service.retry");
  EXPECT_EQ(r.partition, 5);
  EXPECT_EQ(value_of(r.headers, header::kAttempt), "0");  // never processed
  EXPECT_EQ(value_of(r.headers, header::kNotBefore), std::to_string(kNow));
  EXPECT_EQ(value_of(r.headers, header::kErrorClass), "transient");
  EXPECT_EQ(value_of(r.headers, header::kErrorMessage),
            "parked behind an earlier record of the same key on the retry path");
  // Parked again from the retry topic after two failed attempts: x-attempt stays 2.
  EXPECT_EQ(value_of(router.park(input(3), kNow).failure->headers, header::kAttempt), "2");
}

TEST(StageRouterTest, InputHeadersPassOnWithANewSpanOfTheTrace) {
  const StageRouter router(config());
  auto in = input(2);
  // A retry record's own failure headers are replaced, not duplicated.
  in.headers.emplace_back(header::kAttempt, "1");
  in.headers.emplace_back(header::kNotBefore, "1");
  const Plan plan = router.route_failure(in, Failure::transient("t"), kNow);
  const auto& h = plan.failure->headers;
  EXPECT_EQ(value_of(h, header::kCorrelationId), "order-1");
  EXPECT_EQ(value_of(h, "x-custom"), "kept");
  const auto tp = value_of(h, header::kTraceparent);
  ASSERT_TRUE(tp);
  EXPECT_NE(*tp, kTraceparent);
  EXPECT_EQ(trace_id_of(*tp), trace_id_of(kTraceparent));
  EXPECT_EQ(count_of(h, header::kAttempt), 1U);
  EXPECT_EQ(value_of(h, header::kAttempt), "2");
  EXPECT_EQ(count_of(h, header::kNotBefore), 1U);
}

TEST(StageRouterTest, OversizedRecordIsPoisonAndDeadLetteredWithoutItsValue) {
  const StageRouter router(config());
  EXPECT_FALSE(router.check_size(100));
  const auto failure = router.check_size(101);
  ASSERT_TRUE(failure);
  EXPECT_EQ(failure->error_class, ErrorClass::Poison);
  EXPECT_EQ(failure->message, "$: record of 101 bytes exceeds --max-record-bytes 100");
  const Plan plan = router.route_failure(input(1, 101), *failure, kNow);
  EXPECT_EQ(plan.outcome, Outcome::DeadLettered);
  EXPECT_FALSE(plan.failure->with_value);
  EXPECT_EQ(value_of(plan.failure->headers, header::kValueOmittedBytes), "101");
}

TEST(StageRouterTest, WithoutValueNamesTheOmittedSize) {
  const StageRouter router(config());
  Plan plan = router.route_failure(input(1, 50), Failure::poison("p"), kNow);
  ASSERT_TRUE(plan.failure->with_value);
  EXPECT_FALSE(value_of(plan.failure->headers, header::kValueOmittedBytes));
  StageRouter::without_value(*plan.failure, 50);
  EXPECT_FALSE(plan.failure->with_value);
  EXPECT_EQ(value_of(plan.failure->headers, header::kValueOmittedBytes), "50");
}

TEST(StageRouterTest, AttemptComesFromTheFailedAttemptsAndIsClamped) {
  EXPECT_EQ(StageRouter::attempt_of(std::nullopt), 1);
  EXPECT_EQ(StageRouter::attempt_of(0), 1);
  EXPECT_EQ(StageRouter::attempt_of(3), 4);
  EXPECT_EQ(StageRouter::attempt_of(-5), 1);
  EXPECT_EQ(StageRouter::attempt_of(std::int64_t{1} << 40), std::numeric_limits<int>::max());
}

TEST(StageRouterTest, LatestNotBeforeIsTheLongestBackoff) {
  const StageRouter router(config());
  EXPECT_EQ(router.latest_not_before(kNow), kNow + 8000);  // backoff × 2^(4−1), under the 10 s cap
}

}  // namespace
