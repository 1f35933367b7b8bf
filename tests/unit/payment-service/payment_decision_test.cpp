// decide_payment (docs/contract.md §5 Events, "Decisions"): the limit boundary, derived and stable
// identities, copied fields, and a result that passes the PaymentProcessed schema.
#include "orderflow/payment/payment_decision.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "orderflow/events/events.h"

namespace {

namespace ev = orderflow::events;
using orderflow::payment::decide_payment;
using orderflow::payment::kDefaultMaxAmountCents;

ev::OrderCreated order_of(std::int64_t amount_cents,
                          std::string event_id = "0b7e3a52-6d1f-4c1e-9a3e-2f5d8c9b1a01") {
  ev::OrderCreated o;
  o.event_id = std::move(event_id);
  o.occurred_at = "2026-11-23T12:00:00.123Z";
  o.order_id = "order-1";
  o.customer_id = "customer-42";
  o.items = {ev::Item{"SKU-1", 1, amount_cents}};
  o.amount_cents = amount_cents;
  o.currency = "EUR";
  return o;
}

std::chrono::system_clock::time_point at(const char* ts) {
  return *ev::parse_timestamp(ts);
}

TEST(PaymentDecisionTest, DefaultLimitIsTheContractDefault) {
  EXPECT_EQ(kDefaultMaxAmountCents, 500000);
}

TEST(PaymentDecisionTest, AmountEqualToTheLimitIsAuthorized) {
  const auto p = decide_payment(order_of(500000), 500000, at("2026-11-23T12:00:01.000Z"));
  EXPECT_EQ(p.status, ev::PaymentStatus::Authorized);
  EXPECT_FALSE(p.decline_reason.has_value());
}

TEST(PaymentDecisionTest, OneCentOverTheLimitIsDeclined) {
  const auto p = decide_payment(order_of(500001), 500000, at("2026-11-23T12:00:01.000Z"));
  EXPECT_EQ(p.status, ev::PaymentStatus::Declined);
  ASSERT_TRUE(p.decline_reason.has_value());
  EXPECT_EQ(*p.decline_reason, "AMOUNT_LIMIT_EXCEEDED");
}

TEST(PaymentDecisionTest, SmallAmountsAreAuthorizedAndTheLimitIsAParameter) {
  EXPECT_EQ(decide_payment(order_of(1), 500000, {}).status, ev::PaymentStatus::Authorized);
  EXPECT_EQ(decide_payment(order_of(100), 99, {}).status, ev::PaymentStatus::Declined);
  EXPECT_EQ(decide_payment(order_of(99), 99, {}).status, ev::PaymentStatus::Authorized);
  EXPECT_EQ(decide_payment(order_of(1), 0, {}).status, ev::PaymentStatus::Declined);
}

TEST(PaymentDecisionTest, IdentitiesAreDerivedFromTheOrderEventId) {
  const auto order = order_of(1000);
  const auto p = decide_payment(order, 500000, at("2026-11-23T12:00:01.000Z"));
  EXPECT_EQ(p.payment_id, ev::payment_id_for(order.event_id));
  EXPECT_EQ(p.event_id, p.payment_id);
  EXPECT_EQ(p.order_event_id, order.event_id);
  // Pinned value: uuid5(ORDERFLOW_NS, "payment:" + event_id); a change here changes every payment id.
  EXPECT_EQ(p.payment_id, ev::uuid_v5("payment:0b7e3a52-6d1f-4c1e-9a3e-2f5d8c9b1a01"));
}

TEST(PaymentDecisionTest, ReprocessingYieldsTheSameIdentities) {
  const auto order = order_of(1000);
  const auto first = decide_payment(order, 500000, at("2026-11-23T12:00:01.000Z"));
  const auto again = decide_payment(order, 500000, at("2026-11-24T08:30:00.000Z"));
  EXPECT_EQ(first.payment_id, again.payment_id);
  EXPECT_EQ(first.event_id, again.event_id);
  EXPECT_NE(first.occurred_at, again.occurred_at);
  const auto other = decide_payment(order_of(1000, "1c7e3a52-6d1f-4c1e-9a3e-2f5d8c9b1a02"), 500000, {});
  EXPECT_NE(other.payment_id, first.payment_id);
}

TEST(PaymentDecisionTest, CopiesTheOrderFieldsAndStampsTheTime) {
  const auto order = order_of(4321);
  const auto p = decide_payment(order, 500000, at("2026-11-23T12:00:01.456Z"));
  EXPECT_EQ(p.order_id, "order-1");
  EXPECT_EQ(p.customer_id, "customer-42");
  EXPECT_EQ(p.amount_cents, 4321);
  EXPECT_EQ(p.currency, "EUR");
  EXPECT_EQ(p.occurred_at, "2026-11-23T12:00:01.456Z");
}

TEST(PaymentDecisionTest, ResultsPassTheSchemaAndRoundTrip) {
  for (std::int64_t amount : {1, 500000, 500001, 9'000'000}) {
    const auto p = decide_payment(order_of(amount), 500000, at("2026-11-23T12:00:01.000Z"));
    const auto valid = ev::validate_payment_processed(p);
    EXPECT_TRUE(valid.has_value()) << amount << ": " << (valid ? "" : valid.error().message());
    const auto parsed = ev::parse_payment_processed(ev::to_json(p));
    ASSERT_TRUE(parsed.has_value()) << parsed.error().message();
    EXPECT_EQ(parsed.value(), p);
  }
}

}  // namespace
