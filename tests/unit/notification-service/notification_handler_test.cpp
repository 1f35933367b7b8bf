// NotificationHandler: orders → ORDER_RECEIVED, payments → PAYMENT_*; de-duplication on (order_id, kind) with
// no outputs for a duplicate; a sink failure is transient and not remembered; poison on invalid records;
// published record topic, key, headers (traceparent and x-correlation-id as the stage adds them); metrics for
// dedupe and end-to-end latency. No Kafka: records are messaging::RecordView.
#include "orderflow/notification/notification_handler.h"
// Handlers see messaging::RecordView, never a Kafka type: their header must not bring librdkafka in.
#if defined(_RDKAFKACPP_H_) || defined(_RDKAFKA_H_)
#error "notification_handler.h includes librdkafka"
#endif

#include <gtest/gtest.h>
#include <prometheus/text_serializer.h>

#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "orderflow/events/events.h"
#include "orderflow/messaging/testing/test_record.h"
#include "orderflow/messaging/trace_context.h"
#include "orderflow/notification/notification_metrics.h"
#include "orderflow/testing/prometheus_text.h"

namespace {

namespace ev = orderflow::events;
namespace msg = orderflow::messaging;
using orderflow::notification::NotificationConfig;
using orderflow::notification::NotificationHandler;
using orderflow::notification::Sink;
using orderflow::runtime::ServiceMetrics;
using orderflow::testing::TestRecord;

const std::string kParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

class ScriptedSink final : public Sink {
 public:
  std::optional<std::string> deliver(std::string_view json) override {
    ++calls;
    if (fail_next > 0) {
      --fail_next;
      return std::string("sink down for maintenance");
    }
    delivered.emplace_back(json);
    return std::nullopt;
  }
  std::optional<std::string> flush() override {
    ++flushes;
    if (fail_flush) return std::string("disk full");
    return std::nullopt;
  }
  [[nodiscard]] std::string channel() const override { return "scripted"; }
  int flushes = 0;
  bool fail_flush = false;
  int fail_next = 0;
  int calls = 0;
  std::vector<std::string> delivered;
};

ev::OrderCreated order(const std::string& order_id = "order-1") {
  ev::OrderCreated o;
  o.event_id = "0b7e3a52-6d1f-4c1e-9a3e-2f5d8c9b1a01";
  o.occurred_at = "2026-11-23T12:00:00.123Z";
  o.order_id = order_id;
  o.customer_id = "customer-42";
  o.items = {ev::Item{"SKU-1", 1, 1000}};
  o.amount_cents = 1000;
  o.currency = "EUR";
  return o;
}

ev::PaymentProcessed payment(ev::PaymentStatus status, const std::string& order_id = "order-1") {
  ev::PaymentProcessed p;
  p.payment_id = ev::payment_id_for("0b7e3a52-6d1f-4c1e-9a3e-2f5d8c9b1a01");
  p.event_id = p.payment_id;
  p.occurred_at = "2026-11-23T12:00:00.500Z";
  p.order_id = order_id;
  p.customer_id = "customer-42";
  p.order_event_id = "0b7e3a52-6d1f-4c1e-9a3e-2f5d8c9b1a01";
  p.status = status;
  p.amount_cents = 1000;
  p.currency = "EUR";
  if (status == ev::PaymentStatus::Declined) p.decline_reason = "AMOUNT_LIMIT_EXCEEDED";
  return p;
}

struct Fixture {
  explicit Fixture(std::size_t window = 100) {
    auto s = std::make_unique<ScriptedSink>();
    sink = s.get();
    NotificationConfig cfg;
    cfg.dedupe_window = window;
    handler = std::make_unique<NotificationHandler>(
        cfg, std::move(s), std::make_unique<orderflow::notification::NotificationMetrics>(metrics));
  }
  // As the stage calls it: one parse, then handle, then the stage's headers on the outputs.
  msg::HandlerResult handle(const TestRecord& m, std::string_view source_topic, int attempt = 1) {
    auto record = m.view();
    record.source_topic = source_topic;
    record.attempt = attempt;
    return orderflow::testing::handle_like_stage(*handler, record);
  }
  msg::HandlerResult handle(const TestRecord& m) {
    return orderflow::testing::handle_like_stage(*handler, m.view());
  }
  std::string scrape() {
    std::ostringstream out;
    prometheus::TextSerializer().Serialize(out, metrics.registry().Collect());
    return out.str();
  }
  std::optional<double> metric(const std::string& name,
                               const std::map<std::string, std::string>& labels = {}) {
    return orderflow::testing::sample_value(orderflow::testing::parse_prometheus_text(scrape()), name,
                                            labels);
  }

  ServiceMetrics metrics{"notification-service"};
  ScriptedSink* sink = nullptr;
  std::unique_ptr<NotificationHandler> handler;
};

std::optional<std::string> header_of(const msg::OutRecord& r, std::string_view name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return std::nullopt;
}

ev::NotificationSent parsed(const msg::OutRecord& r) {
  auto n = ev::parse_notification_sent(r.value);
  EXPECT_TRUE(n.has_value()) << (n ? "" : n.error().message());
  return n ? n.value() : ev::NotificationSent{};
}

TEST(NotificationHandlerTest, OrderGivesOrderReceivedPublishedAndDelivered) {
  Fixture f;
  const TestRecord m("orders", ev::to_json(order()), "customer-42", {{"traceparent", kParent}});
  const auto r = f.handle(m);
  ASSERT_FALSE(r.failure.has_value()) << r.failure->message;
  EXPECT_EQ(to_string(r.outcome), "success");
  ASSERT_EQ(r.outputs.size(), 1U);
  const auto& out = r.outputs.front();
  EXPECT_EQ(out.topic, "notifications");
  EXPECT_EQ(out.key, "customer-42");
  const auto n = parsed(out);
  EXPECT_EQ(n.kind, ev::NotificationKind::OrderReceived);
  EXPECT_EQ(n.notification_id, ev::notification_id_for("order-1", ev::NotificationKind::OrderReceived));
  EXPECT_EQ(n.channel, "email");
  EXPECT_EQ(n.source_event_id, order().event_id);
  ASSERT_EQ(f.sink->delivered.size(), 1U);
  EXPECT_EQ(f.sink->delivered.front(), out.value) << "the sink gets exactly what is published";
  EXPECT_EQ(header_of(out, "x-correlation-id"), "order-1");
  const auto tp = header_of(out, "traceparent");
  ASSERT_TRUE(tp.has_value());
  EXPECT_EQ(msg::trace_id_of(*tp), "4bf92f3577b34da6a3ce929d0e0e4736");
}

TEST(NotificationHandlerTest, TheHandlerSetsNoTraceHeadersAndNamesTheCorrelation) {
  Fixture f;
  const TestRecord m("payments", ev::to_json(payment(ev::PaymentStatus::Authorized, "order-9")),
                     "customer-42", {{"traceparent", kParent}, {"x-correlation-id", "something-else"}});
  ASSERT_FALSE(f.handler->prepare(m.view()).has_value());
  const auto r = f.handler->process(m.view());
  ASSERT_EQ(r.outputs.size(), 1U);
  EXPECT_TRUE(r.outputs.front().headers.empty()) << "traceparent and x-correlation-id are the stage's";
  EXPECT_EQ(r.correlation_id, "order-9") << "the order id, whatever the input's x-correlation-id says";
  Fixture fresh;
  const auto published = fresh.handle(m);
  ASSERT_EQ(published.outputs.size(), 1U);
  EXPECT_EQ(header_of(published.outputs[0], "x-correlation-id"), "order-9");
  EXPECT_EQ(msg::trace_id_of(header_of(published.outputs[0], "traceparent").value_or("")),
            "4bf92f3577b34da6a3ce929d0e0e4736");
}

TEST(NotificationHandlerTest, TheSinkIsFlushedBeforeACommitNotPerRecord) {
  Fixture f;
  for (int i = 0; i < 3; ++i) {
    const TestRecord m("orders", ev::to_json(order("order-" + std::to_string(i))), "customer-42");
    ASSERT_FALSE(f.handle(m).failure.has_value());
  }
  EXPECT_EQ(f.sink->delivered.size(), 3U);
  EXPECT_EQ(f.sink->flushes, 0);
  EXPECT_EQ(f.handler->before_commit(), std::nullopt);
  EXPECT_EQ(f.sink->flushes, 1);
  f.sink->fail_flush = true;
  EXPECT_EQ(f.handler->before_commit(), std::optional<std::string>("disk full"))
      << "the stage stops without committing";
}

TEST(NotificationHandlerTest, NoTraceparentStartsANewTrace) {
  Fixture f;
  const TestRecord m("orders", ev::to_json(order()), "customer-42");
  const auto r = f.handle(m);
  ASSERT_EQ(r.outputs.size(), 1U);
  const auto tp = header_of(r.outputs.front(), "traceparent");
  ASSERT_TRUE(tp.has_value());
  EXPECT_EQ(msg::trace_id_of(*tp).size(), 32U);
}

TEST(NotificationHandlerTest, PaymentsTopicGivesThePaymentKind) {
  Fixture f;
  const TestRecord ok("payments", ev::to_json(payment(ev::PaymentStatus::Authorized, "order-1")),
                      "customer-42");
  const TestRecord no("payments", ev::to_json(payment(ev::PaymentStatus::Declined, "order-2")),
                      "customer-42");
  const auto a = f.handle(ok);
  const auto d = f.handle(no);
  ASSERT_EQ(a.outputs.size(), 1U);
  ASSERT_EQ(d.outputs.size(), 1U);
  EXPECT_EQ(parsed(a.outputs[0]).kind, ev::NotificationKind::PaymentAuthorized);
  EXPECT_EQ(parsed(d.outputs[0]).kind, ev::NotificationKind::PaymentDeclined);
  EXPECT_EQ(parsed(a.outputs[0]).source_event_id, payment(ev::PaymentStatus::Authorized).event_id);
  EXPECT_EQ(parsed(d.outputs[0]).notification_id,
            ev::notification_id_for("order-2", ev::NotificationKind::PaymentDeclined));
}

TEST(NotificationHandlerTest, RetryRecordIsInterpretedByItsSourceTopic) {
  Fixture f;
  const TestRecord m("notification-service.retry", ev::to_json(payment(ev::PaymentStatus::Authorized)),
                     "customer-42");
  const auto r = f.handle(m, "payments", 2);
  ASSERT_FALSE(r.failure.has_value()) << r.failure->message;
  ASSERT_EQ(r.outputs.size(), 1U);
  EXPECT_EQ(parsed(r.outputs[0]).kind, ev::NotificationKind::PaymentAuthorized);
}

TEST(NotificationHandlerTest, OneOrderYieldsExactlyTwoNotifications) {
  Fixture f;
  const TestRecord o("orders", ev::to_json(order()), "customer-42");
  const TestRecord p("payments", ev::to_json(payment(ev::PaymentStatus::Authorized)), "customer-42");
  EXPECT_EQ(f.handle(o).outputs.size(), 1U);
  EXPECT_EQ(f.handle(p).outputs.size(), 1U) << "a different kind is not a duplicate";
  EXPECT_EQ(f.handle(o).outputs.size(), 0U);
  EXPECT_EQ(f.handle(p).outputs.size(), 0U);
  EXPECT_EQ(f.sink->delivered.size(), 2U);
}

TEST(NotificationHandlerTest, DuplicateIsConsumedWithoutOutputsOrDelivery) {
  Fixture f;
  const TestRecord m("orders", ev::to_json(order()), "customer-42");
  ASSERT_EQ(f.handle(m).outputs.size(), 1U);
  auto replay = order();
  replay.event_id = "1c7e3a52-6d1f-4c1e-9a3e-2f5d8c9b1a02";  // re-sent order: same (order_id, kind)
  const TestRecord again("orders", ev::to_json(replay), "customer-42");
  const auto r = f.handle(again);
  EXPECT_FALSE(r.failure.has_value());
  EXPECT_TRUE(r.outputs.empty());
  EXPECT_EQ(f.sink->calls, 1) << "not delivered twice";
  EXPECT_EQ(f.metric("orderflow_dedupe_hits_total"), 1.0) << f.scrape();
}

TEST(NotificationHandlerTest, SinkFailureIsTransientAndNotRemembered) {
  Fixture f;
  f.sink->fail_next = 1;
  const TestRecord m("orders", ev::to_json(order()), "customer-42");
  const auto failed = f.handle(m);
  ASSERT_TRUE(failed.failure.has_value());
  EXPECT_EQ(failed.failure->error_class, msg::ErrorClass::Transient);
  EXPECT_NE(failed.failure->message.find("sink down for maintenance"), std::string::npos)
      << failed.failure->message;
  EXPECT_TRUE(failed.outputs.empty());
  const auto retried = f.handle(m, "orders", 2);
  EXPECT_FALSE(retried.failure.has_value()) << "the failed delivery must not count as seen";
  EXPECT_EQ(retried.outputs.size(), 1U);
  EXPECT_EQ(f.sink->delivered.size(), 1U);
}

TEST(NotificationHandlerTest, InvalidRecordsArePoison) {
  Fixture f;
  const TestRecord garbage("orders", "{not json", "customer-42");
  auto r = f.handle(garbage);
  ASSERT_TRUE(r.failure.has_value());
  EXPECT_EQ(r.failure->error_class, msg::ErrorClass::Poison);
  EXPECT_EQ(r.failure->message.rfind("$: ", 0), 0U) << r.failure->message;

  // An order on the payments topic is not a PaymentProcessed.
  const TestRecord wrong_type("payments", ev::to_json(order()), "customer-42");
  r = f.handle(wrong_type);
  ASSERT_TRUE(r.failure.has_value());
  EXPECT_EQ(r.failure->error_class, msg::ErrorClass::Poison);
  EXPECT_NE(r.failure->message.find("event_type"), std::string::npos) << r.failure->message;

  auto bad = payment(ev::PaymentStatus::Declined);
  auto json = ev::to_json(bad);
  const auto pos = json.find("\"DECLINED\"");
  ASSERT_NE(pos, std::string::npos);
  json.replace(pos, 10, "\"MAYBE\"");
  const TestRecord bad_status("payments", json, "customer-42");
  r = f.handle(bad_status);
  ASSERT_TRUE(r.failure.has_value());
  EXPECT_EQ(r.failure->error_class, msg::ErrorClass::Poison);
  EXPECT_EQ(r.failure->message.rfind("status: ", 0), 0U) << r.failure->message;
  EXPECT_EQ(f.sink->calls, 0) << "nothing delivered for poison";
}

TEST(NotificationHandlerTest, EvictedKeysAreDeliveredAgainAndCounted) {
  Fixture f(1);
  const TestRecord a("orders", ev::to_json(order("order-a")), "customer-42");
  const TestRecord b("orders", ev::to_json(order("order-b")), "customer-42");
  EXPECT_EQ(f.handle(a).outputs.size(), 1U);
  EXPECT_EQ(f.handle(b).outputs.size(), 1U);  // evicts order-a
  EXPECT_EQ(f.handle(a).outputs.size(), 1U) << "outside the window: delivered again";
  EXPECT_EQ(f.metric("orderflow_dedupe_evictions_total"), 2.0) << f.scrape();
}

TEST(NotificationHandlerTest, RewindForgetsTheWindow) {
  Fixture f;
  const TestRecord m("orders", ev::to_json(order()), "customer-42");
  ASSERT_EQ(f.handle(m).outputs.size(), 1U);
  f.handler->on_rewind();  // the transaction that published it was aborted
  EXPECT_EQ(f.handle(m).outputs.size(), 1U) << "must be published again in the new transaction";
}

TEST(NotificationHandlerTest, EndToEndLatencyIsObservedPerKind) {
  Fixture f;
  const TestRecord o("orders", ev::to_json(order()), "customer-42");
  const TestRecord p("payments", ev::to_json(payment(ev::PaymentStatus::Declined)), "customer-42",
                     {{"x-order-occurred-at", "2026-11-23T12:00:00.123Z"}});
  ASSERT_EQ(f.handle(o).outputs.size(), 1U);
  ASSERT_EQ(f.handle(p).outputs.size(), 1U);
  EXPECT_EQ(f.metric("orderflow_end_to_end_latency_seconds_count", {{"kind", "ORDER_RECEIVED"}}), 1.0)
      << f.scrape();
  EXPECT_EQ(f.metric("orderflow_end_to_end_latency_seconds_count", {{"kind", "PAYMENT_DECLINED"}}), 1.0)
      << f.scrape();
  EXPECT_EQ(f.metric("orderflow_end_to_end_latency_seconds_count", {{"kind", "PAYMENT_AUTHORIZED"}}),
            std::nullopt);
}

TEST(NotificationHandlerTest, WorksWithoutMetrics) {
  auto s = std::make_unique<ScriptedSink>();
  NotificationHandler h(NotificationConfig{}, std::move(s), nullptr);
  const TestRecord m("orders", ev::to_json(order()), "customer-42");
  EXPECT_EQ(orderflow::testing::handle_like_stage(h, m.view()).outputs.size(), 1U);
  EXPECT_TRUE(orderflow::testing::handle_like_stage(h, m.view()).outputs.empty());
}

TEST(NotificationHandlerTest, ConfiguredTopicsAndChannel) {
  auto s = std::make_unique<ScriptedSink>();
  NotificationConfig cfg;
  cfg.orders_topic = "orders-v2";
  cfg.payments_topic = "payments-v2";
  cfg.notifications_topic = "notifications-v2";
  cfg.channel = "sms";
  NotificationHandler h(cfg, std::move(s), nullptr);
  const TestRecord m("payments-v2", ev::to_json(payment(ev::PaymentStatus::Authorized)), "customer-42");
  const auto r = orderflow::testing::handle_like_stage(h, m.view());
  ASSERT_EQ(r.outputs.size(), 1U);
  EXPECT_EQ(r.outputs[0].topic, "notifications-v2");
  const auto n = parsed(r.outputs[0]);
  EXPECT_EQ(n.kind, ev::NotificationKind::PaymentAuthorized);
  EXPECT_EQ(n.channel, "sms");
}

}  // namespace
