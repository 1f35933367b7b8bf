// analytics-service end to end: order-producer → orders → payment-service → payments, both read by
// analytics-service, whose closed windows on `order-stats` must equal the test's own aggregation of the
// two topics by event time — also when the service is SIGKILLed mid-run and restarted (no window counts
// a record twice or misses one). Small windows (2 s) so that they close within seconds.
#include <gtest/gtest.h>
#include <librdkafka/rdkafkacpp.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <set>

#include <nlohmann/json.hpp>

#include "orderflow/events/events.h"
#include "orderflow/testing/paths.h"
#include "orderflow/testing/wait.h"
#include "pipeline_fixture.h"

namespace orderflow::testing {
namespace {

using namespace std::chrono_literals;

constexpr std::int64_t kWindowMs = 2000;

struct Window {
  std::int64_t orders = 0;
  std::map<std::string, std::int64_t> amount;
  std::int64_t authorized = 0;
  std::int64_t declined = 0;
  std::map<std::string, std::int64_t> authorized_amount;
  std::map<std::string, std::int64_t> by_reason;
  std::set<std::string> customers;
  std::int64_t distinct = -1;  // published windows only
  bool operator==(const Window& o) const {
    return orders == o.orders && amount == o.amount && authorized == o.authorized && declined == o.declined &&
           authorized_amount == o.authorized_amount && by_reason == o.by_reason &&
           static_cast<std::int64_t>(customers.size()) == o.distinct;
  }
};

std::int64_t ms_of(const std::string& ts) {
  const auto t = events::parse_timestamp(ts);
  EXPECT_TRUE(t.has_value()) << ts;
  return std::chrono::duration_cast<std::chrono::milliseconds>(t->time_since_epoch()).count();
}

std::int64_t start_of(std::int64_t ms) {
  return ms - (ms % kWindowMs);
}

// The mock creates a topic that a metadata request names; a real broker gets it through the Admin API.
void ensure_topic(TestBroker& broker, const std::string& topic) {
  if (broker.is_real()) {
    create_topics(broker.bootstrap(), {topic}, 6);
    return;
  }
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string err;
  conf->set("bootstrap.servers", broker.bootstrap(), err);
  std::unique_ptr<RdKafka::Producer> p(RdKafka::Producer::create(conf.get(), err));
  ASSERT_TRUE(p) << err;
  std::unique_ptr<RdKafka::Topic> t(RdKafka::Topic::create(p.get(), topic, nullptr, err));
  RdKafka::Metadata* md = nullptr;
  ASSERT_EQ(p->metadata(false, t.get(), &md, 10000), RdKafka::ERR_NO_ERROR);
  delete md;
}

// The test's own aggregation of `orders` and `payments` by event time.
std::map<std::int64_t, Window> aggregate(const std::vector<Record>& orders,
                                         const std::vector<Record>& payments, std::int64_t& order_count,
                                         std::int64_t& payment_count) {
  std::map<std::int64_t, Window> w;
  order_count = payment_count = 0;
  for (const auto& r : orders) {
    auto o = events::parse_order_created(r.value);
    if (!o.has_value()) continue;
    auto& win = w[start_of(ms_of(o.value().occurred_at))];
    ++win.orders;
    ++order_count;
    win.amount[o.value().currency] += o.value().amount_cents;
    win.customers.insert(o.value().customer_id);
  }
  for (const auto& r : payments) {
    auto p = events::parse_payment_processed(r.value);
    if (!p.has_value()) continue;
    ++payment_count;
    auto& win = w[start_of(ms_of(p.value().occurred_at))];
    if (p.value().status == events::PaymentStatus::Authorized) {
      ++win.authorized;
      win.authorized_amount[p.value().currency] += p.value().amount_cents;
    } else {
      ++win.declined;
      ++win.by_reason[*p.value().decline_reason];
    }
  }
  return w;
}

struct Published {
  std::map<std::int64_t, Window> windows;
  std::map<std::int64_t, std::set<std::string>> values;  // distinct record values per window
  std::int64_t orders = 0, payments = 0;
  std::size_t records = 0;
};

Published read_stats(const std::vector<Record>& stats) {
  Published out;
  for (const auto& r : stats) {
    const auto j = nlohmann::json::parse(r.value);
    const std::int64_t start = j.at("window_start_ms");
    EXPECT_EQ(j.at("window_ms").get<std::int64_t>(), kWindowMs);
    EXPECT_EQ(j.at("event_id").get<std::string>(),
              events::uuid_v5("order-stats:" + std::to_string(start) + ":" + std::to_string(kWindowMs)));
    EXPECT_EQ(r.key, std::optional<std::string>(j.at("window_start").get<std::string>()));
    ++out.records;
    if (!out.values[start].insert(r.value).second) continue;  // the same window published again
    if (out.values[start].size() > 1) continue;               // differing duplicate: reported by the caller
    Window w;
    w.orders = j.at("orders");
    w.amount = j.at("order_amount_cents_by_currency").get<std::map<std::string, std::int64_t>>();
    w.authorized = j.at("payments_authorized");
    w.declined = j.at("payments_declined");
    w.authorized_amount =
        j.at("authorized_amount_cents_by_currency").get<std::map<std::string, std::int64_t>>();
    w.by_reason = j.at("declined_by_reason").get<std::map<std::string, std::int64_t>>();
    w.distinct = j.at("distinct_customers");
    out.orders += w.orders;
    out.payments += w.authorized + w.declined;
    out.windows[start] = w;
  }
  return out;
}

class AnalyticsTest : public ::testing::Test {
 protected:
  TestBroker broker;
  Pipeline p{broker};
  std::string stats_topic = broker.is_real() ? "order-stats-" + broker.unique_suffix() : "order-stats";
  std::string group = "analytics-service" + (broker.is_real() ? "-" + broker.unique_suffix() : std::string());

  Process start_analytics(int port) const {
    return Process::start(bin_path("analytics-service"), {"--brokers",
                                                          broker.bootstrap(),
                                                          "--metrics-address",
                                                          "127.0.0.1:" + std::to_string(port),
                                                          "--group-id",
                                                          group,
                                                          "--orders-topic",
                                                          p.orders,
                                                          "--payments-topic",
                                                          p.payments,
                                                          "--stats-topic",
                                                          stats_topic,
                                                          "--window-ms",
                                                          std::to_string(kWindowMs),
                                                          "--allowed-lateness-ms",
                                                          "300",
                                                          "--idle-timeout-ms",
                                                          "1500",
                                                          "--commit-interval-ms",
                                                          "200",
                                                          "-X",
                                                          "session.timeout.ms=6000",
                                                          "-X",
                                                          "heartbeat.interval.ms=1000"});
  }

  // Reads everything and compares once the published windows hold every order and payment (bounded).
  // `records_out`: how many records order-stats holds (a window published again counts twice).
  void expect_windows_match_topics(std::size_t expected_orders, std::size_t* windows_out,
                                   std::size_t* records_out = nullptr) {
    TopicReader orders(broker.bootstrap(), p.orders);
    ASSERT_TRUE(orders.wait_for_count(expected_orders, 60s));
    orders.drain_to_end(10s);
    TopicReader payments(broker.bootstrap(), p.payments);
    ASSERT_TRUE(payments.wait_for_count(expected_orders, 60s));
    payments.drain_to_end(10s);
    std::int64_t n_orders = 0, n_payments = 0;
    const auto expected = aggregate(orders.records(), payments.records(), n_orders, n_payments);
    ASSERT_EQ(n_orders, static_cast<std::int64_t>(expected_orders));

    TopicReader stats(broker.bootstrap(), stats_topic);
    Published got;
    const bool complete = wait_until(
        [&] {
          stats.drain_to_end(2s);
          got = read_stats(stats.records());
          return got.orders >= n_orders && got.payments >= n_payments;
        },
        60s, 200ms);
    EXPECT_TRUE(complete) << "published windows hold " << got.orders << " of " << n_orders << " orders and "
                          << got.payments << " of " << n_payments << " payments";
    for (const auto& [start, values] : got.values) {
      EXPECT_EQ(values.size(), 1U) << "window " << start << " published with differing contents";
    }
    EXPECT_EQ(got.windows.size(), expected.size());
    for (const auto& [start, want] : expected) {
      const auto it = got.windows.find(start);
      if (it == got.windows.end()) {
        ADD_FAILURE() << "window " << start << " (" << want.orders << " orders) not published";
        continue;
      }
      EXPECT_TRUE(want == it->second)
          << "window " << start << ": want " << want.orders << " orders, " << want.authorized << "/"
          << want.declined << " payments, " << want.customers.size() << " customers; got "
          << it->second.orders << ", " << it->second.authorized << "/" << it->second.declined << ", "
          << it->second.distinct;
    }
    EXPECT_EQ(got.orders, n_orders);
    EXPECT_EQ(got.payments, n_payments);
    if (windows_out) *windows_out = got.windows.size();
    if (records_out) *records_out = got.records;
    std::printf("analytics: %zu windows (%zu records on %s), %lld orders, %lld payments\n",
                got.windows.size(), got.records, stats_topic.c_str(), static_cast<long long>(n_orders),
                static_cast<long long>(n_payments));
  }

  void SetUp() override { ensure_topic(broker, stats_topic); }
};

TEST_F(AnalyticsTest, PublishedWindowsEqualTheTopicsAggregation) {
  const int pay_port = free_port();
  auto payment = p.start_payment(pay_port);
  ASSERT_TRUE(wait_ready(pay_port, 30s)) << payment.output();
  const int port = free_port();
  auto analytics = start_analytics(port);
  ASSERT_TRUE(wait_ready(port, 30s)) << analytics.output();

  // 600 orders at 200/s: about 3 s of event time, two to three windows; some over the amount limit.
  const auto [rc, out] =
      p.produce_orders({"--count", "600", "--rate", "200", "--customers", "40", "--seed", "7"});
  ASSERT_EQ(rc, 0) << out;
  std::size_t windows = 0;
  expect_windows_match_topics(600, &windows);
  EXPECT_GE(windows, 2U);
  const auto late = scrape_metric(port, "orderflow_analytics_late_records_total");
  EXPECT_EQ(late, 0.0);
  // The delivery report (which the metric counts) may be served a moment after the record is readable.
  EXPECT_TRUE(wait_until(
      [&] {
        return scrape_metric(port, "orderflow_analytics_windows_closed_total").value_or(0) >=
               static_cast<double>(windows);
      },
      10s, 100ms));
  EXPECT_EQ(scrape_metric(port, "orderflow_analytics_orders_aggregated_total"), 600.0);

  // A late order (its occurred_at is in a window published long ago) is counted as late, not added.
  TopicReader stats(broker.bootstrap(), stats_topic);
  stats.drain_to_end(10s);
  const auto first = nlohmann::json::parse(stats.records().front().value);
  events::OrderCreated late_order;
  std::mt19937_64 rng(99);
  late_order.event_id = events::uuid_v4(rng);
  late_order.occurred_at = first.at("window_start").get<std::string>();
  late_order.order_id = "late-1";
  late_order.customer_id = "late-customer";
  late_order.items = {{"sku-1", 1, 1234}};
  late_order.amount_cents = 1234;
  late_order.currency = "EUR";
  const auto file =
      std::filesystem::temp_directory_path() / ("analytics-late-" + broker.unique_suffix() + ".jsonl");
  std::ofstream(file) << events::to_json(late_order) << "\n";
  const auto [rc2, out2] = p.produce_orders({"--from-file", file.string()});
  std::filesystem::remove(file);
  ASSERT_EQ(rc2, 0) << out2;
  EXPECT_TRUE(wait_until(
      [&] { return scrape_metric(port, "orderflow_analytics_late_records_total").value_or(0) == 1.0; }, 20s,
      100ms))
      << analytics.output();
  EXPECT_EQ(scrape_metric(port, "orderflow_analytics_orders_aggregated_total"), 600.0);
  EXPECT_EQ(analytics.stop(), 0) << analytics.output();
  EXPECT_EQ(payment.stop(), 0);
}

TEST_F(AnalyticsTest, SigkillMidRunCountsEveryRecordExactlyOnce) {
  const int pay_port = free_port();
  auto payment = p.start_payment(pay_port);
  ASSERT_TRUE(wait_ready(pay_port, 30s)) << payment.output();
  int port = free_port();
  auto analytics = start_analytics(port);
  ASSERT_TRUE(wait_ready(port, 30s)) << analytics.output();

  // About 20 s of orders in the background, so that both kills (each followed by a re-join of several
  // seconds) land while they flow and windows are open; the service is killed twice.
  auto producer =
      Process::start(bin_path("order-producer"), {"--brokers", broker.bootstrap(), "--topic", p.orders,
                                                  "--metrics-address", "127.0.0.1:0", "--count", "3000",
                                                  "--rate", "150", "--customers", "60", "--seed", "11"});
  for (int kill = 1; kill <= 2; ++kill) {
    // Wait for at least one more window to be published, then kill -9 with windows open.
    const auto closed_before = scrape_metric(port, "orderflow_analytics_windows_closed_total").value_or(0);
    ASSERT_TRUE(wait_until(
        [&] {
          return scrape_metric(port, "orderflow_analytics_windows_closed_total").value_or(0) > closed_before;
        },
        30s, 100ms))
        << analytics.output();
    ASSERT_TRUE(wait_until(
        [&] { return scrape_metric(port, "orderflow_analytics_open_windows").value_or(0) > 0; }, 10s, 50ms))
        << "no window open (the order stream ended?)\n"
        << analytics.output();
    analytics.signal(SIGKILL);
    analytics.wait(10s);
    port = free_port();
    analytics = start_analytics(port);
    ASSERT_TRUE(analytics.wait_for_output("windows published earlier", 30s)) << analytics.output();
    // It learned the windows the killed run published (at least the one awaited above).
    EXPECT_EQ(analytics.output().find(" 0 windows published earlier"), std::string::npos)
        << analytics.output();
    ASSERT_TRUE(wait_ready(port, 60s)) << analytics.output();
  }
  ASSERT_EQ(producer.wait(120s), std::optional<int>(0)) << producer.output();
  std::size_t windows = 0, records = 0;
  expect_windows_match_topics(3000, &windows, &records);
  // A restart learns the published windows from order-stats and does not publish them again (a window
  // lost in flight would be published once, by the next run).
  EXPECT_EQ(records, windows);
  EXPECT_EQ(analytics.stop(), 0) << analytics.output();
  EXPECT_EQ(payment.stop(), 0);
}

}  // namespace
}  // namespace orderflow::testing
