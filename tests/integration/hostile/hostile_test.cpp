// Hostile input against the running services: every record of the hostile corpus (tests/data/hostile) and
// the generated monsters go to `orders` and to `payments`, interleaved with valid orders. Each must end in
// the right dead-letter topic — payment-service.dlq for `orders`, notification-service.dlq for both — as
// `poison` with the exact x-error-message (field path and reason), original key/value/headers kept; the
// valid orders must still yield one payment and two notifications each, and so must the corpus orders that
// only carry fields the contract does not name (cases.tsv "processed": unknown fields at the top level and
// inside items are ignored, so such an order is paid, not dead-lettered); both services must stay up,
// count what they dead-lettered, keep their memory bounded, and stop cleanly.
//
// message.max.bytes: a dead letter carries the original value untouched (docs/contract.md §7 Retries and dead
// letters), so dead-lettering the 10 MiB record means producing 10 MiB. The stages raise the producer's
// message.max.bytes to --max-record-bytes + headroom, and a record above --max-record-bytes is dead-lettered
// without its value (header x-value-omitted-bytes, see OversizedRecordWithDefaultKafkaLimits... below). The
// main test starts both services with -X message.max.bytes=16777216 so that the 10 MiB corpus records are
// dead-lettered whole; the dev broker (librdkafka 2.0.2's mock cluster) accepts such records (measured:
// 10 MiB in, 10 MiB out).
//
// The mock keeps only ~5 MiB per partition and evicts whole segments: once a 10 MiB record is in a
// partition, the next records appended there are dropped with it (measured: consumers then see "offset out
// of range" and skip up to 57 records). So the 10 MiB records have a test of their own in which every
// partition that holds one (input and dead-letter topics) receives nothing after it.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <limits>
#include <map>
#include <set>

#include "hostile_cases.h"
#include "orderflow/events/events.h"
#include "orderflow/testing/paths.h"
#include "orderflow/testing/wait.h"
#include "pipeline_fixture.h"
#include "raw_producer.h"

namespace orderflow::testing {
namespace {

using namespace std::chrono_literals;

constexpr long kRssLimitKiB = 150L * 1024;  // per service, after the whole run
const std::vector<std::string> kBigRecords = {"-X", "message.max.bytes=16777216"};

long rss_kib(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

const Record* find_dead_letter(const std::vector<Record>& dlq, const std::optional<std::string>& key,
                               const std::string& topic) {
  for (const auto& r : dlq) {
    if (r.key == key && header(r, "x-original-topic") == std::optional<std::string>(topic)) return &r;
  }
  return nullptr;
}

std::size_t count_from(const std::vector<Record>& dlq, const std::string& topic) {
  return static_cast<std::size_t>(std::count_if(dlq.begin(), dlq.end(), [&](const Record& r) {
    return header(r, "x-original-topic") == std::optional<std::string>(topic);
  }));
}

RawRecord to_record(const HostileCase& c, const std::string& topic, bool payments = false) {
  return RawRecord{topic, payments && c.payments_key ? c.payments_key : c.key, c.value, c.headers};
}

class HostileInputTest : public ::testing::Test {
 protected:
  TestBroker broker{6};
  Pipeline pipe{broker};
};

// Asserts one hostile record's dead letter: class, exact message, origin, service, bytes untouched.
void expect_dead_letter(const std::vector<Record>& dlq, const HostileCase& c, const std::string& topic,
                        const std::string& service, const std::string& expected_message,
                        bool payments = false) {
  SCOPED_TRACE(c.name + " on " + topic + " -> " + service);
  const Record* r = find_dead_letter(dlq, payments && c.payments_key ? c.payments_key : c.key, topic);
  ASSERT_NE(r, nullptr) << "no dead letter";
  EXPECT_EQ(header(*r, "x-error-class"), std::optional<std::string>("poison"));
  EXPECT_EQ(header(*r, "x-error-message"), std::optional<std::string>(expected_message));
  EXPECT_EQ(header(*r, "x-failed-service"), std::optional<std::string>(service));
  EXPECT_EQ(header(*r, "x-attempt"), std::optional<std::string>("1"));
  EXPECT_TRUE(header(*r, "x-original-offset").has_value());
  const std::size_t original = c.value ? c.value->size() : 0U;
  if (original > 1048576) {
    // Over --max-record-bytes: dead-lettered without its value (a copy could be refused by the producer or
    // the broker and stop the stage on this record forever); the header says how big it was.
    EXPECT_TRUE(r->value.empty());
    EXPECT_EQ(header(*r, "x-value-omitted-bytes"), std::optional<std::string>(std::to_string(original)));
  } else {
    EXPECT_EQ(r->value.size(), original);
    EXPECT_TRUE(r->value == c.value.value_or("")) << "value bytes changed";
  }
  if (c.headers.size() >= 1000) {
    // The input's headers ride along (minus the forged x-* ones the service sets itself).
    EXPECT_GE(r->headers.size(), 990U);
    EXPECT_EQ(header(*r, "h-999"), std::optional<std::string>(std::string(999 % 50, 'v')));
  }
}

TEST_F(HostileInputTest, EveryHostileRecordIsDeadLetteredPreciselyWhileValidOrdersFlow) {
  auto cases = stored_cases();
  ASSERT_GE(cases.size(), 60U);
  for (auto& g : generated_cases()) {
    if (!g.big) cases.push_back(std::move(g));
  }

  const int pay_port = free_port();
  const int note_port = free_port();
  auto pay = pipe.start_payment(pay_port, kBigRecords);
  auto note = pipe.start_notification(note_port, kBigRecords);
  ASSERT_TRUE(wait_ready(pay_port, 60s)) << pay.output();
  ASSERT_TRUE(wait_ready(note_port, 60s)) << note.output();

  TopicReader pdlq(broker.bootstrap(), pipe.payment_dlq());
  TopicReader ndlq(broker.bootstrap(), pipe.notification_dlq());

  // Everything but the 10 MiB records (next test), interleaved with valid orders (some of them carrying 1,000
  // hostile headers).
  std::mt19937_64 rng(20261123);
  std::vector<RawRecord> batch;
  std::map<std::string, events::OrderCreated> valid;  // order_id -> order
  // Corpus orders with unknown fields: valid, so expected to flow like the generated ones.
  std::vector<std::pair<std::string, std::string>> processed;  // case name, order_id
  for (const auto& c : cases) {
    if (!c.processed_on_orders) continue;
    const auto o = events::parse_order_created(c.value.value_or(""));
    ASSERT_TRUE(o.has_value()) << c.name << ": " << o.error().message();
    ASSERT_TRUE(valid.emplace(o.value().order_id, o.value()).second) << c.name << ": order_id not unique";
    processed.emplace_back(c.name, o.value().order_id);
  }
  ASSERT_TRUE(std::any_of(processed.begin(), processed.end(), [](const auto& p) {
    return p.first == "unknown_item_fields.json";
  })) << "the corpus has no order with unknown item fields";
  int n = 0;
  auto add_valid = [&] {
    auto o = valid_order(rng, n);
    RawRecord r{pipe.orders, o.customer_id, events::to_json(o), {}};
    if (n % 25 == 0) r.headers = thousand_hostile_headers();
    if (n % 40 == 1) r.key = std::nullopt;  // a valid order without a key is still processed
    valid.emplace(o.order_id, o);
    batch.push_back(std::move(r));
    ++n;
  };
  for (const auto& c : cases) {
    add_valid();
    batch.push_back(to_record(c, pipe.orders));
    add_valid();
    batch.push_back(to_record(c, pipe.payments, true));
    add_valid();
  }
  produce_raw(broker.bootstrap(), batch);

  const std::size_t total = cases.size();
  const std::size_t poison = total - processed.size();  // dead-lettered on `orders`; all are on `payments`
  EXPECT_TRUE(pdlq.wait_for_count(poison, 120s))
      << pdlq.records().size() << " of " << poison << "; log " << pay.log_file();
  EXPECT_TRUE(ndlq.wait_for_count(poison + total, 60s))
      << ndlq.records().size() << " of " << poison + total << "; log " << note.log_file();
  TopicReader payments(broker.bootstrap(), pipe.payments);
  TopicReader notes(broker.bootstrap(), pipe.notifications);
  ASSERT_TRUE(notes.wait_for_count(2 * valid.size(), 120s))
      << notes.records().size() << " of " << 2 * valid.size();
  ASSERT_TRUE(payments.wait_for_count(valid.size() + total, 60s));
  pdlq.drain_to_end(30s);
  ndlq.drain_to_end(30s);
  payments.drain_to_end(30s);
  notes.drain_to_end(30s);

  // Dead letters: exactly one per hostile record and input topic, each precise.
  EXPECT_EQ(pdlq.records().size(), poison);
  EXPECT_EQ(count_from(pdlq.records(), pipe.orders), poison);
  EXPECT_EQ(ndlq.records().size(), poison + total);
  EXPECT_EQ(count_from(ndlq.records(), pipe.orders), poison);
  EXPECT_EQ(count_from(ndlq.records(), pipe.payments), total);
  for (const auto& c : cases) {
    if (c.processed_on_orders) {
      EXPECT_EQ(find_dead_letter(pdlq.records(), c.key, pipe.orders), nullptr) << c.name << ": dead-lettered";
      EXPECT_EQ(find_dead_letter(ndlq.records(), c.key, pipe.orders), nullptr) << c.name << ": dead-lettered";
    } else {
      expect_dead_letter(pdlq.records(), c, pipe.orders, "payment-service", c.on_orders);
      expect_dead_letter(ndlq.records(), c, pipe.orders, "notification-service", c.on_orders);
    }
    expect_dead_letter(ndlq.records(), c, pipe.payments, "notification-service", c.on_payments, true);
  }

  // Valid orders: one payment each (the hostile records we wrote to `payments` aside), two notifications.
  std::map<std::string, int> paid;
  for (const auto& r : payments.records()) {
    if (!r.key || r.key->rfind("hostile:", 0) == 0) continue;
    auto p = events::parse_payment_processed(r.value);
    ASSERT_TRUE(p.has_value()) << r.value.substr(0, 200);
    ASSERT_EQ(valid.count(p.value().order_id), 1U) << p.value().order_id;
    EXPECT_EQ(p.value().amount_cents, valid.at(p.value().order_id).amount_cents);
    ++paid[p.value().order_id];
  }
  EXPECT_EQ(paid.size(), valid.size());
  for (const auto& [id, count] : paid) EXPECT_EQ(count, 1) << id;
  std::map<std::string, std::set<std::string>> notified;
  for (const auto& r : notes.records()) {
    auto note_event = events::parse_notification_sent(r.value);
    ASSERT_TRUE(note_event.has_value()) << r.value;
    notified[note_event.value().order_id].insert(std::string(events::to_string(note_event.value().kind)));
  }
  EXPECT_EQ(notes.records().size(), 2 * valid.size());
  EXPECT_EQ(notified.size(), valid.size());
  // Named, for the orders with unknown fields (top level, inside items): paid once, notified twice.
  for (const auto& [name, order_id] : processed) {
    EXPECT_EQ(paid[order_id], 1) << name << " (" << order_id << ") was not paid exactly once";
    EXPECT_EQ(notified[order_id].size(), 2U) << name << " (" << order_id << ")";
  }

  // Up, counting, bounded.
  ASSERT_TRUE(pay.running()) << pay.output();
  ASSERT_TRUE(note.running()) << note.output();
  EXPECT_EQ(http_get(pay_port, "/healthz").first, 200);
  EXPECT_EQ(metric_value(http_get(pay_port, "/metrics").second, "orderflow_events_processed_total",
                         {{"outcome", "dead_lettered"}}),
            static_cast<double>(poison));
  EXPECT_EQ(metric_value(http_get(note_port, "/metrics").second, "orderflow_events_processed_total",
                         {{"outcome", "dead_lettered"}}),
            static_cast<double>(poison + total));
  const long pay_rss = rss_kib(pay.pid());
  const long note_rss = rss_kib(note.pid());
  std::cout << "[ hostile ] " << total << " hostile records per input topic (" << processed.size()
            << " of them valid orders with unknown fields), " << valid.size()
            << " valid orders; VmRSS payment-service " << pay_rss / 1024 << " MiB, notification-service "
            << note_rss / 1024 << " MiB (limit " << kRssLimitKiB / 1024 << " MiB)\n";
  EXPECT_GT(pay_rss, 0);
  EXPECT_LT(pay_rss, kRssLimitKiB);
  EXPECT_GT(note_rss, 0);
  EXPECT_LT(note_rss, kRssLimitKiB);

  EXPECT_EQ(pay.stop(30s), 0) << pay.output();
  EXPECT_EQ(note.stop(30s), 0) << note.output();
}

// The records over --max-record-bytes (10 MiB): dead-lettered as poison before parsing, with the size and
// the limit in the message, original bytes kept; the services go on with valid orders and stay bounded.
TEST_F(HostileInputTest, TenMebibyteRecordsAreDeadLetteredAsPoisonAndServicesGoOn) {
  std::vector<HostileCase> big;
  for (auto& g : generated_cases()) {
    if (g.big) big.push_back(std::move(g));
  }
  ASSERT_EQ(big.size(), 1U);
  auto& c = big.front();
  // Partition plan (see the mock's eviction above): the 10 MiB records go to partition 0 of `orders` and
  // `payments`; their dead letters to the murmur2 partitions of their keys, which differ for the two copies;
  // the valid orders after them avoid all of these partitions.
  const int dead_letter_partition = murmur2_partition(*c.key, 6);
  for (int i = 0; !c.payments_key; ++i) {
    const auto k = *c.key + "/payments-" + std::to_string(i);
    if (murmur2_partition(k, 6) != dead_letter_partition) c.payments_key = k;
  }

  const int pay_port = free_port();
  const int note_port = free_port();
  auto pay = pipe.start_payment(pay_port, kBigRecords);
  auto note = pipe.start_notification(note_port, kBigRecords);
  ASSERT_TRUE(wait_ready(pay_port, 60s)) << pay.output();
  ASSERT_TRUE(wait_ready(note_port, 60s)) << note.output();
  TopicReader pdlq(broker.bootstrap(), pipe.payment_dlq());
  TopicReader ndlq(broker.bootstrap(), pipe.notification_dlq());

  auto on_orders = to_record(c, pipe.orders);
  on_orders.partition = 0;
  produce_raw(broker.bootstrap(), {on_orders});
  ASSERT_TRUE(pdlq.wait_for_count(1, 90s)) << pay.output();
  ASSERT_TRUE(ndlq.wait_for_count(1, 90s)) << note.output();
  auto on_payments = to_record(c, pipe.payments, true);
  on_payments.partition = 0;
  produce_raw(broker.bootstrap(), {on_payments});
  ASSERT_TRUE(ndlq.wait_for_count(2, 90s)) << note.output();

  expect_dead_letter(pdlq.records(), c, pipe.orders, "payment-service", c.on_orders);
  expect_dead_letter(ndlq.records(), c, pipe.orders, "notification-service", c.on_orders);
  expect_dead_letter(ndlq.records(), c, pipe.payments, "notification-service", c.on_payments, true);
  const auto message = header(pdlq.records().front(), "x-error-message").value_or("");
  EXPECT_NE(message.find("exceeds --max-record-bytes 1048576"), std::string::npos) << message;

  // Valid orders afterwards, kept off partition 0 (and their payments too).
  std::mt19937_64 rng(99);
  std::vector<RawRecord> batch;
  std::set<std::string> order_ids;
  for (int i = 0; static_cast<int>(batch.size()) < 30; ++i) {
    auto o = valid_order(rng, i);
    if (murmur2_partition(o.customer_id, 6) == 0) continue;
    RawRecord r{pipe.orders, o.customer_id, events::to_json(o), {}};
    r.partition = 1 + i % 5;
    order_ids.insert(o.order_id);
    batch.push_back(std::move(r));
  }
  produce_raw(broker.bootstrap(), batch);
  TopicReader notes(broker.bootstrap(), pipe.notifications);
  ASSERT_TRUE(notes.wait_for_count(2 * order_ids.size(), 90s)) << notes.records().size() << "\n"
                                                               << note.output();

  ASSERT_TRUE(pay.running()) << pay.output();
  ASSERT_TRUE(note.running()) << note.output();
  const long pay_rss = rss_kib(pay.pid());
  const long note_rss = rss_kib(note.pid());
  std::cout << "[ hostile ] after 10 MiB records: VmRSS payment-service " << pay_rss / 1024
            << " MiB, notification-service " << note_rss / 1024 << " MiB (limit " << kRssLimitKiB / 1024
            << " MiB)\n";
  EXPECT_LT(pay_rss, kRssLimitKiB);
  EXPECT_LT(note_rss, kRssLimitKiB);
  EXPECT_EQ(pay.stop(30s), 0) << pay.output();
  EXPECT_EQ(note.stop(30s), 0) << note.output();
}

// A poison record above librdkafka's default message.max.bytes (1,000,000) cannot be copied to the
// dead-letter topic as it is (the producer refuses it locally), and a service that exited on it without
// committing would die on it again after every restart: it is dead-lettered with its value omitted and a
// header saying so, and the service keeps running.
TEST_F(HostileInputTest, OversizedRecordWithDefaultKafkaLimitsIsDeadLetteredAndServiceStaysUp) {
  const int pay_port = free_port();
  auto pay = pipe.start_payment(pay_port);  // no -X message.max.bytes
  ASSERT_TRUE(wait_ready(pay_port, 60s)) << pay.output();
  const std::string big(2U << 20U, 'x');
  produce_raw(broker.bootstrap(), {RawRecord{pipe.orders, std::string("hostile:2MiB"), big, {}}});
  TopicReader pdlq(broker.bootstrap(), pipe.payment_dlq());
  EXPECT_TRUE(pdlq.wait_for_count(1, 60s)) << pay.output();
  ASSERT_TRUE(pay.running()) << pay.output();
  if (!pdlq.records().empty()) {
    const auto message = header(pdlq.records().front(), "x-error-message").value_or("");
    EXPECT_NE(message.find("exceeds --max-record-bytes"), std::string::npos) << message;
  }
  // A valid order after it still gets its payment.
  std::mt19937_64 rng(7);
  const auto o = valid_order(rng, 1);
  produce_raw(broker.bootstrap(), {RawRecord{pipe.orders, o.customer_id, events::to_json(o), {}}});
  TopicReader payments(broker.bootstrap(), pipe.payments);
  EXPECT_TRUE(payments.wait_for_count(1, 60s)) << pay.output();
  EXPECT_EQ(pay.stop(30s), 0) << pay.output();
}

// A retry record whose x-attempt header is 2147483647 must not make the next attempt number overflow
// (2147483647 + 1 in int: undefined behaviour, which UBSan aborts on and a release build wraps to a
// negative x-attempt on the dead letter). Retry topics are written by the service, but anyone with write
// access to them can do this.
TEST_F(HostileInputTest, RetryRecordWithHugeAttemptHeaderDoesNotOverflow) {
  const int pay_port = free_port();
  auto pay = pipe.start_payment(pay_port);
  ASSERT_TRUE(wait_ready(pay_port, 60s)) << pay.output();
  produce_raw(broker.bootstrap(), {RawRecord{pipe.payment_retry(),
                                             std::string("hostile:attempt"),
                                             std::string("not json"),
                                             {{"x-attempt", std::string("2147483647")},
                                              {"x-original-topic", pipe.orders},
                                              {"x-not-before", std::string("0")}}}});
  TopicReader pdlq(broker.bootstrap(), pipe.payment_dlq());
  ASSERT_TRUE(pdlq.wait_for_count(1, 60s)) << pay.output();
  const auto attempt = header(pdlq.records().front(), "x-attempt").value_or("");
  EXPECT_TRUE(!attempt.empty() && attempt.front() != '-') << "x-attempt wrapped around: " << attempt;
  ASSERT_TRUE(pay.running()) << pay.output();
  EXPECT_EQ(pay.stop(30s), 0) << pay.output();
}

// A retry record with a forged x-not-before far in the future (INT64_MAX) must not park its retry partition
// forever: the service never schedules a retry later than its longest backoff, so it waits at most that
// long, then processes the record (here: poison, dead-lettered) and the partition goes on.
TEST_F(HostileInputTest, RetryRecordWithFarFutureNotBeforeIsDueAfterTheLongestBackoff) {
  const int pay_port = free_port();
  auto pay = pipe.start_payment(pay_port, {"--retry-backoff-ms", "200", "--max-attempts", "3"});
  ASSERT_TRUE(wait_ready(pay_port, 60s)) << pay.output();
  const auto started = std::chrono::steady_clock::now();
  produce_raw(broker.bootstrap(),
              {RawRecord{pipe.payment_retry(),
                         std::string("hostile:not-before"),
                         std::string("not json"),
                         {{"x-attempt", std::string("1")},
                          {"x-original-topic", pipe.orders},
                          {"x-not-before", std::to_string(std::numeric_limits<std::int64_t>::max())}}}});
  TopicReader pdlq(broker.bootstrap(), pipe.payment_dlq());
  ASSERT_TRUE(pdlq.wait_for_count(1, 60s)) << "the retry partition stayed parked\n" << pay.output();
  // Longest backoff of this policy: 200 ms x 2^(3-1) = 800 ms; allow for scheduling and group join.
  EXPECT_LT(std::chrono::steady_clock::now() - started, 45s);
  EXPECT_NE(pay.output().find("later than any retry this service schedules"), std::string::npos)
      << pay.output();
  ASSERT_TRUE(pay.running()) << pay.output();
  EXPECT_EQ(pay.stop(30s), 0) << pay.output();
}

}  // namespace
}  // namespace orderflow::testing
