// Retry topics, dead letters and order-preserving retries (docs/contract.md §5 Events to §8 Delivery
// guarantees) with the real binaries:
// order-producer → orders → payment-service (simulated gateway failures) → payments, and
// notification-service with a failing sink. Each test gets a fresh broker (the dev broker on an
// ephemeral port, or the shared real Kafka with per-test topic names in the `kafka` variant) and
// asserts on what landed in the main, retry and dead-letter topics, record by record.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <set>
#include <sstream>

#include "orderflow/events/clock.h"
#include "orderflow/testing/paths.h"
#include "orderflow/testing/wait.h"
#include "pipeline_fixture.h"

namespace orderflow::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Consumers of the mock see new data late with the default fetch.wait.max.ms (500): the retry
// topic is re-read often, so keep the services' fetches short.
const std::vector<std::string> kFastFetch = {"-X", "fetch.wait.max.ms=50"};

std::vector<std::string> plus(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

std::vector<Record> read_all(const std::string& bootstrap, const std::string& topic,
                             std::chrono::milliseconds timeout = 30s) {
  TopicReader reader(bootstrap, topic);
  EXPECT_TRUE(reader.drain_to_end(timeout)) << "could not read " << topic << " to its end";
  return reader.records();
}

std::int64_t int_header(const Record& r, const std::string& name) {
  const auto v = header(r, name);
  if (!v) {
    ADD_FAILURE() << "record " << r.topic << "[" << r.partition << "]@" << r.offset << " has no " << name;
    return -1;
  }
  try {
    return std::stoll(*v);
  } catch (const std::exception&) {
    ADD_FAILURE() << name << " is not an integer: '" << *v << "'";
    return -1;
  }
}

std::int64_t epoch_ms(const std::string& rfc3339) {
  const auto t = events::parse_timestamp(rfc3339);
  if (!t) {
    ADD_FAILURE() << "bad timestamp " << rfc3339;
    return -1;
  }
  return std::chrono::duration_cast<std::chrono::milliseconds>(t->time_since_epoch()).count();
}

// order event_id of a record whose value is an order (nullopt for a poison record)
std::optional<std::string> order_event_id(const Record& r) {
  auto o = events::parse_order_created(r.value);
  if (!o) return std::nullopt;
  return o.value().event_id;
}

// Payments by order event id (every payment must parse and name a known order).
std::map<std::string, std::vector<events::PaymentProcessed>> payments_by_order(
    const std::vector<Record>& payments, const OrderIndex& orders) {
  std::map<std::string, std::vector<events::PaymentProcessed>> out;
  for (const auto& r : payments) {
    auto p = events::parse_payment_processed(r.value);
    if (!p) {
      ADD_FAILURE() << "invalid payment: " << r.value;
      continue;
    }
    auto it = orders.valid_by_event_id.find(p.value().order_event_id);
    if (it == orders.valid_by_event_id.end()) {
      ADD_FAILURE() << "payment for an unknown order: " << r.value;
      continue;
    }
    EXPECT_EQ(r.key, std::optional<std::string>(it->second.customer_id));
    out[p.value().order_event_id].push_back(p.value());
  }
  return out;
}

// Exactly one payment per valid order: none lost, none duplicated.
void expect_one_payment_per_order(const std::vector<Record>& payments, const OrderIndex& orders) {
  const auto by_order = payments_by_order(payments, orders);
  std::size_t missing = 0;
  for (const auto& [eid, o] : orders.valid_by_event_id) {
    auto it = by_order.find(eid);
    if (it == by_order.end()) {
      ++missing;
      continue;
    }
    EXPECT_EQ(it->second.size(), 1U) << "duplicate payments for order event " << eid;
    EXPECT_EQ(it->second.front().payment_id, events::payment_id_for(eid));
  }
  EXPECT_EQ(missing, 0U) << "valid orders without a payment";
  EXPECT_EQ(payments.size(), orders.valid_by_event_id.size());
}

// Customers whose payments are not in the order of their orders.
std::vector<std::string> reordered_customers(const std::vector<Record>& payments, const OrderIndex& orders) {
  std::map<std::string, std::vector<std::string>> pay_by_customer;
  for (const auto& r : payments) {
    auto p = events::parse_payment_processed(r.value);
    if (p) pay_by_customer[p.value().customer_id].push_back(p.value().order_id);
  }
  std::vector<std::string> out;
  for (const auto& [customer, order_ids] : orders.order_ids_by_customer) {
    if (pay_by_customer[customer] != order_ids) out.push_back(customer);
  }
  return out;
}

// nullopt when the scrape fails or the series is absent (never read as 0).
std::optional<double> metric(int port, const std::string& name,
                             const std::map<std::string, std::string>& labels = {}) {
  return scrape_metric(port, name, labels);
}

// Polls `topic` until `done(records)` or the timeout, then reads it to its end.
std::vector<Record> wait_and_read(const std::string& bootstrap, const std::string& topic,
                                  const std::function<bool(const std::vector<Record>&)>& done,
                                  std::chrono::milliseconds timeout) {
  TopicReader reader(bootstrap, topic);
  EXPECT_TRUE(reader.poll_until(done, timeout))
      << topic << ": condition not reached within " << timeout.count() << " ms (" << reader.records().size()
      << " records)";
  EXPECT_TRUE(reader.drain_to_end(30s));
  return reader.records();
}

// Whether the Prometheus text has a sample of `name` labelled with this topic.
bool has_sample(const std::string& text, const std::string& name, const std::string& topic) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(name + "{", 0) == 0 && line.find("topic=\"" + topic + "\"") != std::string::npos)
      return true;
  }
  return false;
}

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

class RetryTest : public ::testing::Test {
 protected:
  TestBroker broker{6};
  Pipeline pipe{broker};

  const std::string& bootstrap() const { return bootstrap_; }

  Process start_payment(int port, const std::vector<std::string>& extra) {
    auto p = pipe.start_payment(port, plus(kFastFetch, extra));
    EXPECT_TRUE(wait_ready(port, 90s)) << p.output();
    return p;
  }

  // Sends the orders and indexes them (with their offsets) for the assertions.
  void produce(const std::vector<std::string>& args, std::size_t count) {
    auto [rc, out] = pipe.produce_orders(plus({"--count", std::to_string(count)}, args));
    ASSERT_EQ(rc, 0) << out;
    order_records = read_all(bootstrap(), pipe.orders);
    ASSERT_EQ(order_records.size(), count);
    orders = index_orders(order_records);
  }

  std::vector<Record> order_records;
  OrderIndex orders;

 private:
  std::string bootstrap_ = broker.bootstrap();
};

// Scenario 1: every attempt fails. Each order is dead-lettered as `exhausted` after its third
// attempt with its original bytes and origin, nothing is paid, and the main topic is consumed to
// its end while the retries are still pending (a record in retry never blocks the main path).
TEST_F(RetryTest, ExhaustedRetriesDeadLetterWithOriginAndNeverBlockTheMainTopic) {
  constexpr std::size_t kOrders = 200;
  constexpr int kBackoffMs = 2000;  // DLQ no earlier than 2 + 4 s after the first failure
  const int port = free_port();
  auto pay = start_payment(port, {"--gateway-failure-rate", "1.0", "--max-attempts", "3",
                                  "--retry-backoff-ms", std::to_string(kBackoffMs)});
  TopicReader dlq(bootstrap(), pipe.payment_dlq());
  ASSERT_TRUE(dlq.drain_to_end(30s));  // assigned and at the (empty) end before anything fails
  ASSERT_TRUE(dlq.records().empty());

  const auto t0 = Clock::now();
  ASSERT_NO_FATAL_FAILURE(produce({"--seed", "101"}, kOrders));

  // The main topic is consumed completely and its lag is 0 ...
  const std::map<std::string, std::string> orders_topic{{"topic", pipe.orders}};
  ASSERT_TRUE(wait_until(
      [&] {
        const auto text = http_get(port, "/metrics").second;
        return metric_value(text, "orderflow_messages_consumed_total", orders_topic) == kOrders &&
               has_sample(text, "orderflow_consumer_lag", pipe.orders) &&
               find_metric(text, "orderflow_consumer_lag", orders_topic) == 0.0;
      },
      60s, 50ms))
      << http_get(port, "/metrics").second;
  const double main_done_s = seconds_since(t0);
  // ... while the dead letters are not complete: the retries are still waiting for their time.
  ASSERT_TRUE(dlq.drain_to_end(10s));
  const auto dlq_at_main_done = dlq.records().size();
  EXPECT_LT(dlq_at_main_done, kOrders) << "main topic lag reached 0 only after every retry had run";
  std::cout << "[ measure  ] orders consumed, lag 0 after " << main_done_s
            << " s; dead letters then: " << dlq_at_main_done << "\n";

  ASSERT_TRUE(dlq.wait_for_count(kOrders, 90s)) << dlq.records().size() << "\n" << pay.output();
  ASSERT_TRUE(dlq.drain_to_end(10s));
  std::cout << "[ measure  ] all " << kOrders << " dead letters after " << seconds_since(t0) << " s\n";
  EXPECT_GE(seconds_since(t0) * 1000, kBackoffMs * 3);

  std::map<std::string, const Record*> order_by_value;
  for (const auto& r : order_records) order_by_value[r.value] = &r;
  std::set<std::string> dead;
  for (const auto& r : dlq.records()) {
    auto it = order_by_value.find(r.value);
    ASSERT_NE(it, order_by_value.end()) << "dead letter whose value is no order: " << r.value;
    const Record& order = *it->second;
    EXPECT_TRUE(dead.insert(r.value).second) << "order dead-lettered twice: " << r.value;
    EXPECT_EQ(r.key, order.key);
    EXPECT_EQ(header(r, "x-error-class"), std::optional<std::string>("exhausted"));
    EXPECT_EQ(header(r, "x-attempt"), std::optional<std::string>("3"));
    EXPECT_EQ(header(r, "x-original-topic"), std::optional<std::string>(pipe.orders));
    EXPECT_EQ(header(r, "x-original-partition"), std::optional<std::string>(std::to_string(order.partition)));
    EXPECT_EQ(header(r, "x-original-offset"), std::optional<std::string>(std::to_string(order.offset)));
    EXPECT_EQ(header(r, "x-failed-service"), std::optional<std::string>("payment-service"));
    EXPECT_TRUE(header(r, "x-error-message").has_value());
    EXPECT_FALSE(header(r, "x-not-before").has_value()) << "x-not-before is for retry records only";
  }
  EXPECT_EQ(dead.size(), kOrders);

  // Two retry records per order (after attempts 1 and 2), with the doubling backoff.
  const auto retries = read_all(bootstrap(), pipe.payment_retry());
  EXPECT_EQ(retries.size(), 2 * kOrders);
  std::map<std::string, std::multiset<std::string>> attempts;
  for (const auto& r : retries) {
    attempts[r.value].insert(header(r, "x-attempt").value_or("?"));
    EXPECT_EQ(header(r, "x-error-class"), std::optional<std::string>("transient"));
    const auto attempt = int_header(r, "x-attempt");
    EXPECT_EQ(int_header(r, "x-not-before") - int_header(r, "x-failed-at"), kBackoffMs << (attempt - 1));
  }
  for (const auto& [value, a] : attempts) EXPECT_EQ(a, (std::multiset<std::string>{"1", "2"})) << value;

  EXPECT_TRUE(read_all(bootstrap(), pipe.payments).empty()) << "a payment although every gateway call failed";
  EXPECT_EQ(pay.stop(30s), 0) << pay.output();
}

// Scenario 2: 30 % of the gateway calls fail; with up to 10 attempts every order is paid exactly
// once (the gateway outcome is a function of seed, order and attempt, so this run is reproducible).
TEST_F(RetryTest, TransientFailuresEndInExactlyOnePaymentPerOrder) {
  constexpr std::size_t kOrders = 2000;
  const int port = free_port();
  auto pay = start_payment(
      port, {"--gateway-failure-rate", "0.3", "--max-attempts", "10", "--retry-backoff-ms", "50"});
  const auto t0 = Clock::now();
  ASSERT_NO_FATAL_FAILURE(produce({"--seed", "202"}, kOrders));
  const auto valid = orders.valid_by_event_id.size();
  const auto payments = wait_and_read(
      bootstrap(), pipe.payments, [&](const std::vector<Record>& r) { return r.size() >= valid; }, 150s);
  std::cout << "[ measure  ] " << payments.size() << " payments after " << seconds_since(t0) << " s\n";
  expect_one_payment_per_order(payments, orders);

  const auto retries = read_all(bootstrap(), pipe.payment_retry());
  EXPECT_GT(retries.size(), kOrders / 5) << "the failure rate did not exercise the retry path";
  EXPECT_TRUE(read_all(bootstrap(), pipe.payment_dlq()).empty());
  EXPECT_EQ(metric(port, "orderflow_events_processed_total", {{"outcome", "retried"}}),
            static_cast<double>(retries.size()));
  EXPECT_EQ(pay.stop(30s), 0) << pay.output();
}

// Scenario 3: with --retry-ordering key, a customer's payments come out in the order of their
// orders although 30 % of the gateway calls fail; without it the retries visibly reorder them.
class RetryOrderingTest : public RetryTest {
 protected:
  std::vector<Record> run(const std::string& ordering) {
    const int port = free_port();
    auto pay = start_payment(port, {"--gateway-failure-rate", "0.3", "--max-attempts", "10",
                                    "--retry-backoff-ms", "50", "--retry-ordering", ordering});
    const auto t0 = Clock::now();
    produce({"--seed", "303", "--customers", "20"}, 600);
    if (HasFatalFailure()) return {};
    const auto valid = orders.valid_by_event_id.size();
    auto payments = wait_and_read(
        bootstrap(), pipe.payments, [&](const std::vector<Record>& r) { return r.size() >= valid; }, 150s);
    std::cout << "[ measure  ] ordering " << ordering << ": " << payments.size() << " payments after "
              << seconds_since(t0) << " s\n";
    expect_one_payment_per_order(payments, orders);
    EXPECT_EQ(pay.stop(30s), 0) << pay.output();
    return payments;
  }
};

// What happened to one customer's orders: their order, the retry records of the key and the order of
// the payments (the failure message of an ordering assertion).
std::string customer_history(const std::string& customer, const OrderIndex& orders,
                             const std::vector<Record>& retries, const std::vector<Record>& payments) {
  std::ostringstream out;
  std::map<std::string, std::size_t> position;
  const auto& ids = orders.order_ids_by_customer.at(customer);
  for (std::size_t i = 0; i < ids.size(); ++i) position[ids[i]] = i;
  out << customer << ": orders #0.." << ids.size() - 1
      << "\n  retry records (order #, x-attempt, retry offset):";
  for (const auto& r : retries) {
    if (r.key != std::optional<std::string>(customer)) continue;
    auto o = events::parse_order_created(r.value);
    out << " #" << (o ? std::to_string(position[o.value().order_id]) : std::string("poison")) << "/a"
        << header(r, "x-attempt").value_or("?") << "@" << r.offset;
  }
  out << "\n  payments (order #):";
  for (const auto& r : payments) {
    auto p = events::parse_payment_processed(r.value);
    if (p && p.value().customer_id == customer) out << " #" << position[p.value().order_id];
  }
  return out.str();
}

// A record of a gated key that fails again on the retry path goes to the back of the retry topic: the
// key's later records, parked behind it, must stay behind it and not overtake it.
TEST_F(RetryOrderingTest, KeyOrderingKeepsPerCustomerOrderThroughRetries) {
  const auto payments = run("key");
  const auto retries = read_all(bootstrap(), pipe.payment_retry());
  // Both paths were exercised: records parked behind their key (x-attempt 0) and records that
  // failed again on the retry path (x-attempt >= 2).
  EXPECT_GT(std::count_if(
                retries.begin(), retries.end(),
                [](const Record& r) { return header(r, "x-attempt") == std::optional<std::string>("0"); }),
            0);
  EXPECT_GT(std::count_if(retries.begin(), retries.end(),
                          [](const Record& r) { return int_header(r, "x-attempt") >= 2; }),
            0);
  const auto reordered = reordered_customers(payments, orders);
  EXPECT_TRUE(reordered.empty()) << reordered.size() << " of " << orders.order_ids_by_customer.size()
                                 << " customers have payments out of order, e.g.\n"
                                 << customer_history(reordered.front(), orders, retries, payments);
}

TEST_F(RetryOrderingTest, WithoutKeyOrderingRetriesReorderACustomersPayments) {
  const auto payments = run("none");
  EXPECT_FALSE(reordered_customers(payments, orders).empty())
      << "no reordering observed: this run would not tell --retry-ordering key from none";
}

// Scenario 4: poison records go to the dead-letter topic at once and never through .retry, while
// valid orders around them are retried.
class PoisonTest : public RetryTest {
 protected:
  void run(const std::vector<std::string>& extra) {
    const int port = free_port();
    auto pay = start_payment(port, plus({"--gateway-failure-rate", "0.3", "--max-attempts", "10",
                                         "--retry-backoff-ms", "50", "--seed", "7"},
                                        extra));
    ASSERT_NO_FATAL_FAILURE(produce({"--seed", "404", "--invalid-ratio", "0.2", "--customers", "50"}, 1000));
    const auto valid = orders.valid_by_event_id.size();
    const auto invalid = orders.invalid.size();
    ASSERT_GT(invalid, 100U);
    const auto dlq = wait_and_read(
        bootstrap(), pipe.payment_dlq(), [&](const std::vector<Record>& r) { return r.size() >= invalid; },
        90s);
    const auto payments = wait_and_read(
        bootstrap(), pipe.payments, [&](const std::vector<Record>& r) { return r.size() >= valid; }, 150s);
    expect_one_payment_per_order(payments, orders);

    std::multiset<std::string> want, got;
    for (const auto& r : orders.invalid) want.insert(r.value);
    for (const auto& r : dlq) {
      got.insert(r.value);
      EXPECT_EQ(header(r, "x-error-class"), std::optional<std::string>("poison")) << r.value;
      EXPECT_EQ(header(r, "x-attempt"), std::optional<std::string>("1")) << r.value;
      EXPECT_EQ(header(r, "x-original-topic"), std::optional<std::string>(pipe.orders));
    }
    EXPECT_EQ(got, want) << "the dead letters are not exactly the invalid orders";

    const auto retries = read_all(bootstrap(), pipe.payment_retry());
    EXPECT_GT(retries.size(), 0U);
    std::size_t poison_in_retry = 0;
    for (const auto& r : retries) {
      if (!order_event_id(r)) ++poison_in_retry;
    }
    EXPECT_EQ(poison_in_retry, 0U) << "of " << retries.size() << " retry records are poison";
    EXPECT_EQ(pay.stop(30s), 0) << pay.output();
  }
};

TEST_F(PoisonTest, PoisonGoesToTheDeadLetterTopicAtOnceAndNeverThroughRetry) {
  run({});
}

// The same with --retry-ordering key: a poison record of a customer with a record in retry must not
// be parked behind it on the retry topic (it can never succeed, and its order does not matter).
// The stage checks a held key's record before parking it, so poison goes to the dead-letter topic.
TEST_F(PoisonTest, PoisonNeverThroughRetryWithKeyOrdering) {
  run({"--retry-ordering", "key"});
}

// Scenario 5: no retry record is processed before its x-not-before: a payment decided after a
// retry carries an occurred_at (decision time, ms) at or after the due time of the order's last
// retry record.
TEST_F(RetryTest, RetryIsNotProcessedBeforeItsNotBefore) {
  constexpr int kBackoffMs = 100;
  const int port = free_port();
  auto pay = start_payment(port, {"--gateway-failure-rate", "0.3", "--max-attempts", "10",
                                  "--retry-backoff-ms", std::to_string(kBackoffMs), "--seed", "5"});
  ASSERT_NO_FATAL_FAILURE(produce({"--seed", "505"}, 600));
  const auto valid = orders.valid_by_event_id.size();
  const auto payments = wait_and_read(
      bootstrap(), pipe.payments, [&](const std::vector<Record>& r) { return r.size() >= valid; }, 150s);
  expect_one_payment_per_order(payments, orders);
  const auto retries = read_all(bootstrap(), pipe.payment_retry());

  struct LastRetry {
    std::int64_t attempt = 0;
    std::int64_t not_before = 0;
  };
  std::map<std::string, LastRetry> last;  // order event_id → its retry record with the highest x-attempt
  // order event_id → x-attempt → (x-failed-at, x-not-before) of that retry record
  std::map<std::string, std::map<std::int64_t, std::pair<std::int64_t, std::int64_t>>> chain;
  for (const auto& r : retries) {
    const auto eid = order_event_id(r);
    ASSERT_TRUE(eid.has_value()) << "retry record whose value is no valid order: " << r.value;
    const auto attempt = int_header(r, "x-attempt");
    const auto not_before = int_header(r, "x-not-before");
    const auto failed_at = int_header(r, "x-failed-at");
    EXPECT_EQ(not_before - failed_at, std::int64_t{kBackoffMs} << (attempt - 1));
    chain[*eid][attempt] = {failed_at, not_before};
    auto& l = last[*eid];
    if (attempt > l.attempt) l = LastRetry{attempt, not_before};
  }
  ASSERT_GT(last.size(), valid / 5) << "the failure rate did not exercise the retry path";
  // Every intermediate attempt too: attempt n+1 (which failed at the x-failed-at of the retry record
  // with x-attempt n+1) ran no earlier than the x-not-before of the record with x-attempt n.
  std::size_t intermediate = 0;
  for (const auto& [eid, attempts] : chain) {
    for (auto it = attempts.begin(); it != attempts.end(); ++it) {
      const auto next = attempts.find(it->first + 1);
      if (next == attempts.end()) continue;
      ++intermediate;
      EXPECT_GE(next->second.first, it->second.second)
          << "order event " << eid << ": attempt " << it->first + 1 << " ran "
          << (it->second.second - next->second.first) << " ms before it was due";
    }
  }
  EXPECT_GT(intermediate, 0U) << "no order failed twice: the intermediate attempts were not exercised";

  std::size_t checked = 0;
  for (const auto& r : payments) {
    auto p = events::parse_payment_processed(r.value);
    ASSERT_TRUE(p.has_value());
    auto it = last.find(p.value().order_event_id);
    if (it == last.end()) continue;
    ++checked;
    const auto decided = epoch_ms(p.value().occurred_at);
    EXPECT_GE(decided, it->second.not_before)
        << "order " << p.value().order_id << " paid " << (it->second.not_before - decided)
        << " ms before its retry (attempt " << it->second.attempt + 1 << ") was due";
  }
  EXPECT_EQ(checked, last.size());
  std::cout << "[ measure  ] " << checked << " payments after a retry and " << intermediate
            << " intermediate retries checked against x-not-before\n";
  EXPECT_EQ(pay.stop(30s), 0) << pay.output();
}

// Scenario 6: the notification sink fails half of the deliveries; with 10 attempts each valid order
// ends with exactly its two notifications — no duplicate, none lost. A notification may, with
// probability 2^-10, fail all ten attempts: it must then be in notification-service.dlq as
// `exhausted` after attempt 10 (dead-lettered, not lost) and not in `notifications`.
TEST_F(RetryTest, FailingSinkStillEndsInExactlyTwoNotificationsPerOrder) {
  constexpr std::size_t kOrders = 150;
  const int pay_port = free_port();
  const int note_port = free_port();
  auto pay = start_payment(pay_port, {});
  auto note = pipe.start_notification(
      note_port,
      plus(kFastFetch, {"--sink-failure-rate", "0.5", "--max-attempts", "10", "--retry-backoff-ms", "20"}));
  ASSERT_TRUE(wait_ready(note_port, 90s)) << note.output();
  const auto t0 = Clock::now();
  ASSERT_NO_FATAL_FAILURE(produce({"--seed", "606", "--invalid-ratio", "0.05"}, kOrders));
  const auto valid = orders.valid_by_event_id.size();
  const auto invalid = orders.invalid.size();

  TopicReader notes(bootstrap(), pipe.notifications);
  TopicReader ndlq(bootstrap(), pipe.notification_dlq());
  auto exhausted = [&] {
    return std::count_if(ndlq.records().begin(), ndlq.records().end(), [](const Record& r) {
      return header(r, "x-error-class") == std::optional<std::string>("exhausted");
    });
  };
  const bool done = wait_until(
      [&] {
        notes.poll_until([](const auto&) { return false; }, 50ms);
        ndlq.poll_until([](const auto&) { return false; }, 50ms);
        return notes.records().size() + static_cast<std::size_t>(exhausted()) >= 2 * valid &&
               ndlq.records().size() >= invalid;
      },
      150s, 1ms);
  EXPECT_TRUE(done) << notes.records().size() << " notifications, " << ndlq.records().size()
                    << " dead letters of " << valid << " valid orders\n"
                    << note.output();
  ASSERT_TRUE(notes.drain_to_end(30s));
  ASSERT_TRUE(ndlq.drain_to_end(30s));
  std::cout << "[ measure  ] " << notes.records().size() << " notifications, " << exhausted()
            << " exhausted after " << seconds_since(t0) << " s\n";

  std::map<std::string, const events::OrderCreated*> by_order_id;
  for (const auto& [eid, o] : orders.valid_by_event_id) by_order_id[o.order_id] = &o;
  std::map<std::string, std::multiset<std::string>> kinds;  // order_id → delivered kinds
  for (const auto& r : notes.records()) {
    auto n = events::parse_notification_sent(r.value);
    ASSERT_TRUE(n.has_value()) << r.value;
    ASSERT_TRUE(by_order_id.count(n.value().order_id)) << "notification for an unknown order: " << r.value;
    kinds[n.value().order_id].insert(std::string(events::to_string(n.value().kind)));
  }
  // Exhausted dead letters: which (order, kind) they stand for.
  std::map<std::string, std::multiset<std::string>> dead_kinds;
  std::multiset<std::string> poison;
  for (const auto& r : ndlq.records()) {
    const auto cls = header(r, "x-error-class");
    if (cls == std::optional<std::string>("poison")) {
      poison.insert(r.value);
      continue;
    }
    ASSERT_EQ(cls, std::optional<std::string>("exhausted")) << r.value;
    EXPECT_EQ(header(r, "x-attempt"), std::optional<std::string>("10"));
    if (header(r, "x-original-topic") == std::optional<std::string>(pipe.orders)) {
      auto o = events::parse_order_created(r.value);
      ASSERT_TRUE(o.has_value());
      dead_kinds[o.value().order_id].insert("ORDER_RECEIVED");
    } else {
      auto p = events::parse_payment_processed(r.value);
      ASSERT_TRUE(p.has_value()) << r.value;
      dead_kinds[p.value().order_id].insert(
          p.value().status == events::PaymentStatus::Declined ? "PAYMENT_DECLINED" : "PAYMENT_AUTHORIZED");
    }
  }
  for (const auto& [order_id, o] : by_order_id) {
    const bool over = o->amount_cents > 500000;
    const std::multiset<std::string> expected{"ORDER_RECEIVED",
                                              over ? "PAYMENT_DECLINED" : "PAYMENT_AUTHORIZED"};
    auto delivered = kinds[order_id];
    const auto& dead = dead_kinds[order_id];
    EXPECT_EQ(delivered.size() + dead.size(), 2U) << order_id;
    for (const auto& k : dead) delivered.insert(k);
    EXPECT_EQ(delivered, expected) << order_id;
  }
  EXPECT_EQ(notes.records().size() + static_cast<std::size_t>(exhausted()), 2 * valid);
  std::multiset<std::string> want_poison;
  for (const auto& r : orders.invalid) want_poison.insert(r.value);
  EXPECT_EQ(poison, want_poison);
  EXPECT_GT(read_all(bootstrap(), pipe.notification_retry()).size(), valid / 2) << "the sink never failed";
  EXPECT_EQ(note.stop(30s), 0) << note.output();
  EXPECT_EQ(pay.stop(30s), 0) << pay.output();
}

// After scenario 1: the dead letters replayed with dlq-tool into a healthy payment-service become
// exactly one payment each; a second replay sends nothing.
TEST_F(RetryTest, ReplayedDeadLettersBecomeExactlyOnePaymentEach) {
  const auto tool = bin_path("dlq-tool");
  // retry_test depends on the dlq-tool target (tests/integration/retry/CMakeLists.txt): a missing binary is
  // a broken build, not a reason to skip.
  ASSERT_TRUE(std::filesystem::exists(tool))
      << tool << " is not built (cmake --build build --target dlq-tool)";
  constexpr std::size_t kOrders = 200;
  const int port = free_port();
  {
    auto failing = start_payment(
        port, {"--gateway-failure-rate", "1.0", "--max-attempts", "3", "--retry-backoff-ms", "100"});
    ASSERT_NO_FATAL_FAILURE(produce({"--seed", "101"}, kOrders));
    const auto dlq = wait_and_read(
        bootstrap(), pipe.payment_dlq(), [&](const std::vector<Record>& r) { return r.size() >= kOrders; },
        90s);
    ASSERT_EQ(dlq.size(), kOrders);
    ASSERT_EQ(failing.stop(30s), 0) << failing.output();
  }
  auto healthy = start_payment(port, {"--gateway-failure-rate", "0"});

  auto replay = [&] {
    auto p = Process::start(tool, {"replay", "--topic", pipe.payment_dlq(), "--brokers", bootstrap()});
    const auto rc = p.wait(120s);
    EXPECT_EQ(rc, std::optional<int>(0)) << p.output();
    return p.output();
  };
  const auto first = replay();
  EXPECT_NE(first.find("replayed=" + std::to_string(kOrders)), std::string::npos) << first;
  const auto payments = wait_and_read(
      bootstrap(), pipe.payments, [&](const std::vector<Record>& r) { return r.size() >= kOrders; }, 90s);
  expect_one_payment_per_order(payments, orders);

  const auto second = replay();
  EXPECT_NE(second.find("replayed=0"), std::string::npos) << second;
  EXPECT_EQ(read_all(bootstrap(), pipe.orders).size(), 2 * kOrders) << "the second replay sent records again";
  EXPECT_EQ(read_all(bootstrap(), pipe.payments).size(), kOrders);
  EXPECT_EQ(healthy.stop(30s), 0) << healthy.output();
}

}  // namespace
}  // namespace orderflow::testing
