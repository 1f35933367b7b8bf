// The pipeline end to end with the real binaries: order-producer → orders → payment-service →
// payments → notification-service → notifications, on the dev broker (or the real Kafka broker in
// the `kafka` variant). Asserts on what landed in the topics, record by record.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <tuple>

#include <nlohmann/json.hpp>

#include "orderflow/producer/order_generator.h"
#include "orderflow/testing/paths.h"
#include "orderflow/testing/wait.h"
#include "pipeline_fixture.h"
#include "pipeline_test_base.h"

namespace orderflow::testing {
namespace {

using namespace std::chrono_literals;

struct Landed {
  OrderIndex orders;
  std::vector<Record> order_records;
  std::vector<Record> payments;
  std::vector<Record> notifications;
  std::vector<Record> payment_dlq;
  std::vector<Record> notification_dlq;
  std::vector<Record> retries;  // both services' retry topics: nothing fails here, so empty
};

// Waits until every valid order has a payment and two notifications (or the deadline), then reads
// each topic to its end so that "nothing else" can be asserted.
Landed collect(const Pipeline& p, std::chrono::seconds timeout, std::size_t expected_orders) {
  Landed l;
  TopicReader orders(p.broker.bootstrap(), p.orders);
  // Every order the producer had acknowledged must be readable; wait for them before reading to the end
  // (the watermark a fresh reader sees right after the producer exits can trail on a real broker).
  orders.wait_for_count(expected_orders, 30s);
  orders.drain_to_end(30s);
  l.order_records = orders.records();
  l.orders = index_orders(l.order_records);
  const auto valid = l.orders.valid_by_event_id.size();
  const auto invalid = l.orders.invalid.size();

  TopicReader payments(p.broker.bootstrap(), p.payments);
  TopicReader notes(p.broker.bootstrap(), p.notifications);
  TopicReader pdlq(p.broker.bootstrap(), p.payment_dlq());
  TopicReader ndlq(p.broker.bootstrap(), p.notification_dlq());
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto left = [&] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
  };
  payments.wait_for_count(valid, left());
  notes.wait_for_count(2 * valid, left());
  pdlq.wait_for_count(invalid, left());
  ndlq.wait_for_count(invalid, left());
  payments.drain_to_end(10s);
  notes.drain_to_end(10s);
  pdlq.drain_to_end(10s);
  ndlq.drain_to_end(10s);
  l.payments = payments.records();
  l.notifications = notes.records();
  l.payment_dlq = pdlq.records();
  l.notification_dlq = ndlq.records();
  for (const auto& topic : {p.payment_retry(), p.notification_retry()}) {
    TopicReader retry(p.broker.bootstrap(), topic);
    retry.drain_to_end(10s);
    l.retries.insert(l.retries.end(), retry.records().begin(), retry.records().end());
  }
  return l;
}

void expect_exact_outcome(const Landed& l) {
  const auto& valid = l.orders.valid_by_event_id;
  ASSERT_GT(valid.size(), 0U);
  EXPECT_TRUE(l.retries.empty()) << l.retries.size() << " record(s) on a retry topic, first: "
                                 << (l.retries.empty()
                                         ? ""
                                         : l.retries.front().topic + " " + l.retries.front().value);
  // payments: exactly one per valid order, with the right status and identities.
  std::map<std::string, int> payments_per_order;
  for (const auto& r : l.payments) {
    auto p = events::parse_payment_processed(r.value);
    ASSERT_TRUE(p.has_value()) << "invalid payment: " << r.value;
    const auto& pay = p.value();
    auto it = valid.find(pay.order_event_id);
    ASSERT_NE(it, valid.end()) << "payment for an unknown order: " << r.value;
    ++payments_per_order[pay.order_event_id];
    EXPECT_EQ(pay.order_id, it->second.order_id);
    EXPECT_EQ(pay.payment_id, events::payment_id_for(pay.order_event_id));
    EXPECT_EQ(pay.event_id, pay.payment_id);
    EXPECT_EQ(pay.amount_cents, it->second.amount_cents);
    const bool over = it->second.amount_cents > 500000;
    EXPECT_EQ(pay.status, over ? events::PaymentStatus::Declined : events::PaymentStatus::Authorized);
    EXPECT_EQ(r.key, std::optional<std::string>(it->second.customer_id));
  }
  EXPECT_EQ(payments_per_order.size(), valid.size()) << "orders without a payment";
  for (const auto& [id, n] : payments_per_order)
    EXPECT_EQ(n, 1) << "duplicate payments for order event " << id;
  EXPECT_EQ(l.payments.size(), valid.size());

  // notifications: exactly two per valid order, ORDER_RECEIVED + the payment outcome.
  std::map<std::string, std::multiset<std::string>> kinds;
  std::map<std::string, const events::OrderCreated*> by_order_id;
  for (const auto& [eid, o] : valid) by_order_id[o.order_id] = &o;
  for (const auto& r : l.notifications) {
    auto n = events::parse_notification_sent(r.value);
    ASSERT_TRUE(n.has_value()) << "invalid notification: " << r.value;
    kinds[n.value().order_id].insert(std::string(events::to_string(n.value().kind)));
    EXPECT_EQ(n.value().notification_id, events::notification_id_for(n.value().order_id, n.value().kind));
  }
  EXPECT_EQ(l.notifications.size(), 2 * valid.size());
  EXPECT_EQ(kinds.size(), valid.size());
  for (const auto& [order_id, ks] : kinds) {
    auto it = by_order_id.find(order_id);
    ASSERT_NE(it, by_order_id.end()) << "notification for unknown order " << order_id;
    const bool over = it->second->amount_cents > 500000;
    std::multiset<std::string> expected{"ORDER_RECEIVED", over ? "PAYMENT_DECLINED" : "PAYMENT_AUTHORIZED"};
    EXPECT_EQ(ks, expected) << order_id;
  }

  // dead letters: exactly the invalid orders, original bytes, poison, in both services' DLQs.
  for (const auto* dlq : {&l.payment_dlq, &l.notification_dlq}) {
    ASSERT_EQ(dlq->size(), l.orders.invalid.size());
    std::multiset<std::string> want, got;
    for (const auto& r : l.orders.invalid) want.insert(r.value);
    for (const auto& r : *dlq) {
      got.insert(r.value);
      EXPECT_EQ(header(r, "x-error-class"), std::optional<std::string>("poison"));
      EXPECT_TRUE(header(r, "x-error-message").has_value());
      EXPECT_TRUE(header(r, "x-original-offset").has_value());
    }
    EXPECT_EQ(got, want);
  }
}

void expect_per_customer_order(const Landed& l) {
  std::map<std::string, std::vector<std::string>> payments_by_customer;
  for (const auto& r : l.payments) {
    auto p = events::parse_payment_processed(r.value);
    if (p) payments_by_customer[p.value().customer_id].push_back(p.value().order_id);
  }
  for (const auto& [customer, orders] : l.orders.order_ids_by_customer) {
    EXPECT_EQ(payments_by_customer[customer], orders) << "order of payments differs for " << customer;
  }
}

using PipelineTest = PipelineTestBase;

TEST_F(PipelineTest, FiveThousandOrdersEndToEnd) {
  auto svc = pipe.start_services();
  ASSERT_EQ(svc.wait_ready(60s), "");

  auto [rc, out] = pipe.produce_orders({"--count", "5000", "--seed", "11", "--invalid-ratio", "0.01"});
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("sent=5000 delivered=5000 failed=0"), std::string::npos) << out;

  auto landed = collect(pipe, 120s, 5000);
  EXPECT_EQ(landed.order_records.size(), 5000U);
  EXPECT_GT(landed.orders.invalid.size(), 10U);
  expect_exact_outcome(landed);
  expect_per_customer_order(landed);

  EXPECT_EQ(svc.pay.stop(20s), 0) << svc.pay.output();
  EXPECT_EQ(svc.note.stop(20s), 0) << svc.note.output();
}

// order-producer --from-file: every non-empty line is sent as it is, in file order, keyed by its
// customer_id (no key when the line has none or is not JSON; those in no particular order) — the whole file,
// although it is longer than the generator's default --count of 1000.
TEST_F(PipelineTest, FromFileSendsEveryLineInOrderKeyedByCustomer) {
  producer::OrderGenerator generator(77, 50, 0.05);
  std::vector<std::string> lines;
  for (int i = 0; i < 1200; ++i) lines.push_back(generator.next(std::chrono::system_clock::now()).value);
  lines.insert(lines.begin() + 10, "this is not JSON");
  lines.insert(lines.begin() + 500, R"({"order_id":"no-customer"})");
  const auto path =
      std::filesystem::temp_directory_path() / ("orderflow-from-file-" + std::to_string(getpid()) + ".jsonl");
  {
    std::ofstream f(path);
    for (std::size_t i = 0; i < lines.size(); ++i) {
      f << lines[i] << '\n';
      if (i == 700) f << '\n';  // an empty line is skipped
    }
  }
  auto [rc, out] = pipe.produce_orders({"--from-file", path.string()});
  std::filesystem::remove(path);
  ASSERT_EQ(rc, 0) << out;
  const auto n = std::to_string(lines.size());
  EXPECT_NE(out.find("sent=" + n + " delivered=" + n + " failed=0"), std::string::npos) << out;

  TopicReader reader(broker.bootstrap(), pipe.orders);
  ASSERT_TRUE(reader.wait_for_count(lines.size(), 60s)) << reader.records().size() << " of " << lines.size();
  reader.drain_to_end(5s);
  ASSERT_EQ(reader.records().size(), lines.size());

  // Per key, the records are in file order; every line landed once, with the key of its customer_id.
  std::map<std::optional<std::string>, std::vector<std::string>> expected;
  for (const auto& line : lines) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    std::optional<std::string> key;
    if (j.is_object() && j.contains("customer_id") && j["customer_id"].is_string())
      key = j["customer_id"].get<std::string>();
    expected[key].push_back(line);
  }
  std::map<std::optional<std::string>, std::vector<std::string>> landed;
  std::vector<Record> sorted = reader.records();
  std::stable_sort(sorted.begin(), sorted.end(), [](const Record& a, const Record& b) {
    return std::tie(a.partition, a.offset) < std::tie(b.partition, b.offset);
  });
  for (const auto& r : sorted) landed[r.key].push_back(r.value);
  EXPECT_EQ(landed.size(), expected.size());
  for (auto& [key, values] : expected) {
    auto& got = landed[key];
    if (!key) {
      // Records without a key are spread over the partitions: all of them, in no particular order.
      std::sort(values.begin(), values.end());
      std::sort(got.begin(), got.end());
    }
    EXPECT_EQ(got, values) << "records of key " << key.value_or("(none)") << " differ from the file";
  }
  const auto& keyless = expected[std::nullopt];
  EXPECT_EQ(std::count(keyless.begin(), keyless.end(), "this is not JSON"), 1);
  EXPECT_EQ(std::count(keyless.begin(), keyless.end(), R"({"order_id":"no-customer"})"), 1);
}

// order-producer at a slow rate: delivery reports are served while it waits for the next send (its
// produced counter follows the broker, not the next send 50 s later), and SIGTERM stops it at once.
TEST_F(PipelineTest, SlowRateKeepsDeliveryReportsCurrentAndStopsAtOnce) {
  const int port = free_port();
  auto producer =
      Process::start(bin_path("order-producer"),
                     {"--brokers", broker.bootstrap(), "--topic", pipe.orders, "--count", "0", "--rate",
                      "0.02", "--metrics-address", "127.0.0.1:" + std::to_string(port)});
  std::string text;
  EXPECT_TRUE(wait_until(
      [&] {
        text = http_get(port, "/metrics").second;
        return metric_value(text, "orderflow_messages_produced_total", {{"topic", pipe.orders}}) == 1.0;
      },
      20s, 100ms))
      << text << producer.output();
  const auto stopping = std::chrono::steady_clock::now();
  producer.signal(SIGTERM);
  const auto rc = producer.wait(30s);
  ASSERT_TRUE(rc.has_value()) << producer.output();
  EXPECT_EQ(*rc, 0) << producer.output();
  EXPECT_LT(std::chrono::steady_clock::now() - stopping, 5s) << "a stop must not wait for the next send";
  EXPECT_NE(producer.output().find("sent=1 delivered=1 failed=0"), std::string::npos) << producer.output();
}

TEST_F(PipelineTest, CleanStopAndRestartMidStreamLosesAndDuplicatesNothing) {
  auto svc = pipe.start_services();
  ASSERT_EQ(svc.wait_ready(60s), "");

  // Paced so that the stops land mid-stream.
  auto producer =
      Process::start(bin_path("order-producer"),
                     {"--brokers", broker.bootstrap(), "--topic", pipe.orders, "--count", "5000", "--rate",
                      "1000", "--seed", "12", "--invalid-ratio", "0.01", "--metrics-address", "127.0.0.1:0"});
  TopicReader payments(broker.bootstrap(), pipe.payments);
  ASSERT_TRUE(payments.wait_for_count(1000, 60s));
  EXPECT_EQ(svc.pay.stop(30s), 0) << svc.pay.output();
  svc.pay = pipe.start_payment(svc.pay_port);

  TopicReader notes(broker.bootstrap(), pipe.notifications);
  ASSERT_TRUE(notes.wait_for_count(4000, 90s));
  EXPECT_EQ(svc.note.stop(30s), 0) << svc.note.output();
  svc.note = pipe.start_notification(svc.note_port);

  auto rc = producer.wait(60s);
  ASSERT_TRUE(rc.has_value());
  EXPECT_EQ(*rc, 0) << producer.output();

  auto landed = collect(pipe, 150s, 5000);
  EXPECT_EQ(landed.order_records.size(), 5000U) << "order-producer said:\n" << producer.output();
  expect_exact_outcome(landed);
  expect_per_customer_order(landed);
  EXPECT_EQ(svc.pay.stop(20s), 0) << svc.pay.output();
  EXPECT_EQ(svc.note.stop(20s), 0) << svc.note.output();
}

}  // namespace
}  // namespace orderflow::testing
