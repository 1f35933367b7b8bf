// Window logic of analytics-service: assignment, watermark and closing, lateness, idle partitions,
// distinct customers, derived ids and the commit rule. No broker.
#include "orderflow/analytics/window.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "orderflow/events/identity.h"

using orderflow::analytics::WindowAggregator;
using orderflow::analytics::WindowConfig;
using orderflow::messaging::CommitOffset;
using orderflow::messaging::TopicPartitionKey;
using Outcome = WindowAggregator::Outcome;

namespace {

const TopicPartitionKey kOrders0{"orders", 0};
const TopicPartitionKey kOrders1{"orders", 1};
const TopicPartitionKey kPayments0{"payments", 0};

WindowConfig config(std::int64_t window, std::int64_t lateness, std::int64_t idle = 1000000) {
  return WindowConfig{window, lateness, idle};
}

std::int64_t offset_of(const std::vector<CommitOffset>& offsets, const TopicPartitionKey& tp) {
  for (const auto& o : offsets) {
    if (o.topic == tp.topic && o.partition == tp.partition) return o.offset;
  }
  return -1;
}

}  // namespace

TEST(WindowStart, FloorsToTheWindowIncludingNegativeTimes) {
  EXPECT_EQ(orderflow::analytics::window_start(0, 1000), 0);
  EXPECT_EQ(orderflow::analytics::window_start(999, 1000), 0);
  EXPECT_EQ(orderflow::analytics::window_start(1000, 1000), 1000);
  EXPECT_EQ(orderflow::analytics::window_start(-1, 1000), -1000);
  EXPECT_EQ(orderflow::analytics::window_start(-1000, 1000), -1000);
}

TEST(WindowId, IsDerivedFromStartAndLength) {
  using orderflow::analytics::window_id;
  EXPECT_EQ(window_id(60000, 60000), window_id(60000, 60000));
  EXPECT_NE(window_id(60000, 60000), window_id(120000, 60000));
  EXPECT_NE(window_id(60000, 60000), window_id(60000, 30000));
  EXPECT_EQ(window_id(60000, 60000), orderflow::events::uuid_v5("order-stats:60000:60000"));
}

TEST(WindowAggregator, AggregatesAWindowAndClosesItWhenTheWatermarkPassesItsEnd) {
  WindowAggregator agg(config(1000, 100));
  EXPECT_EQ(agg.add_order(kOrders0, 0, 100, 0, "c1", 500, "EUR"), Outcome::Counted);
  EXPECT_EQ(agg.add_order(kOrders0, 1, 200, 0, "c2", 700, "USD"), Outcome::Counted);
  EXPECT_EQ(agg.add_order(kOrders0, 2, 300, 0, "c1", 100, "EUR"), Outcome::Counted);
  EXPECT_EQ(agg.add_payment(kOrders0, 3, 400, 0, true, 500, "EUR", ""), Outcome::Counted);
  EXPECT_EQ(agg.add_payment(kOrders0, 4, 500, 0, false, 700, "USD", "AMOUNT_LIMIT_EXCEEDED"),
            Outcome::Counted);
  EXPECT_EQ(agg.add_payment(kOrders0, 5, 600, 0, false, 1, "USD", "AMOUNT_LIMIT_EXCEEDED"), Outcome::Counted);
  // Event time 1050: watermark 950 < end 1000, nothing closes.
  EXPECT_EQ(agg.add_order(kOrders0, 6, 1050, 0, "c3", 1, "EUR"), Outcome::Counted);
  EXPECT_TRUE(agg.close_ready(0).empty());
  EXPECT_EQ(agg.watermark(), 950);
  // Event time 1100: watermark 1000 = end, the first window closes.
  EXPECT_EQ(agg.add_order(kOrders0, 7, 1100, 0, "c3", 1, "EUR"), Outcome::Counted);
  const auto closed = agg.close_ready(0);
  ASSERT_EQ(closed.size(), 1u);
  const auto& w = closed[0];
  EXPECT_EQ(w.start_ms, 0);
  EXPECT_EQ(w.end_ms, 1000);
  EXPECT_EQ(w.orders, 3);
  EXPECT_EQ(w.order_amount_cents_by_currency.at("EUR"), 600);
  EXPECT_EQ(w.order_amount_cents_by_currency.at("USD"), 700);
  EXPECT_EQ(w.payments_authorized, 1);
  EXPECT_EQ(w.payments_declined, 2);
  EXPECT_EQ(w.authorized_amount_cents_by_currency.at("EUR"), 500);
  EXPECT_EQ(w.declined_by_reason.at("AMOUNT_LIMIT_EXCEEDED"), 2);
  EXPECT_EQ(w.customers.size(), 2u);  // c1 twice
  EXPECT_EQ(agg.open_windows(), 1u);
  EXPECT_EQ(agg.pending_windows(), 1u);
}

TEST(WindowAggregator, ARecordForAClosedWindowIsLateAndNotCounted) {
  WindowAggregator agg(config(1000, 0));
  agg.add_order(kOrders0, 0, 10, 0, "c1", 5, "EUR");
  agg.add_order(kOrders0, 1, 1500, 0, "c1", 5, "EUR");
  ASSERT_EQ(agg.close_ready(0).size(), 1u);
  EXPECT_EQ(agg.add_order(kOrders0, 2, 999, 0, "c9", 5, "EUR"), Outcome::Late);
  // Within the allowed lateness a record still counts.
  WindowAggregator lenient(config(1000, 600));
  lenient.add_order(kOrders0, 0, 10, 0, "c1", 5, "EUR");
  lenient.add_order(kOrders0, 1, 1500, 0, "c1", 5, "EUR");
  EXPECT_TRUE(lenient.close_ready(0).empty());
  EXPECT_EQ(lenient.add_order(kOrders0, 2, 999, 0, "c9", 5, "EUR"), Outcome::Counted);
  lenient.add_order(kOrders0, 3, 1600, 0, "c1", 5, "EUR");
  const auto closed = lenient.close_ready(0);
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_EQ(closed[0].orders, 2);
  EXPECT_EQ(closed[0].customers.size(), 2u);
}

TEST(WindowAggregator, TheWatermarkIsTheSlowestActivePartition) {
  WindowAggregator agg(config(1000, 0, 5000));
  agg.assigned(kOrders0, 0);
  agg.assigned(kOrders1, 0);
  agg.add_order(kOrders0, 0, 100, 0, "c1", 5, "EUR");
  agg.add_order(kOrders0, 1, 5000, 0, "c1", 5, "EUR");
  // Partition 1 has delivered nothing yet and is not idle: nothing may close.
  EXPECT_TRUE(agg.close_ready(10).empty());
  agg.add_order(kOrders1, 0, 500, 20, "c2", 5, "EUR");
  EXPECT_TRUE(agg.close_ready(20).empty());  // watermark 500
  EXPECT_EQ(agg.watermark(), 500);
  agg.add_order(kOrders1, 1, 1200, 30, "c2", 5, "EUR");
  auto closed = agg.close_ready(30);
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_EQ(closed[0].orders, 2);
  // Partition 1 goes idle while partition 0 still delivers: partition 0 alone drives the watermark.
  agg.add_order(kOrders0, 2, 5001, 40, "c1", 5, "EUR");
  closed = agg.close_ready(30 + 5000);
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_EQ(closed[0].start_ms, 1000);
}

TEST(WindowAggregator, AStallOfTheServiceDoesNotMakeTheOtherPartitionsIdle) {
  WindowAggregator agg(config(1000, 0, 1000));
  agg.add_order(kOrders0, 0, 100, 0, "c1", 5, "EUR");
  agg.add_order(kOrders1, 0, 200, 0, "c2", 5, "EUR");
  EXPECT_TRUE(agg.close_ready(10).empty());
  // The service read nothing from 10 to 5010; then partition 0's next record comes first. Partition 1's
  // records (event time 300 …) are still to be read: window 0 must stay open.
  agg.stalled(5000);
  agg.add_order(kOrders0, 1, 1500, 5010, "c1", 5, "EUR");
  EXPECT_TRUE(agg.close_ready(5010).empty());
  EXPECT_EQ(agg.add_order(kOrders1, 1, 300, 5020, "c2", 5, "EUR"), Outcome::Counted);
  // Without the stall, partition 1 would have looked idle for 5 s and that record been late.
  WindowAggregator unaware(config(1000, 0, 1000));
  unaware.add_order(kOrders0, 0, 100, 0, "c1", 5, "EUR");
  unaware.add_order(kOrders1, 0, 200, 0, "c2", 5, "EUR");
  EXPECT_TRUE(unaware.close_ready(10).empty());
  unaware.add_order(kOrders0, 1, 1500, 5010, "c1", 5, "EUR");
  EXPECT_EQ(unaware.close_ready(5010).size(), 1u);
  EXPECT_EQ(unaware.add_order(kOrders1, 1, 300, 5020, "c2", 5, "EUR"), Outcome::Late);
}

TEST(WindowAggregator, AStoppedStreamClosesItsWindowsAfterTheIdleTimeout) {
  WindowAggregator agg(config(1000, 0, 100));
  agg.add_order(kOrders0, 0, 100, 0, "c1", 5, "EUR");
  agg.add_payment(kPayments0, 0, 150, 0, true, 5, "EUR", "");
  EXPECT_TRUE(agg.close_ready(50).empty());
  // All partitions idle: event time advances from 150 with processing time since the last record (0):
  // at 200 the watermark is 350, the window ends at 1000.
  EXPECT_TRUE(agg.close_ready(200).empty());
  EXPECT_EQ(agg.watermark(), 350);
  agg.add_order(kOrders0, 1, 1000, 300, "c1", 5, "EUR");
  // The payments partition is idle, orders reached 1000: the watermark is 1000, window 0 closes.
  const auto closed = agg.close_ready(350);
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_EQ(closed[0].orders, 1);
  EXPECT_EQ(closed[0].payments_authorized, 1);
  EXPECT_EQ(agg.watermark(), 1000);
  // Then everything idles: 1000 + (2300 - 300) closes window 1000 too.
  const auto last = agg.close_ready(2300);
  ASSERT_EQ(last.size(), 1u);
  EXPECT_EQ(last[0].start_ms, 1000);
  EXPECT_EQ(agg.watermark(), 3000);
}

TEST(WindowAggregator, CommitsOnlyUpToTheOldestRecordOfAnUnpublishedWindow) {
  WindowAggregator agg(config(1000, 0));
  agg.add_order(kOrders0, 10, 100, 0, "c1", 5, "EUR");         // window 0
  agg.add_order(kOrders0, 11, 1100, 0, "c1", 5, "EUR");        // window 1000
  agg.add_payment(kPayments0, 7, 200, 0, true, 5, "EUR", "");  // window 0
  agg.skip(kPayments0, 8, 0);
  EXPECT_EQ(offset_of(agg.committable(), kOrders0), 10);
  EXPECT_EQ(offset_of(agg.committable(), kPayments0), 7);
  // The payments partition is at 200: the watermark min(1100, 200) keeps window 0 open.
  EXPECT_TRUE(agg.close_ready(0).empty());
  EXPECT_EQ(agg.watermark(), 200);
}

TEST(WindowAggregator, AcknowledgedWindowsReleaseTheirOffsets) {
  WindowAggregator agg(config(1000, 0));
  agg.add_order(kOrders0, 10, 100, 0, "c1", 5, "EUR");
  agg.add_order(kOrders0, 11, 1100, 0, "c1", 5, "EUR");
  agg.add_payment(kPayments0, 7, 200, 0, true, 5, "EUR", "");
  agg.add_payment(kPayments0, 8, 2100, 0, true, 5, "EUR", "");
  const auto closed = agg.close_ready(0);  // watermark min(1100, 2100) = 1100: window 0 closes
  ASSERT_EQ(closed.size(), 1u);
  // Closed but not acknowledged: still held.
  EXPECT_EQ(offset_of(agg.committable(), kOrders0), 10);
  EXPECT_EQ(offset_of(agg.committable(), kPayments0), 7);
  agg.acknowledged(0);
  EXPECT_EQ(offset_of(agg.committable(), kOrders0), 11);   // window 1000 still open
  EXPECT_EQ(offset_of(agg.committable(), kPayments0), 8);  // window 2000 still open
  // Late records and skipped ones advance the commit when nothing older is pending.
  WindowAggregator b(config(1000, 0));
  b.add_order(kOrders0, 0, 100, 0, "c1", 5, "EUR");
  b.add_order(kOrders0, 1, 1100, 0, "c1", 5, "EUR");
  ASSERT_EQ(b.close_ready(0).size(), 1u);
  b.acknowledged(0);
  EXPECT_EQ(b.add_order(kOrders1, 5, 50, 0, "c1", 5, "EUR"), Outcome::Late);
  EXPECT_EQ(offset_of(b.committable(), kOrders1), 6);
}

TEST(WindowAggregator, WindowsPublishedByAnEarlierRunAreRecognisedOnReRead) {
  // The first run: windows 0 and 1000 published, 2000 open when it stopped.
  WindowAggregator agg(config(1000, 0));
  agg.seed_published(0);
  agg.seed_published(1000);
  EXPECT_FALSE(agg.watermark().has_value());
  EXPECT_EQ(agg.add_order(kOrders0, 3, 1500, 0, "c1", 5, "EUR"), Outcome::Replayed);
  EXPECT_EQ(agg.add_order(kOrders0, 4, 2500, 0, "c1", 5, "EUR"), Outcome::Counted);
  EXPECT_EQ(agg.add_order(kOrders0, 5, 3500, 0, "c2", 5, "EUR"), Outcome::Counted);
  const auto closed = agg.close_ready(0);
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_EQ(closed[0].start_ms, 2000);
  EXPECT_EQ(closed[0].orders, 1);
  // Replayed records hold no commit: the partition's commit is at the open window's record.
  agg.acknowledged(2000);
  EXPECT_EQ(offset_of(agg.committable(), kOrders0), 5);
  // Even past the watermark a published window stays Replayed, never Late.
  EXPECT_EQ(agg.add_order(kOrders0, 6, 100, 0, "c1", 5, "EUR"), Outcome::Replayed);
}

TEST(WindowAggregator, AWindowStillInFlightAtTheCrashIsRebuiltEvenIfALaterOneWasPublished) {
  // The earlier run closed 0 and 1000; 1000 reached the topic, 0 did not before it died.
  WindowAggregator agg(config(1000, 0));
  agg.seed_published(1000);
  EXPECT_EQ(agg.add_order(kOrders0, 0, 100, 0, "c1", 5, "EUR"), Outcome::Counted);
  EXPECT_EQ(agg.add_order(kOrders0, 1, 1100, 0, "c1", 5, "EUR"), Outcome::Replayed);
  EXPECT_EQ(agg.add_order(kOrders0, 2, 2100, 0, "c1", 5, "EUR"), Outcome::Counted);
  const auto closed = agg.close_ready(0);
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_EQ(closed[0].start_ms, 0);
  EXPECT_EQ(closed[0].orders, 1);
}

TEST(WindowAggregator, ResetDropsOpenWindowsButKeepsTheWatermark) {
  WindowAggregator agg(config(1000, 0));
  agg.add_order(kOrders0, 0, 100, 0, "c1", 5, "EUR");
  agg.add_order(kOrders0, 1, 1100, 0, "c1", 5, "EUR");
  ASSERT_EQ(agg.close_ready(0).size(), 1u);
  agg.reset_open();
  EXPECT_EQ(agg.open_windows(), 0u);
  EXPECT_EQ(agg.pending_windows(), 0u);
  EXPECT_EQ(agg.watermark(), 1100);
  EXPECT_TRUE(agg.committable().empty());
}

TEST(OrderStatsJson, CarriesTheWindowAndParsesBack) {
  orderflow::analytics::WindowStats s;
  s.start_ms = 1764892800000;  // 2025-12-05T00:00:00.000Z
  s.end_ms = s.start_ms + 60000;
  s.orders = 2;
  s.order_amount_cents_by_currency["EUR"] = 300;
  s.payments_declined = 1;
  s.declined_by_reason["AMOUNT_LIMIT_EXCEEDED"] = 1;
  s.customers = {"a", "b"};
  const auto text = orderflow::analytics::to_json(s, 60000);
  const auto j = nlohmann::json::parse(text);
  EXPECT_EQ(j["event_id"], orderflow::analytics::window_id(s.start_ms, 60000));
  EXPECT_EQ(j["event_type"], "OrderStatsWindow");
  EXPECT_EQ(j["schema_version"], 1);
  EXPECT_EQ(j["window_start"], "2025-12-05T00:00:00.000Z");
  EXPECT_EQ(j["window_end"], "2025-12-05T00:01:00.000Z");
  EXPECT_EQ(j["occurred_at"], j["window_end"]);
  EXPECT_EQ(j["orders"], 2);
  EXPECT_EQ(j["order_amount_cents_by_currency"]["EUR"], 300);
  EXPECT_EQ(j["payments_authorized"], 0);
  EXPECT_TRUE(j["authorized_amount_cents_by_currency"].is_object());
  EXPECT_EQ(j["declined_by_reason"]["AMOUNT_LIMIT_EXCEEDED"], 1);
  EXPECT_EQ(j["distinct_customers"], 2);
  const auto back = orderflow::analytics::parse_published(text);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->start_ms, s.start_ms);
  EXPECT_EQ(back->window_ms, 60000);
  EXPECT_FALSE(orderflow::analytics::parse_published("{}").has_value());
  EXPECT_FALSE(orderflow::analytics::parse_published("not json").has_value());
}
