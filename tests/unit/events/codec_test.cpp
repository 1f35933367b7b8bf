// parse_*, validate_* and to_json of orderflow::events: values, exact error messages, error order, limits.
#include "orderflow/events/codec.h"

#include <gtest/gtest.h>

#include <cctype>
#include <chrono>
#include <string>

#include "sample_events.h"

namespace {

using orderflow::events::samples::kNotification;
using orderflow::events::samples::kPayment;
using orderflow::events::samples::order_error;
using orderflow::events::samples::replace;

namespace ev = orderflow::events;

const std::string kOrder =
    R"({"event_id":"0b7e3a52-6d1f-4c1e-9a3e-2f5d8c9b1a01","event_type":"OrderCreated","schema_version":1,)"
    R"("occurred_at":"2026-11-23T12:00:00.123Z","order_id":"order-1","customer_id":"customer-42",)"
    R"("items":[{"sku":"SKU-1","quantity":2,"unit_price_cents":500},{"sku":"SKU-2","quantity":1,"unit_price_cents":1500},)"
    R"({"sku":"SKU-3","quantity":3,"unit_price_cents":250}],"amount_cents":3250,"currency":"EUR"})";

ev::OrderCreated typical_order() {
  ev::OrderCreated o;
  o.event_id = "0b7e3a52-6d1f-4c1e-9a3e-2f5d8c9b1a01";
  o.occurred_at = "2026-11-23T12:00:00.123Z";
  o.order_id = "order-1";
  o.customer_id = "customer-42";
  o.items = {{"SKU-1", 2, 500}, {"SKU-2", 1, 1500}, {"SKU-3", 3, 250}};
  o.amount_cents = 3250;
  o.currency = "EUR";
  return o;
}

TEST(ParseOrderCreated, ReadsEveryField) {
  auto r = ev::parse_order_created(kOrder);
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(r.value(), typical_order());
}

TEST(ParseOrderCreated, EventIdMustBeHexDigitsAndDashesAtTheirPlaces) {
  const std::string id = "0b7e3a52-6d1f-4c1e-9a3e-2f5d8c9b1a01";
  EXPECT_EQ(order_error(replace(kOrder, id, "0B7E3A52-6D1F-4C1E-9A3E-2F5D8C9B1A01")), "OK") << "either case";
  // Every printable ASCII byte that is not a hex digit, at a digit's place (first, after a dash, last);
  // a dash moved off its place.
  for (int c = 0x20; c < 0x7f; ++c) {
    if (std::isxdigit(c) != 0 || c == '"' || c == '\\') continue;
    for (const std::size_t at : {std::size_t{0}, std::size_t{9}, id.size() - 1}) {
      auto bad = id;
      bad[at] = static_cast<char>(c);
      EXPECT_NE(order_error(replace(kOrder, id, bad)), "OK") << "byte " << c << " at " << at;
    }
  }
  for (const std::size_t dash : {std::size_t{8}, std::size_t{13}, std::size_t{18}, std::size_t{23}}) {
    auto bad = id;
    std::swap(bad[dash], bad[dash - 1]);
    EXPECT_NE(order_error(replace(kOrder, id, bad)), "OK") << "dash at " << dash - 1;
  }
}

TEST(ParseOrderCreated, ExactMessages) {
  EXPECT_EQ(order_error(replace(kOrder, R"("quantity":3)", R"("quantity":0)")),
            "items[2].quantity: must be between 1 and 1000, got 0");
  EXPECT_EQ(order_error(replace(kOrder, R"("EUR")", R"("usd")")),
            R"(currency: must be 3 upper-case letters (ISO 4217 code), got "usd")");
  EXPECT_EQ(order_error(replace(kOrder, R"("amount_cents":3250)", R"("amount_cents":3251)")),
            "amount_cents: must equal the sum of quantity * unit_price_cents over items (3250), got 3251");
  EXPECT_EQ(order_error(replace(kOrder, R"("schema_version":1)", R"("schema_version":3)")),
            "schema_version: unsupported schema version, must be 1, got 3");
  EXPECT_EQ(order_error(replace(kOrder, R"("OrderCreated")", R"("OrderCreated2")")),
            R"(event_type: must be "OrderCreated", got "OrderCreated2")");
  EXPECT_EQ(order_error(replace(kOrder, R"("quantity":2)", R"("quantity":"2")")),
            R"(items[0].quantity: must be an integer, got "2")");
  EXPECT_EQ(order_error(
                replace(kOrder, R"("order_id":"order-1")", R"("order_id":")" + std::string(100, 'x') + "\"")),
            "order_id: must be between 1 and 64 characters long, got 100");
  EXPECT_EQ(order_error(replace(kOrder, R"("event_id":"0b7e3a52-6d1f-4c1e-9a3e-2f5d8c9b1a01")",
                                R"("event_id":")" + std::string(50, 'e') + "\"")),
            "event_id: must be a UUID (8-4-4-4-12 hex digits), got a string of 50 characters");
  EXPECT_EQ(order_error(kOrder + "x"), "$: not valid JSON at byte " + std::to_string(kOrder.size()) +
                                           ": unexpected data after the JSON value");
  EXPECT_EQ(order_error("{\"a\":1,}"), "$: not valid JSON at byte 7: expected a string as object key");
  EXPECT_EQ(order_error("[]"), "$: must be a JSON object, got an array");
  EXPECT_EQ(order_error(R"({"a":"\ud800"})"), "$: not valid JSON at byte 6: lone surrogate in \\u escape");
  EXPECT_EQ(order_error(R"({"a":1,"a":2})"), "$: duplicate key \"a\"");
}

TEST(ParseOrderCreated, IntegralFloatsAreIntegers) {
  // JSON Schema 2020-12 calls 1.0 an integer; orderflow agrees (within int64).
  auto r = ev::parse_order_created(replace(kOrder, R"("quantity":2)", R"("quantity":2.0)"));
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(r.value().items[0].quantity, 2);
  r = ev::parse_order_created(replace(kOrder, R"("amount_cents":3250)", R"("amount_cents":3.25e3)"));
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(r.value().amount_cents, 3250);
  EXPECT_EQ(order_error(replace(kOrder, R"("amount_cents":3250)", R"("amount_cents":9.3e18)")),
            "amount_cents: must be an integer within the 64-bit range, got 9.3e18");
  EXPECT_EQ(order_error(replace(kOrder, R"("amount_cents":3250)", R"("amount_cents":-0.0)")),
            "amount_cents: must be > 0, got 0");
}

TEST(ParseOrderCreated, FirstErrorOrder) {
  // event_type and schema_version come first: they say which schema applies at all.
  std::string doc = replace(kOrder, R"("EUR")", R"("eur")");
  doc = replace(doc, R"("schema_version":1)", R"("schema_version":2)");
  EXPECT_EQ(order_error(doc), "schema_version: unsupported schema version, must be 1, got 2");
  // Unknown fields are ignored (unknown_fields_test.cpp): a misspelt field leaves the real one missing.
  EXPECT_EQ(order_error(replace(kOrder, R"("amount_cents")", R"("amount_cent")")),
            "amount_cents: is required");
  // Then the fields in schema order, whatever their order in the document.
  doc = replace(kOrder, R"("EUR")", R"("eur")");
  doc = replace(doc, R"("order_id":"order-1")", R"("order_id":"")");
  EXPECT_EQ(order_error(doc), "order_id: must be between 1 and 64 characters long, got 0");
  // Items in index order.
  doc = replace(kOrder, R"("quantity":3)", R"("quantity":0)");
  doc = replace(doc, R"("quantity":1)", R"("quantity":-1)");
  EXPECT_EQ(order_error(doc), "items[1].quantity: must be between 1 and 1000, got -1");
  // A document error wins over everything.
  EXPECT_EQ(order_error(replace(kOrder, R"("EUR")", R"("eur",)")).substr(0, 20), "$: not valid JSON at");
}

TEST(ParseOrderCreated, WhitespaceAroundIsFine) {
  EXPECT_EQ(order_error(" \r\n\t" + kOrder + "\n"), "OK");
}

TEST(ParsePaymentProcessed, ReadsEveryField) {
  auto r = ev::parse_payment_processed(kPayment);
  ASSERT_TRUE(r.has_value()) << r.error().message();
  const auto& p = r.value();
  EXPECT_EQ(p.payment_id, "8fc5cc3c-cec1-565e-b8d5-c6c42db9fc2d");
  EXPECT_EQ(p.order_event_id, "0b7e3a52-6d1f-4c1e-9a3e-2f5d8c9b1a01");
  EXPECT_EQ(p.status, ev::PaymentStatus::Declined);
  EXPECT_EQ(p.amount_cents, 600000);
  EXPECT_EQ(p.decline_reason, "AMOUNT_LIMIT_EXCEEDED");
}

TEST(ParsePaymentProcessed, DeclineReasonRules) {
  auto r = ev::parse_payment_processed(replace(kPayment, R"(,"decline_reason":"AMOUNT_LIMIT_EXCEEDED")", ""));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().message(), "decline_reason: is required when status is DECLINED");
  r = ev::parse_payment_processed(replace(kPayment, R"("DECLINED")", R"("AUTHORIZED")"));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().message(), "decline_reason: must be absent when status is AUTHORIZED");
  r = ev::parse_payment_processed(replace(replace(kPayment, R"("DECLINED")", R"("AUTHORIZED")"),
                                          R"(,"decline_reason":"AMOUNT_LIMIT_EXCEEDED")", ""));
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(r.value().status, ev::PaymentStatus::Authorized);
  EXPECT_FALSE(r.value().decline_reason.has_value());
}

TEST(ParseNotificationSent, ReadsEveryField) {
  auto r = ev::parse_notification_sent(kNotification);
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(r.value().kind, ev::NotificationKind::OrderReceived);
  EXPECT_EQ(r.value().channel, "log");
  EXPECT_EQ(r.value().source_event_id, "0b7e3a52-6d1f-4c1e-9a3e-2f5d8c9b1a01");
}

TEST(ParseNotificationSent, WrongEventTypeIsNamed) {
  auto r = ev::parse_notification_sent(kOrder);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().message(), R"(event_type: must be "NotificationSent", got "OrderCreated")");
}

TEST(ValidateOrderCreated, RulesOnBuiltObjects) {
  auto o = typical_order();
  EXPECT_TRUE(ev::validate_order_created(o).has_value());
  o.items[1].quantity = 1001;
  o.amount_cents = 3250 + 1000 * 1500;
  auto r = ev::validate_order_created(o);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().message(), "items[1].quantity: must be between 1 and 1000, got 1001");

  o = typical_order();
  o.amount_cents = 1;
  r = ev::validate_order_created(o);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().field, "amount_cents");

  o = typical_order();
  o.items = {{"A", 1000, INT64_MAX / 1000}, {"B", 1000, INT64_MAX / 1000}};
  r = ev::validate_order_created(o);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().message(),
            "amount_cents: the sum of quantity * unit_price_cents over items overflows a 64-bit integer");

  o = typical_order();
  o.items.clear();
  r = ev::validate_order_created(o);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().message(), "items: must contain between 1 and 100 items, got 0");

  o = typical_order();
  o.occurred_at = "2026-11-23T12:00:00Z";
  EXPECT_EQ(ev::validate_order_created(o).error().field, "occurred_at");
}

TEST(ValidatePaymentProcessed, DeclineReasonIffDeclined) {
  auto p = ev::parse_payment_processed(kPayment).value();
  EXPECT_TRUE(ev::validate_payment_processed(p).has_value());
  p.decline_reason.reset();
  EXPECT_EQ(ev::validate_payment_processed(p).error().message(),
            "decline_reason: is required when status is DECLINED");
  p.status = ev::PaymentStatus::Authorized;
  EXPECT_TRUE(ev::validate_payment_processed(p).has_value());
}

TEST(ValidateNotificationSent, Channel) {
  auto n = ev::parse_notification_sent(kNotification).value();
  EXPECT_TRUE(ev::validate_notification_sent(n).has_value());
  n.channel = std::string(33, 'c');
  EXPECT_EQ(ev::validate_notification_sent(n).error().message(),
            "channel: must be between 1 and 32 characters long, got 33");
}

TEST(ToJson, CompactAndExact) {
  EXPECT_EQ(ev::to_json(typical_order()), kOrder);
  EXPECT_EQ(ev::to_json(ev::parse_payment_processed(kPayment).value()), kPayment);
  EXPECT_EQ(ev::to_json(ev::parse_notification_sent(kNotification).value()), kNotification);
}

TEST(ToJson, RoundTripsAwkwardStrings) {
  auto o = typical_order();
  o.order_id = std::string("q\"b\\s/\b\f\n\r\t\x01\x1f\x7f", 14) + std::string(1, '\0') + "é😀";
  o.customer_id = "顧客";
  o.items[0].sku = "\xe2\x80\xa8";  // U+2028
  const std::string json = ev::to_json(o);
  EXPECT_NE(json.find(R"(q\"b\\s/\b\f\n\r\t\u0001\u001f)"), std::string::npos) << json;
  EXPECT_NE(json.find(R"(\u0000)"), std::string::npos) << json;
  auto r = ev::parse_order_created(json);
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(r.value(), o);
}

TEST(ToJson, InvalidUtf8BecomesReplacementCharacter) {
  auto o = typical_order();
  o.order_id =
      "a\xff"
      "b\xc0\xaf"
      "c\xed\xa0\x80";
  const std::string json = ev::to_json(o);
  auto r = ev::parse_order_created(json);
  ASSERT_TRUE(r.has_value()) << r.error().message() << " in " << json;
  EXPECT_EQ(r.value().order_id,
            "a\xEF\xBF\xBD"
            "b\xEF\xBF\xBD\xEF\xBF\xBD"
            "c\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST(ToString, Enums) {
  EXPECT_EQ(ev::to_string(ev::PaymentStatus::Authorized), "AUTHORIZED");
  EXPECT_EQ(ev::to_string(ev::PaymentStatus::Declined), "DECLINED");
  EXPECT_EQ(ev::to_string(ev::NotificationKind::OrderReceived), "ORDER_RECEIVED");
  EXPECT_EQ(ev::to_string(ev::NotificationKind::PaymentAuthorized), "PAYMENT_AUTHORIZED");
  EXPECT_EQ(ev::to_string(ev::NotificationKind::PaymentDeclined), "PAYMENT_DECLINED");
  EXPECT_EQ(ev::payment_status_from_string("DECLINED"), ev::PaymentStatus::Declined);
  EXPECT_EQ(ev::notification_kind_from_string("order_received"), std::nullopt);
}

// --- hostile input: bounded time, no crash ----------------------------------------------------------

template <class F>
double seconds(F&& f) {
  const auto start = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

TEST(Limits, DeepNestingIsRejectedQuickly) {
  const std::string arrays = std::string(100000, '[') + std::string(100000, ']');
  std::string objects;
  for (int i = 0; i < 100000; ++i) objects += R"({"a":)";
  objects += "1" + std::string(100000, '}');
  const std::string unterminated(100000, '[');
  for (const std::string* doc : std::initializer_list<const std::string*>{&arrays, &objects, &unterminated}) {
    std::string message;
    const double s = seconds([&] { message = order_error(*doc); });
    EXPECT_EQ(message, "$: nesting deeper than 64 levels");
    EXPECT_LT(s, 1.0);
  }
  // Deep nesting inside a field value is caught the same way.
  const std::string inside = replace(kOrder, R"("EUR")", R"("EUR","x":)" + arrays);
  EXPECT_EQ(order_error(inside), "$: nesting deeper than 64 levels");
  // 64 levels are fine (root object + 63 arrays).
  const std::string ok =
      replace(kOrder, R"("EUR")", R"("EUR","x":)" + std::string(63, '[') + std::string(63, ']'));
  EXPECT_EQ(order_error(ok), "OK");
}

TEST(Limits, TenMebibyteStringIsRejectedQuickly) {
  const std::string big(10U << 20U, 'a');
  std::string message;
  double s = seconds([&] { message = order_error(replace(kOrder, R"("order-1")", '"' + big + '"')); });
  EXPECT_EQ(message, "order_id: must be between 1 and 64 characters long, got 10485760");
  EXPECT_LT(s, 5.0);  // linear: ~50 ms optimised; generous for sanitizer builds on a busy machine
  s = seconds([&] { message = order_error(replace(kOrder, R"("EUR")", R"("EUR","blob":")" + big + '"')); });
  EXPECT_EQ(message, "OK");  // an unknown field, skipped
  EXPECT_LT(s, 5.0);         // linear: ~50 ms optimised; generous for sanitizer builds on a busy machine
  s = seconds([&] { message = order_error(R"({"order_id":")" + big); });
  EXPECT_EQ(message,
            "$: not valid JSON at byte " + std::to_string(13 + big.size()) + ": unterminated string");
  EXPECT_LT(s, 5.0);  // linear: ~50 ms optimised; generous for sanitizer builds on a busy machine
}

TEST(Limits, HugeKeyIsShortenedInTheMessage) {
  const std::string key(1000, 'k');
  EXPECT_EQ(order_error(replace(kOrder, R"("EUR")", R"("EUR",")" + key + R"(":1)")),
            "OK");  // unknown: skipped
  const std::string message =
      order_error(replace(kOrder, R"("EUR")", R"("EUR",")" + key + R"(":1,")" + key + R"(":2)"));
  EXPECT_EQ(message, R"($: duplicate key ")" + std::string(64, 'k') + R"(")");
}

}  // namespace
