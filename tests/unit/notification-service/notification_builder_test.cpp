// notification_for_order / notification_for_payment: kinds, copied fields, and identities derived from
// (order_id, kind) so that duplicates share them (docs/contract.md §5 Events).
#include "orderflow/notification/notification_builder.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "orderflow/events/events.h"

namespace {

namespace ev = orderflow::events;
using orderflow::notification::notification_for_order;
using orderflow::notification::notification_for_payment;

ev::OrderCreated order() {
  ev::OrderCreated o;
  o.event_id = "0b7e3a52-6d1f-4c1e-9a3e-2f5d8c9b1a01";
  o.occurred_at = "2026-11-23T12:00:00.123Z";
  o.order_id = "order-1";
  o.customer_id = "customer-42";
  o.items = {ev::Item{"SKU-1", 1, 1000}};
  o.amount_cents = 1000;
  o.currency = "EUR";
  return o;
}

ev::PaymentProcessed payment(ev::PaymentStatus status) {
  ev::PaymentProcessed p;
  p.payment_id = ev::payment_id_for("0b7e3a52-6d1f-4c1e-9a3e-2f5d8c9b1a01");
  p.event_id = p.payment_id;
  p.occurred_at = "2026-11-23T12:00:00.500Z";
  p.order_id = "order-1";
  p.customer_id = "customer-42";
  p.order_event_id = "0b7e3a52-6d1f-4c1e-9a3e-2f5d8c9b1a01";
  p.status = status;
  p.amount_cents = 1000;
  p.currency = "EUR";
  if (status == ev::PaymentStatus::Declined) p.decline_reason = "AMOUNT_LIMIT_EXCEEDED";
  return p;
}

std::chrono::system_clock::time_point at(const char* ts) {
  return *ev::parse_timestamp(ts);
}

TEST(NotificationBuilderTest, OrderGivesOrderReceived) {
  const auto o = order();
  const auto n = notification_for_order(o, "email", at("2026-11-23T12:00:01.000Z"));
  EXPECT_EQ(n.kind, ev::NotificationKind::OrderReceived);
  EXPECT_EQ(n.order_id, "order-1");
  EXPECT_EQ(n.customer_id, "customer-42");
  EXPECT_EQ(n.source_event_id, o.event_id);
  EXPECT_EQ(n.channel, "email");
  EXPECT_EQ(n.occurred_at, "2026-11-23T12:00:01.000Z");
  EXPECT_EQ(n.notification_id, ev::notification_id_for("order-1", ev::NotificationKind::OrderReceived));
  EXPECT_EQ(n.event_id, n.notification_id);
  EXPECT_EQ(n.notification_id, ev::uuid_v5("notification:order-1:ORDER_RECEIVED")) << "contract formula";
}

TEST(NotificationBuilderTest, PaymentOutcomeGivesItsKind) {
  const auto ok = notification_for_payment(payment(ev::PaymentStatus::Authorized), "sms", {});
  EXPECT_EQ(ok.kind, ev::NotificationKind::PaymentAuthorized);
  EXPECT_EQ(ok.source_event_id, payment(ev::PaymentStatus::Authorized).event_id);
  EXPECT_EQ(ok.channel, "sms");
  EXPECT_EQ(ok.notification_id, ev::notification_id_for("order-1", ev::NotificationKind::PaymentAuthorized));
  const auto no = notification_for_payment(payment(ev::PaymentStatus::Declined), "sms", {});
  EXPECT_EQ(no.kind, ev::NotificationKind::PaymentDeclined);
  EXPECT_EQ(no.notification_id, ev::notification_id_for("order-1", ev::NotificationKind::PaymentDeclined));
  EXPECT_EQ(no.event_id, no.notification_id);
}

TEST(NotificationBuilderTest, IdentitiesAreStableForTheSameOrderAndKind) {
  const auto a = notification_for_order(order(), "email", at("2026-11-23T12:00:01.000Z"));
  auto replayed = order();
  replayed.event_id = "1c7e3a52-6d1f-4c1e-9a3e-2f5d8c9b1a02";  // a re-sent order, new event id
  const auto b = notification_for_order(replayed, "log", at("2026-12-01T00:00:00.000Z"));
  EXPECT_EQ(a.notification_id, b.notification_id);
  EXPECT_EQ(a.event_id, b.event_id);

  const auto received = a.notification_id;
  const auto authorized =
      notification_for_payment(payment(ev::PaymentStatus::Authorized), "email", {}).notification_id;
  const auto declined =
      notification_for_payment(payment(ev::PaymentStatus::Declined), "email", {}).notification_id;
  EXPECT_NE(received, authorized);
  EXPECT_NE(received, declined);
  EXPECT_NE(authorized, declined);

  auto other = order();
  other.order_id = "order-2";
  EXPECT_NE(notification_for_order(other, "email", {}).notification_id, received);
}

TEST(NotificationBuilderTest, ResultsPassTheSchemaAndRoundTrip) {
  const std::vector<ev::NotificationSent> all{
      notification_for_order(order(), "email", at("2026-11-23T12:00:01.000Z")),
      notification_for_payment(payment(ev::PaymentStatus::Authorized), "log", at("2026-11-23T12:00:01.000Z")),
      notification_for_payment(payment(ev::PaymentStatus::Declined), "webhook",
                               at("2026-11-23T12:00:01.000Z"))};
  for (const auto& n : all) {
    const auto valid = ev::validate_notification_sent(n);
    EXPECT_TRUE(valid.has_value()) << (valid ? "" : valid.error().message());
    const auto parsed = ev::parse_notification_sent(ev::to_json(n));
    ASSERT_TRUE(parsed.has_value()) << parsed.error().message();
    EXPECT_EQ(parsed.value(), n);
  }
}

}  // namespace
