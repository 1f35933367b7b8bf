// The rows analytics-service hands its ClickHouse sink and the dead letters of refused ones, without a
// broker: a published window's order_stats row, and the failure headers of a dead letter.
#include "orderflow/analytics/sink_rows.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "orderflow/analytics/window.h"

using orderflow::analytics::SinkRow;
using orderflow::messaging::Headers;

namespace {

std::string header(const Headers& headers, std::string_view name) {
  for (const auto& [k, v] : headers) {
    if (k == name) return v;
  }
  return "<none>";
}

TEST(SinkRows, APublishedWindowBecomesItsOrderStatsRowVersionedByItsOffset) {
  orderflow::analytics::WindowStats w;
  w.start_ms = 60000;
  w.end_ms = 120000;
  w.orders = 2;
  const auto value = orderflow::analytics::to_json(w, 60000);
  const auto row = orderflow::analytics::window_sink_row(value, {"order-stats", 3}, 42);
  ASSERT_TRUE(row.has_value());
  EXPECT_EQ(row->tp.topic, "order-stats");
  EXPECT_EQ(row->tp.partition, 3);
  EXPECT_EQ(row->offset, 42);
  EXPECT_FALSE(row->holds_offset);  // a window row holds no input offset
  EXPECT_EQ(row->value, value);
  EXPECT_EQ(row->json, *orderflow::analytics::window_row(value, 42));
  EXPECT_FALSE(orderflow::analytics::window_sink_row("{\"not\":\"a window\"}", {"order-stats", 0}, 1));
}

TEST(SinkRows, ADeadLetterCarriesTheFailureHeadersThenTheRecordsOwn) {
  SinkRow row;
  row.tp = {"orders", 2};
  row.offset = 17;
  row.headers = {{"traceparent", "00-abc-def-01"}, {"x-error-class", "stale"}};
  const auto h = orderflow::analytics::dead_letter_headers(row, "Cannot parse", 1234);
  EXPECT_EQ(header(h, "x-original-topic"), "orders");
  EXPECT_EQ(header(h, "x-original-partition"), "2");
  EXPECT_EQ(header(h, "x-original-offset"), "17");
  EXPECT_EQ(header(h, "x-error-class"), "poison");
  EXPECT_EQ(header(h, "x-error-message"), "ClickHouse refused the row: Cannot parse");
  EXPECT_EQ(header(h, "x-failed-service"), "analytics-service");
  EXPECT_EQ(header(h, "x-failed-at"), "1234");
  EXPECT_EQ(header(h, "traceparent"), "00-abc-def-01");
  EXPECT_EQ(h.back().first, "traceparent");  // the record's own x-* headers are replaced, not repeated
}

}  // namespace
