// Forward compatibility (docs/contract.md §5 Events): fields the contract does not name are ignored at every
// level — the top level of each event type and inside an OrderCreated item — whatever their JSON type, and
// they are not carried through to_json. They are still part of the document: a duplicate key, invalid JSON or
// nesting beyond the limit inside one is still a document error, and the named fields keep every rule.
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "orderflow/events/codec.h"
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
    R"("items":[{"sku":"SKU-1","quantity":2,"unit_price_cents":500},{"sku":"SKU-2","quantity":1,)"
    R"("unit_price_cents":1500}],"amount_cents":2500,"currency":"EUR"})";

// One unknown member per JSON type (and the awkward spellings of some), as `"name":value` pairs.
const std::vector<std::string> kUnknownMembers = {
    R"("discount_code":"X")",
    R"("x_escaped_string":"a\"b\u00e9\ud83d\ude00")",
    R"("x_object":{"a":{"b":[1,{"c":null}]},"d":"e"})",
    R"("x_empty_object":{})",
    R"("x_array":[1,"a",null,true,{},[],{"k":[2]}])",
    R"("x_empty_array":[])",
    R"("x_null":null)",
    R"("x_true":true)",
    R"("x_false":false)",
    R"("x_integer":7)",
    R"("x_negative":-3)",
    R"("x_float":1.5)",
    R"("x_exponent":-2.5e-300)",
    R"("x_uint64":18446744073709551615)",
    R"("x_beyond_uint64":123456789012345678901234567890)",
    R"("x_beyond_double":1e400)",
    R"("x_long_string":")" + std::string(300, 's') + R"(")",
    R"("":1)",
    R"("x\u0041_escaped_key":1)",
};

// `doc` with `member` inserted right after the first occurrence of `anchor`.
std::string insert_after(std::string doc, std::string_view anchor, const std::string& member) {
  const auto pos = doc.find(anchor);
  EXPECT_NE(pos, std::string::npos) << anchor;
  if (pos != std::string::npos) doc.insert(pos + anchor.size(), member);
  return doc;
}

// `doc` with `member` as the first member of its top-level object.
std::string at_top_first(const std::string& doc, const std::string& member) {
  return insert_after(doc, "{", member + ",");
}

// `doc` with `member` as the last member of its top-level object.
std::string at_top_last(std::string doc, const std::string& member) {
  doc.insert(doc.size() - 1, "," + member);
  return doc;
}

template <class Parse>
std::string error_of(Parse parse, const std::string& doc) {
  auto r = parse(doc);
  return r ? "OK" : r.error().message();
}

// Parses `doc`, which must be accepted, and checks that it reads exactly as `clean` (the same document
// without the unknown members) and that to_json writes none of them back.
template <class Parse>
void expect_ignored(Parse parse, const std::string& doc, const std::string& clean) {
  SCOPED_TRACE(doc.substr(0, 300));
  const auto r = parse(doc);
  ASSERT_TRUE(r.has_value()) << r.error().message();
  const auto expected = parse(clean);
  ASSERT_TRUE(expected.has_value()) << expected.error().message();
  EXPECT_EQ(r.value(), expected.value());
  EXPECT_EQ(ev::to_json(r.value()), ev::to_json(expected.value()));
}

// --- OrderCreated ------------------------------------------------------------------------------------

TEST(UnknownFields, OrderTopLevelOfEveryJsonTypeIsIgnored) {
  for (const auto& member : kUnknownMembers) {
    expect_ignored(&ev::parse_order_created, at_top_last(kOrder, member), kOrder);
    expect_ignored(&ev::parse_order_created, at_top_first(kOrder, member), kOrder);
  }
}

TEST(UnknownFields, OrderItemFieldOfEveryJsonTypeIsIgnored) {
  for (const auto& member : kUnknownMembers) {
    // Last, first and between the known members of an item, in the first and in the last item.
    expect_ignored(&ev::parse_order_created, insert_after(kOrder, R"("unit_price_cents":500)", "," + member),
                   kOrder);
    expect_ignored(&ev::parse_order_created, insert_after(kOrder, R"({"sku":"SKU-2")", "," + member), kOrder);
    expect_ignored(&ev::parse_order_created, insert_after(kOrder, R"("items":[{)", member + ","), kOrder);
  }
}

TEST(UnknownFields, OrderWithADiscountCodeInEveryItemAndUnknownFieldsAtTheTopIsAccepted) {
  std::string doc = insert_after(kOrder, R"("unit_price_cents":500)", R"(,"discount_code":"X")");
  doc = insert_after(doc, R"("unit_price_cents":1500)", R"(,"discount_code":"Y","gift":{"wrap":true})");
  doc = at_top_last(doc, R"("discount":{"code":"X","items":[0,1]},"channel":["web"])");
  expect_ignored(&ev::parse_order_created, doc, kOrder);
  const auto r = ev::parse_order_created(doc);
  ASSERT_TRUE(r.has_value());
  ASSERT_EQ(r.value().items.size(), 2U);
  EXPECT_EQ(r.value().items[0], (ev::Item{"SKU-1", 2, 500}));
  EXPECT_EQ(r.value().items[1], (ev::Item{"SKU-2", 1, 1500}));
  EXPECT_EQ(r.value().amount_cents, 2500);
}

TEST(UnknownFields, NamesAreKnownPerLevel) {
  // A top-level name inside an item, or an item name at the top level, is unknown there: ignored, whatever
  // its value.
  expect_ignored(
      &ev::parse_order_created,
      insert_after(kOrder, R"("unit_price_cents":500)", R"(,"currency":5,"amount_cents":"x","items":{})"),
      kOrder);
  expect_ignored(&ev::parse_order_created,
                 at_top_last(kOrder, R"("sku":5,"quantity":"x","unit_price_cents":null)"), kOrder);
}

TEST(UnknownFields, OrderNamedFieldsKeepTheirRulesNextToUnknownOnes) {
  const std::string unknown = R"(,"discount_code":"X")";
  const std::string in_items = insert_after(insert_after(kOrder, R"("unit_price_cents":500)", unknown),
                                            R"("unit_price_cents":1500)", unknown);
  EXPECT_EQ(order_error(replace(in_items, R"("quantity":1)", R"("quantity":"1")")),
            R"(items[1].quantity: must be an integer, got "1")");
  EXPECT_EQ(order_error(replace(in_items, R"("quantity":2)", R"("quantity":0)")),
            "items[0].quantity: must be between 1 and 1000, got 0");
  EXPECT_EQ(order_error(replace(in_items, R"("unit_price_cents":1500)", R"("unit_price_cents":-1)")),
            "items[1].unit_price_cents: must be >= 0, got -1");
  EXPECT_EQ(order_error(replace(in_items, "2500", "2501")),
            "amount_cents: must equal the sum of quantity * unit_price_cents over items (2500), got 2501");
  // A named field given an object whose members are all unknown is still the wrong type.
  EXPECT_EQ(order_error(replace(in_items, R"("SKU-1")", R"({"code":"SKU-1","discount_code":"X"})")),
            "items[0].sku: must be a string, got an object");
  const std::string at_top = at_top_last(kOrder, R"("note":"hi")");
  EXPECT_EQ(order_error(replace(at_top, R"("EUR")", R"({"code":"EUR"})")),
            "currency: must be a string, got an object");
  EXPECT_EQ(order_error(replace(at_top, R"("items":[)", R"("items":[{"discount_code":"X"},)")),
            "items[0].sku: is required");
  // A misspelt field is an unknown one: the field it was meant to be is reported missing.
  EXPECT_EQ(order_error(replace(kOrder, R"("amount_cents")", R"("amount_cent")")),
            "amount_cents: is required");
  EXPECT_EQ(order_error(replace(kOrder, R"("quantity":1)", R"("qty":1)")), "items[1].quantity: is required");
}

TEST(UnknownFields, OrderUnknownFieldsAreStillPartOfTheDocument) {
  // Duplicate keys: among unknown members, at both levels and inside an unknown value.
  EXPECT_EQ(order_error(at_top_last(kOrder, R"("note":1,"note":2)")), R"($: duplicate key "note")");
  EXPECT_EQ(order_error(insert_after(kOrder, R"("unit_price_cents":500)",
                                     R"(,"discount_code":"X","discount_code":"Y")")),
            R"($: duplicate key "discount_code")");
  EXPECT_EQ(order_error(insert_after(kOrder, R"("unit_price_cents":500)", R"(,"x":{"a":[{"b":1,"b":2}]})")),
            R"($: duplicate key "b")");
  // The same unknown name in two items is no duplicate.
  std::string doc = insert_after(kOrder, R"("unit_price_cents":500)", R"(,"discount_code":"X")");
  EXPECT_EQ(order_error(insert_after(doc, R"("unit_price_cents":1500)", R"(,"discount_code":"X")")), "OK");
  // Nesting: root object, items array and item object are 3 levels, so 61 arrays inside an item reach 64.
  const auto nested = [](int n) { return R"(,"x":)" + std::string(n, '[') + std::string(n, ']'); };
  EXPECT_EQ(order_error(insert_after(kOrder, R"("unit_price_cents":500)", nested(61))), "OK");
  EXPECT_EQ(order_error(insert_after(kOrder, R"("unit_price_cents":500)", nested(62))),
            "$: nesting deeper than 64 levels");
  EXPECT_EQ(order_error(at_top_last(kOrder, R"("x":)" + std::string(63, '[') + std::string(63, ']'))), "OK");
  // Syntax errors and invalid UTF-8 inside an unknown value.
  EXPECT_EQ(order_error(insert_after(kOrder, R"("unit_price_cents":500)", R"(,"x":[1,])")).substr(0, 21),
            "$: not valid JSON at ");
  EXPECT_EQ(
      order_error(insert_after(kOrder, R"("unit_price_cents":500)", ",\"x\":\"\xC0\xAF\"")).substr(0, 21),
      "$: not valid JSON at ");
  EXPECT_EQ(order_error(at_top_last(kOrder, R"("x":"\ud800")")).substr(0, 21), "$: not valid JSON at ");
}

TEST(UnknownFields, HugeUnknownKeysAndValuesAreSkipped) {
  const std::string key(1000, 'k');
  EXPECT_EQ(order_error(at_top_last(kOrder, '"' + key + R"(":1)")), "OK");
  EXPECT_EQ(order_error(insert_after(kOrder, R"("unit_price_cents":500)", ",\"" + key + R"(":[1,2,3])")),
            "OK");
  // A duplicate quotes at most 64 bytes of the key; a multi-byte character cut there stays valid UTF-8.
  EXPECT_EQ(order_error(at_top_last(kOrder, '"' + key + R"(":1,")" + key + R"(":2)")),
            R"($: duplicate key ")" + std::string(64, 'k') + R"(")");
  std::string accents;
  for (int i = 0; i < 100; ++i) accents += "\xC3\xA9";
  const std::string message =
      order_error(at_top_last(kOrder, "\"x" + accents + R"(":1,"x)" + accents + R"(":2)"));
  EXPECT_EQ(message.rfind(R"($: duplicate key "x)", 0), 0U) << message;
  EXPECT_NE(message.find("\xEF\xBF\xBD"), std::string::npos) << "the split character is replaced";
}

// --- PaymentProcessed and NotificationSent (no nested objects of their own: unknown values may be) ----

TEST(UnknownFields, PaymentTopLevelOfEveryJsonTypeIsIgnored) {
  for (const auto& member : kUnknownMembers) {
    expect_ignored(&ev::parse_payment_processed, at_top_last(kPayment, member), kPayment);
    expect_ignored(&ev::parse_payment_processed, at_top_first(kPayment, member), kPayment);
  }
  expect_ignored(&ev::parse_payment_processed,
                 at_top_last(kPayment, R"("gateway":{"name":"sim","attempts":[{"at":1,"result":null}]})"),
                 kPayment);
}

TEST(UnknownFields, PaymentNamedFieldsKeepTheirRulesNextToUnknownOnes) {
  const auto payment_error = [](const std::string& doc) {
    return error_of(&ev::parse_payment_processed, doc);
  };
  const std::string doc = at_top_first(kPayment, R"("gateway":{"reason":"x"})");
  EXPECT_EQ(payment_error(replace(doc, R"("DECLINED")", R"({"code":"DECLINED"})")),
            "status: must be a string, got an object");
  EXPECT_EQ(payment_error(replace(doc, R"(,"decline_reason":"AMOUNT_LIMIT_EXCEEDED")", "")),
            "decline_reason: is required when status is DECLINED");
  EXPECT_EQ(payment_error(at_top_last(kPayment, R"("note":1,"note":2)")), R"($: duplicate key "note")");
  EXPECT_EQ(payment_error(at_top_last(kPayment, R"("x":{"a":1,"a":2})")), R"($: duplicate key "a")");
  EXPECT_EQ(payment_error(at_top_last(kPayment, R"("x":)" + std::string(64, '[') + std::string(64, ']'))),
            "$: nesting deeper than 64 levels");
}

TEST(UnknownFields, NotificationTopLevelOfEveryJsonTypeIsIgnored) {
  for (const auto& member : kUnknownMembers) {
    expect_ignored(&ev::parse_notification_sent, at_top_last(kNotification, member), kNotification);
    expect_ignored(&ev::parse_notification_sent, at_top_first(kNotification, member), kNotification);
  }
  expect_ignored(
      &ev::parse_notification_sent,
      at_top_last(kNotification, R"("delivery":{"attempts":[{"at":1,"ok":true}],"sink":{"kind":"log"}})"),
      kNotification);
}

TEST(UnknownFields, NotificationNamedFieldsKeepTheirRulesNextToUnknownOnes) {
  const auto notification_error = [](const std::string& doc) {
    return error_of(&ev::parse_notification_sent, doc);
  };
  const std::string doc = at_top_first(kNotification, R"("delivered":true)");
  EXPECT_EQ(notification_error(replace(doc, R"("ORDER_RECEIVED")", R"({"code":"ORDER_RECEIVED"})")),
            "kind: must be a string, got an object");
  EXPECT_EQ(notification_error(replace(doc, R"("log")", R"("")")),
            "channel: must be between 1 and 32 characters long, got 0");
  EXPECT_EQ(notification_error(at_top_last(kNotification, R"("note":1,"note":2)")),
            R"($: duplicate key "note")");
  EXPECT_EQ(notification_error(at_top_last(kNotification, R"("x":[{"a":1,"a":2}])")),
            R"($: duplicate key "a")");
}

}  // namespace
