// OrderGenerator: same seed → same stream (except occurred_at); valid records pass parse_order_created;
// --invalid-ratio 1.0 → every record fails to parse, with several kinds of malformation; the customer pool.
#include "orderflow/producer/order_generator.h"

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "orderflow/events/events.h"

namespace {

namespace ev = orderflow::events;
using orderflow::producer::GeneratedRecord;
using orderflow::producer::OrderGenerator;

std::chrono::system_clock::time_point at(const char* ts) {
  return *ev::parse_timestamp(ts);
}

const auto kT1 = at("2026-11-23T12:00:00.123Z");
const auto kT2 = at("2027-01-02T03:04:05.678Z");

std::vector<GeneratedRecord> generate(std::uint64_t seed, int customers, double invalid_ratio, int n,
                                      std::chrono::system_clock::time_point now) {
  OrderGenerator g(seed, customers, invalid_ratio);
  std::vector<GeneratedRecord> out;
  out.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) out.push_back(g.next(now));
  return out;
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (auto pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size())) {
    s.replace(pos, from.size(), to);
  }
  return s;
}

TEST(OrderGeneratorTest, SameSeedSameStream) {
  const auto a = generate(42, 100, 0.2, 500, kT1);
  const auto b = generate(42, 100, 0.2, 500, kT1);
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].key, b[i].key) << i;
    EXPECT_EQ(a[i].value, b[i].value) << i;
    EXPECT_EQ(a[i].order_id, b[i].order_id) << i;
    EXPECT_EQ(a[i].valid, b[i].valid) << i;
    EXPECT_EQ(a[i].malformation, b[i].malformation) << i;
  }
}

TEST(OrderGeneratorTest, OnlyOccurredAtDependsOnTheClock) {
  const auto a = generate(7, 50, 0.2, 500, kT1);
  const auto b = generate(7, 50, 0.2, 500, kT2);
  const auto t1 = ev::format_timestamp(kT1);
  const auto t2 = ev::format_timestamp(kT2);
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].key, b[i].key) << i;
    EXPECT_EQ(a[i].order_id, b[i].order_id) << i;
    EXPECT_EQ(a[i].valid, b[i].valid) << i;
    // Truncated records may cut the timestamp; compare what both contain up to the shorter length.
    const auto va = replace_all(a[i].value, t1, "<T>");
    const auto vb = replace_all(b[i].value, t2, "<T>");
    if (a[i].malformation == "truncated JSON") continue;
    EXPECT_EQ(va, vb) << i;
    if (a[i].valid) {
      auto pa = ev::parse_order_created(a[i].value).value();
      const auto pb = ev::parse_order_created(b[i].value).value();
      EXPECT_EQ(pa.occurred_at, t1);
      EXPECT_EQ(pb.occurred_at, t2);
      pa.occurred_at = pb.occurred_at;
      EXPECT_EQ(pa, pb) << i;
    }
  }
}

TEST(OrderGeneratorTest, DifferentSeedsGiveDifferentStreams) {
  const auto a = generate(1, 100, 0.0, 50, kT1);
  const auto b = generate(2, 100, 0.0, 50, kT1);
  int same = 0;
  for (std::size_t i = 0; i < a.size(); ++i) same += a[i].order_id == b[i].order_id ? 1 : 0;
  EXPECT_EQ(same, 0);
}

TEST(OrderGeneratorTest, ValidRecordsParseAndAreKeyedByCustomer) {
  const auto records = generate(42, 1000, 0.0, 2000, kT1);
  std::set<std::string> order_ids;
  std::set<std::string> event_ids;
  for (const auto& r : records) {
    ASSERT_TRUE(r.valid);
    EXPECT_TRUE(r.malformation.empty());
    const auto parsed = ev::parse_order_created(r.value);
    ASSERT_TRUE(parsed.has_value()) << parsed.error().message() << "\n" << r.value;
    const auto& o = parsed.value();
    EXPECT_EQ(r.key, o.customer_id);
    EXPECT_EQ(r.order_id, o.order_id);
    EXPECT_EQ(o.occurred_at, ev::format_timestamp(kT1));
    EXPECT_GE(o.items.size(), 1U);
    std::int64_t sum = 0;
    for (const auto& item : o.items) sum += item.quantity * item.unit_price_cents;
    EXPECT_EQ(o.amount_cents, sum);
    EXPECT_TRUE(o.currency == "EUR" || o.currency == "USD" || o.currency == "GBP") << o.currency;
    order_ids.insert(o.order_id);
    event_ids.insert(o.event_id);
  }
  EXPECT_EQ(order_ids.size(), records.size()) << "order ids are unique";
  EXPECT_EQ(event_ids.size(), records.size()) << "event ids are unique";
}

TEST(OrderGeneratorTest, NextOrderValidates) {
  OrderGenerator g(3, 10, 0.0);
  for (int i = 0; i < 500; ++i) {
    const auto o = g.next_order(kT1);
    const auto valid = ev::validate_order_created(o);
    ASSERT_TRUE(valid.has_value()) << valid.error().message();
  }
}

TEST(OrderGeneratorTest, SomeOrdersExceedTheDefaultPaymentLimit) {
  // The demo needs both outcomes: DECLINED above 500000 cents and AUTHORIZED below.
  const auto records = generate(42, 100, 0.0, 3000, kT1);
  int over = 0;
  for (const auto& r : records)
    over += ev::parse_order_created(r.value).value().amount_cents > 500000 ? 1 : 0;
  EXPECT_GT(over, 0);
  EXPECT_LT(over, 3000);
}

TEST(OrderGeneratorTest, InvalidRatioOneMakesEveryRecordPoisonInSeveralWays) {
  const auto records = generate(42, 100, 1.0, 600, kT1);
  std::map<std::string, int> kinds;
  std::map<std::string, std::set<std::string>> fields_by_kind;
  for (const auto& r : records) {
    ASSERT_FALSE(r.valid);
    ASSERT_FALSE(r.malformation.empty());
    const auto parsed = ev::parse_order_created(r.value);
    ASSERT_FALSE(parsed.has_value()) << "flagged '" << r.malformation << "' but parses:\n" << r.value;
    ++kinds[r.malformation];
    fields_by_kind[r.malformation].insert(parsed.error().field);
    EXPECT_FALSE(r.key.empty()) << "malformed records keep their key (per-customer order in the DLQ)";
    EXPECT_FALSE(r.order_id.empty());
  }
  EXPECT_GE(kinds.size(), 5U);
  for (const auto& [kind, n] : kinds) EXPECT_GE(n, 30) << kind;
  // Each kind fails for the reason it claims.
  const std::map<std::string, std::set<std::string>> expected{
      {"not JSON", {"$"}},
      {"truncated JSON", {"$"}},
      {"amount_cents does not match the items", {"amount_cents"}},
      {"lower-case currency", {"currency"}},
      {"unknown schema_version", {"schema_version"}},
  };
  for (const auto& [kind, fields] : expected) {
    if (fields_by_kind.count(kind) == 0) continue;
    EXPECT_EQ(fields_by_kind[kind], fields) << kind;
  }
  if (fields_by_kind.count("quantity 0") != 0) {
    for (const auto& field : fields_by_kind["quantity 0"]) {
      EXPECT_TRUE(field == "items[0].quantity" || field == "amount_cents") << field;
    }
  }
}

TEST(OrderGeneratorTest, InvalidRatioZeroMakesNoInvalidRecords) {
  for (const auto& r : generate(9, 10, 0.0, 1000, kT1)) ASSERT_TRUE(r.valid);
}

TEST(OrderGeneratorTest, InvalidRatioIsAFraction) {
  const auto records = generate(11, 100, 0.2, 5000, kT1);
  int invalid = 0;
  for (const auto& r : records) {
    invalid += r.valid ? 0 : 1;
    EXPECT_EQ(r.valid, ev::parse_order_created(r.value).has_value()) << r.malformation;
  }
  EXPECT_NEAR(invalid, 1000, 150);
}

TEST(OrderGeneratorTest, CustomerPoolIsRespected) {
  const auto records = generate(5, 3, 0.0, 300, kT1);
  std::set<std::string> customers;
  for (const auto& r : records) customers.insert(r.key);
  EXPECT_EQ(customers, (std::set<std::string>{"cust-00001", "cust-00002", "cust-00003"}));
}

TEST(OrderGeneratorTest, NonPositivePoolMeansOneCustomer) {
  for (int pool : {0, -5}) {
    std::set<std::string> customers;
    for (const auto& r : generate(5, pool, 0.0, 50, kT1)) customers.insert(r.key);
    EXPECT_EQ(customers.size(), 1U) << pool;
  }
}

TEST(OrderGeneratorTest, LargePoolSpreadsOverManyCustomers) {
  std::set<std::string> customers;
  for (const auto& r : generate(5, 100000, 0.0, 1000, kT1)) {
    customers.insert(r.key);
    ASSERT_LE(r.key.size(), 64U);
  }
  EXPECT_GT(customers.size(), 950U);
}

}  // namespace
