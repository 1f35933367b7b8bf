// PaymentHandler: poison on invalid records (message names the field), transient on a gateway failure, and
// the published PaymentProcessed: topic, key, value and the headers x-correlation-id, traceparent (added by
// the stage), x-order-occurred-at (the handler's own). No Kafka: records are messaging::RecordView.
#include "orderflow/payment/payment_handler.h"
// Handlers see messaging::RecordView, never a Kafka type: their header must not bring librdkafka in.
#if defined(_RDKAFKACPP_H_) || defined(_RDKAFKA_H_)
#error "payment_handler.h includes librdkafka"
#endif

#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "orderflow/events/events.h"
#include "orderflow/messaging/record.h"
#include "orderflow/messaging/testing/test_record.h"
#include "orderflow/messaging/trace_context.h"

namespace {

namespace ev = orderflow::events;
namespace msg = orderflow::messaging;
using orderflow::payment::GatewaySimulator;
using orderflow::payment::PaymentConfig;
using orderflow::payment::PaymentHandler;
using orderflow::testing::TestRecord;

const std::string kEventId = "0b7e3a52-6d1f-4c1e-9a3e-2f5d8c9b1a01";
const std::string kParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

ev::OrderCreated order_of(std::int64_t amount_cents, std::string event_id = kEventId) {
  ev::OrderCreated o;
  o.event_id = std::move(event_id);
  o.occurred_at = "2026-11-23T12:00:00.123Z";
  o.order_id = "order-1";
  o.customer_id = "customer-42";
  o.items = {ev::Item{"SKU-1", 2, amount_cents / 2}, ev::Item{"SKU-2", 1, amount_cents % 2}};
  o.amount_cents = amount_cents;
  o.currency = "EUR";
  return o;
}

// As the stage calls it: one parse, then handle, then the stage's headers on the outputs.
msg::HandlerResult handle(PaymentHandler& h, const TestRecord& m, int attempt = 1) {
  auto record = m.view();
  record.attempt = attempt;
  return orderflow::testing::handle_like_stage(h, record);
}

std::optional<std::string> header_of(const msg::OutRecord& r, std::string_view name) {
  std::optional<std::string> found;
  int count = 0;
  for (const auto& [k, v] : r.headers) {
    if (k == name) {
      found = v;
      ++count;
    }
  }
  EXPECT_LE(count, 1) << "header " << name << " set more than once";
  return found;
}

TEST(PaymentHandlerTest, AuthorizedOrderIsPublishedKeyedByCustomerWithHeaders) {
  PaymentHandler h(PaymentConfig{});
  const auto order = order_of(1000);
  const TestRecord m("orders", ev::to_json(order), "customer-42", {{"traceparent", kParent}}, 3, 77);
  const auto r = handle(h, m);
  ASSERT_FALSE(r.failure.has_value()) << r.failure->message;
  EXPECT_EQ(to_string(r.outcome), "success");
  ASSERT_EQ(r.outputs.size(), 1U);
  const auto& out = r.outputs.front();
  EXPECT_EQ(out.topic, "payments");
  ASSERT_TRUE(out.key.has_value());
  EXPECT_EQ(*out.key, "customer-42");

  const auto payment = ev::parse_payment_processed(out.value);
  ASSERT_TRUE(payment.has_value()) << payment.error().message();
  EXPECT_EQ(payment.value().status, ev::PaymentStatus::Authorized);
  EXPECT_EQ(payment.value().order_id, "order-1");
  EXPECT_EQ(payment.value().order_event_id, kEventId);
  EXPECT_EQ(payment.value().payment_id, ev::payment_id_for(kEventId));
  EXPECT_EQ(payment.value().event_id, ev::payment_id_for(kEventId));
  EXPECT_EQ(payment.value().amount_cents, 1000);

  EXPECT_EQ(header_of(out, "x-correlation-id"), "order-1");
  EXPECT_EQ(header_of(out, "x-order-occurred-at"), "2026-11-23T12:00:00.123Z");
  const auto tp = header_of(out, "traceparent");
  ASSERT_TRUE(tp.has_value());
  EXPECT_EQ(msg::trace_id_of(*tp), "4bf92f3577b34da6a3ce929d0e0e4736") << "the trace continues";
  EXPECT_NE(*tp, kParent) << "with a new span";
}

TEST(PaymentHandlerTest, TheHandlerSetsOnlyItsOwnHeadersAndNamesTheCorrelation) {
  PaymentHandler h(PaymentConfig{});
  const TestRecord m("orders", ev::to_json(order_of(1000)), "customer-42", {{"traceparent", kParent}});
  ASSERT_FALSE(h.prepare(m.view()).has_value());
  const auto r = h.process(m.view());
  ASSERT_EQ(r.outputs.size(), 1U);
  EXPECT_EQ(r.outputs.front().headers, (msg::Headers{{"x-order-occurred-at", "2026-11-23T12:00:00.123Z"}}))
      << "traceparent and x-correlation-id are the stage's";
  EXPECT_EQ(r.correlation_id, "order-1") << "the order id, whatever the input's x-correlation-id says";
}

TEST(PaymentHandlerTest, ParseAloneHasNoSideEffects) {
  PaymentConfig cfg;
  cfg.gateway_failure_rate = 1.0;
  PaymentHandler h(cfg);
  const TestRecord bad("orders", "not json", "customer-42");
  const auto poison = h.prepare(bad.view());
  ASSERT_TRUE(poison.has_value());
  EXPECT_EQ(poison->error_class, msg::ErrorClass::Poison);
  const TestRecord good("orders", ev::to_json(order_of(1000)), "customer-42");
  EXPECT_FALSE(h.prepare(good.view()).has_value()) << "a valid order parses; the gateway is not called yet";
}

TEST(PaymentHandlerTest, NoTraceparentStartsANewTrace) {
  PaymentHandler h(PaymentConfig{});
  const TestRecord m("orders", ev::to_json(order_of(1000)), "customer-42");  // no headers
  const auto r = handle(h, m);
  ASSERT_EQ(r.outputs.size(), 1U);
  const auto tp = header_of(r.outputs.front(), "traceparent");
  ASSERT_TRUE(tp.has_value());
  EXPECT_EQ(msg::trace_id_of(*tp).size(), 32U) << *tp;
}

TEST(PaymentHandlerTest, OverTheLimitIsDeclinedNotFailed) {
  PaymentConfig cfg;
  cfg.max_amount_cents = 5000;
  PaymentHandler h(cfg);
  const TestRecord m("orders", ev::to_json(order_of(5001)), "customer-42");
  const auto r = handle(h, m);
  ASSERT_FALSE(r.failure.has_value());
  EXPECT_EQ(to_string(r.outcome), "declined");
  ASSERT_EQ(r.outputs.size(), 1U);
  const auto payment = ev::parse_payment_processed(r.outputs.front().value);
  ASSERT_TRUE(payment.has_value()) << payment.error().message();
  EXPECT_EQ(payment.value().status, ev::PaymentStatus::Declined);
  EXPECT_EQ(payment.value().decline_reason, "AMOUNT_LIMIT_EXCEEDED");

  const TestRecord at_limit("orders", ev::to_json(order_of(5000)), "customer-42");
  EXPECT_EQ(to_string(handle(h, at_limit).outcome), "success");
}

TEST(PaymentHandlerTest, ConfiguredTopicIsUsed) {
  PaymentConfig cfg;
  cfg.payments_topic = "payments-v2";
  PaymentHandler h(cfg);
  const TestRecord m("orders", ev::to_json(order_of(1000)), "customer-42");
  const auto r = handle(h, m);
  ASSERT_EQ(r.outputs.size(), 1U);
  EXPECT_EQ(r.outputs.front().topic, "payments-v2");
}

TEST(PaymentHandlerTest, SameOrderTwiceGivesTheSamePaymentIdentity) {
  PaymentHandler h(PaymentConfig{});
  const TestRecord m("orders", ev::to_json(order_of(1000)), "customer-42");
  const auto a = handle(h, m);
  const auto b = handle(h, m, 2);
  ASSERT_EQ(a.outputs.size(), 1U);
  ASSERT_EQ(b.outputs.size(), 1U);
  EXPECT_EQ(ev::parse_payment_processed(a.outputs[0].value).value().payment_id,
            ev::parse_payment_processed(b.outputs[0].value).value().payment_id);
}

TEST(PaymentHandlerTest, InvalidJsonIsPoisonNamingTheDocument) {
  PaymentHandler h(PaymentConfig{});
  const TestRecord m("orders", "{\"event_id\": ", "customer-42");
  const auto r = handle(h, m);
  ASSERT_TRUE(r.failure.has_value());
  EXPECT_EQ(r.failure->error_class, msg::ErrorClass::Poison);
  EXPECT_EQ(r.failure->message.rfind("$: ", 0), 0U) << r.failure->message;
  EXPECT_TRUE(r.outputs.empty());
}

TEST(PaymentHandlerTest, InvalidFieldIsPoisonNamingTheField) {
  PaymentHandler h(PaymentConfig{});
  auto order = order_of(1000);
  order.currency = "eur";
  const TestRecord lower("orders", ev::to_json(order), "customer-42");
  auto r = handle(h, lower);
  ASSERT_TRUE(r.failure.has_value());
  EXPECT_EQ(r.failure->error_class, msg::ErrorClass::Poison);
  EXPECT_EQ(r.failure->message.rfind("currency: ", 0), 0U) << r.failure->message;

  auto json = ev::to_json(order_of(1000));
  const auto pos = json.find("\"customer_id\":\"customer-42\",");
  ASSERT_NE(pos, std::string::npos) << json;
  json.erase(pos, std::string("\"customer_id\":\"customer-42\",").size());
  const TestRecord missing("orders", json, "customer-42");
  r = handle(h, missing);
  ASSERT_TRUE(r.failure.has_value());
  EXPECT_EQ(r.failure->error_class, msg::ErrorClass::Poison);
  EXPECT_NE(r.failure->message.find("customer_id"), std::string::npos) << r.failure->message;
}

TEST(PaymentHandlerTest, UnknownSchemaVersionIsPoison) {
  PaymentHandler h(PaymentConfig{});
  auto json = ev::to_json(order_of(1000));
  const auto pos = json.find("\"schema_version\":1");
  ASSERT_NE(pos, std::string::npos);
  json.replace(pos, 18, "\"schema_version\":2");
  const TestRecord m("orders", json, "customer-42");
  const auto r = handle(h, m);
  ASSERT_TRUE(r.failure.has_value());
  EXPECT_EQ(r.failure->error_class, msg::ErrorClass::Poison);
  EXPECT_NE(r.failure->message.find("schema_version"), std::string::npos) << r.failure->message;
}

TEST(PaymentHandlerTest, PoisonIsDetectedBeforeTheGatewayIsCalled) {
  PaymentConfig cfg;
  cfg.gateway_failure_rate = 1.0;
  PaymentHandler h(cfg);
  const TestRecord m("orders", "not json", "customer-42");
  const auto r = handle(h, m);
  ASSERT_TRUE(r.failure.has_value());
  EXPECT_EQ(r.failure->error_class, msg::ErrorClass::Poison) << "never retry a record that cannot parse";
}

TEST(PaymentHandlerTest, GatewayFailureIsTransient) {
  PaymentConfig cfg;
  cfg.gateway_failure_rate = 1.0;
  PaymentHandler h(cfg);
  const TestRecord m("orders", ev::to_json(order_of(1000)), "customer-42");
  const auto r = handle(h, m);
  ASSERT_TRUE(r.failure.has_value());
  EXPECT_EQ(r.failure->error_class, msg::ErrorClass::Transient);
  EXPECT_NE(r.failure->message.find("gateway"), std::string::npos) << r.failure->message;
  EXPECT_TRUE(r.outputs.empty());
}

TEST(PaymentHandlerTest, GatewayOutcomeFollowsTheAttemptNumber) {
  PaymentConfig cfg;
  cfg.gateway_failure_rate = 0.5;
  cfg.seed = 7;
  const GatewaySimulator reference(cfg.gateway_failure_rate, cfg.gateway_latency, cfg.seed);
  // Find an order whose first attempt fails and whose second succeeds.
  std::optional<ev::OrderCreated> order;
  for (int i = 0; i < 1000 && !order; ++i) {
    char id[40];
    std::snprintf(id, sizeof id, "0b7e3a52-6d1f-4c1e-9a3e-%012d", i);
    if (!reference.call(id, 1) && reference.call(id, 2)) order = order_of(1000, id);
  }
  ASSERT_TRUE(order.has_value());
  PaymentHandler h(cfg);
  const TestRecord m("orders", ev::to_json(*order), "customer-42");
  const auto first = handle(h, m, 1);
  ASSERT_TRUE(first.failure.has_value());
  EXPECT_EQ(first.failure->error_class, msg::ErrorClass::Transient);
  const auto retry = handle(h, m, 2);
  EXPECT_FALSE(retry.failure.has_value());
  EXPECT_EQ(retry.outputs.size(), 1U);
}

}  // namespace
