// NotificationMetrics: notification-service's own families on the service registry, with the service label.
#include "orderflow/notification/notification_metrics.h"

#include <gtest/gtest.h>
#include <prometheus/text_serializer.h>

#include <sstream>

#include "orderflow/testing/prometheus_text.h"

namespace {

using orderflow::notification::NotificationMetrics;
using orderflow::runtime::ServiceMetrics;
using orderflow::testing::find_samples;
using orderflow::testing::parse_prometheus_text;
using orderflow::testing::sample_value;

auto scrape(ServiceMetrics& m) {
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, m.registry().Collect());
  return parse_prometheus_text(out.str());
}

TEST(NotificationMetricsTest, EndToEndHistogramByKind) {
  ServiceMetrics service("notification-service");
  NotificationMetrics m(service);
  m.end_to_end_seconds("ORDER_RECEIVED", 0.2);
  m.end_to_end_seconds("ORDER_RECEIVED", 0.3);
  m.end_to_end_seconds("PAYMENT_DECLINED", 1.5);
  const auto s = scrape(service);
  EXPECT_EQ(sample_value(s, "orderflow_end_to_end_latency_seconds_count", {{"kind", "ORDER_RECEIVED"}}), 2.0);
  EXPECT_EQ(sample_value(s, "orderflow_end_to_end_latency_seconds_count", {{"kind", "PAYMENT_DECLINED"}}),
            1.0);
  EXPECT_EQ(
      find_samples(s, "orderflow_end_to_end_latency_seconds_bucket", {{"kind", "ORDER_RECEIVED"}}).size(),
      orderflow::runtime::latency_buckets().size() + 1);
  EXPECT_EQ(sample_value(s, "orderflow_end_to_end_latency_seconds_count",
                         {{"kind", "ORDER_RECEIVED"}, {"service", "notification-service"}}),
            2.0);
}

TEST(NotificationMetricsTest, DedupeCounters) {
  ServiceMetrics service("notification-service");
  NotificationMetrics m(service);
  m.dedupe_hit();
  m.dedupe_hit();
  m.dedupe_evicted();
  const auto s = scrape(service);
  EXPECT_EQ(sample_value(s, "orderflow_dedupe_hits_total", {{"service", "notification-service"}}), 2.0);
  EXPECT_EQ(sample_value(s, "orderflow_dedupe_evictions_total"), 1.0);
}

}  // namespace
