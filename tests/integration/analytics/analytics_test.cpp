// analytics-service end to end: order-producer → orders → payment-service → payments, both read by
// analytics-service, whose closed windows on `order-stats` must equal the test's own aggregation of the
// two topics by event time — also when the service is SIGKILLed mid-run and restarted (no window counts
// a record twice or misses one). Small windows (2 s) so that they close within seconds.
#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>

#include <nlohmann/json.hpp>

#include "analytics_fixture.h"
#include "orderflow/events/events.h"
#include "orderflow/testing/paths.h"
#include "orderflow/testing/wait.h"

namespace orderflow::testing::analytics {
namespace {

using namespace std::chrono_literals;

class AnalyticsTest : public AnalyticsFixture {
 protected:
  // Waits until the published windows hold every order and payment (bounded), then compares them with the
  // test's aggregation of the topics. `records_out`: how many records order-stats holds (a window
  // published again counts twice).
  void expect_windows_match_topics(std::size_t expected_orders, std::size_t* windows_out,
                                   std::size_t* records_out = nullptr) {
    const auto want = expected_from_topics(expected_orders);
    const auto got = wait_for_stats(want, false, 60s);
    for (const auto& [start, copies] : got.copies) {
      EXPECT_EQ(std::set<std::string>(copies.begin(), copies.end()).size(), 1U)
          << "window " << start << " published with differing contents";
    }
    expect_windows_equal(want, got);
    if (windows_out) *windows_out = got.windows.size();
    if (records_out) *records_out = got.records;
    std::printf("analytics: %zu windows (%zu records on %s), %lld orders, %lld payments\n",
                got.windows.size(), got.records, stats_topic.c_str(), static_cast<long long>(want.orders),
                static_cast<long long>(want.payments));
  }
};

TEST_F(AnalyticsTest, PublishedWindowsEqualTheTopicsAggregation) {
  int pay_port = 0;
  auto payment = start_payment_ready(pay_port);
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
  int pay_port = 0;
  auto payment = start_payment_ready(pay_port);
  int port = free_port();
  auto analytics = start_analytics(port);
  ASSERT_TRUE(wait_ready(port, 30s)) << analytics.output();

  // About 20 s of orders in the background, so that both kills (each followed by a re-join of several
  // seconds) land while they flow and windows are open; the service is killed twice.
  auto producer = start_order_load(3000, 150, 60, 11);
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
}  // namespace orderflow::testing::analytics
