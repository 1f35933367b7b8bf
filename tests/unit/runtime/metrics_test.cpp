// ServiceMetrics (docs/contract.md §9 Metrics): the contract metric names, the `service` label on every
// family, counters by topic and outcome, histogram buckets 100 µs … 10 s, lag gauges removed when a partition
// is revoked.
#include "orderflow/runtime/metrics.h"

#include <gtest/gtest.h>
#include <prometheus/text_serializer.h>

#include <algorithm>
#include <cmath>
#include <sstream>
#include <string>
#include <vector>

#include "orderflow/testing/prometheus_text.h"
#include "orderflow/version.h"

namespace {

using orderflow::runtime::latency_buckets;
using orderflow::runtime::ServiceMetrics;
using orderflow::testing::find_samples;
using orderflow::testing::Sample;
using orderflow::testing::sample_value;

std::string serialize(ServiceMetrics& m) {
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, m.registry().Collect());
  return out.str();
}

std::vector<Sample> scrape(ServiceMetrics& m) {
  return orderflow::testing::parse_prometheus_text(serialize(m));
}

TEST(LatencyBucketsTest, From100MicrosecondsTo10Seconds) {
  const auto b = latency_buckets();
  ASSERT_GE(b.size(), 10U);
  EXPECT_DOUBLE_EQ(b.front(), 0.0001);
  EXPECT_DOUBLE_EQ(b.back(), 10.0);
  EXPECT_TRUE(std::is_sorted(b.begin(), b.end()));
  EXPECT_EQ(std::adjacent_find(b.begin(), b.end()), b.end()) << "strictly increasing";
  EXPECT_NE(std::find(b.begin(), b.end(), 1.0), b.end());
}

TEST(ServiceMetricsTest, EverySampleCarriesTheServiceLabel) {
  ServiceMetrics m("payment-service");
  m.consumed("orders");
  m.produced("payments");
  m.lag("orders", 0, 5);
  m.processing_seconds(0.01);
  m.commit_result(true);
  const auto samples = scrape(m);
  ASSERT_FALSE(samples.empty());
  for (const auto& s : samples) {
    auto it = s.labels.find("service");
    ASSERT_NE(it, s.labels.end()) << s.name;
    EXPECT_EQ(it->second, "payment-service") << s.name;
  }
  EXPECT_EQ(m.service(), "payment-service");
  EXPECT_EQ(m.registry_ptr().get(), &m.registry());
}

TEST(ServiceMetricsTest, ContractFamiliesArePresentWithTheirTypes) {
  ServiceMetrics m("notification-service");
  // Families keyed by topic/partition/kind have no sample (and so are not exported) until first used.
  m.consumed("orders");
  m.produced("notifications");
  m.lag("orders", 0, 0);
  const auto text = serialize(m);
  for (const char* line :
       {"# TYPE orderflow_messages_consumed_total counter",
        "# TYPE orderflow_messages_produced_total counter", "# TYPE orderflow_events_processed_total counter",
        "# TYPE orderflow_consumer_lag gauge", "# TYPE orderflow_processing_seconds histogram"}) {
    EXPECT_NE(text.find(line), std::string::npos) << line << "\n" << text;
  }
}

TEST(ServiceMetricsTest, ConsumedAndProducedCountByTopic) {
  ServiceMetrics m("notification-service");
  m.consumed("orders");
  m.consumed("orders");
  m.consumed("payments");
  m.consumed("notification-service.retry");
  m.produced("notifications");
  m.produced("notifications");
  m.produced("notification-service.dlq");
  const auto s = scrape(m);
  EXPECT_EQ(sample_value(s, "orderflow_messages_consumed_total", {{"topic", "orders"}}), 2.0);
  EXPECT_EQ(sample_value(s, "orderflow_messages_consumed_total", {{"topic", "payments"}}), 1.0);
  EXPECT_EQ(sample_value(s, "orderflow_messages_consumed_total", {{"topic", "notification-service.retry"}}),
            1.0);
  EXPECT_EQ(sample_value(s, "orderflow_messages_produced_total", {{"topic", "notifications"}}), 2.0);
  EXPECT_EQ(sample_value(s, "orderflow_messages_produced_total", {{"topic", "notification-service.dlq"}}),
            1.0);
  EXPECT_EQ(find_samples(s, "orderflow_messages_consumed_total").size(), 3U);
}

TEST(ServiceMetricsTest, OutcomesArePreCreatedAndCounted) {
  ServiceMetrics m("payment-service");
  auto s = scrape(m);
  for (const char* o : {"success", "declined", "retried", "dead_lettered"}) {
    EXPECT_EQ(sample_value(s, "orderflow_events_processed_total", {{"outcome", o}}), 0.0)
        << o << " must be exported (as 0) before it first happens";
  }
  m.outcome("success");
  m.outcome("success");
  m.outcome("declined");
  m.outcome("retried");
  m.outcome("dead_lettered");
  m.outcome("");  // no outcome: ignored
  s = scrape(m);
  EXPECT_EQ(sample_value(s, "orderflow_events_processed_total", {{"outcome", "success"}}), 2.0);
  EXPECT_EQ(sample_value(s, "orderflow_events_processed_total", {{"outcome", "declined"}}), 1.0);
  EXPECT_EQ(sample_value(s, "orderflow_events_processed_total", {{"outcome", "retried"}}), 1.0);
  EXPECT_EQ(sample_value(s, "orderflow_events_processed_total", {{"outcome", "dead_lettered"}}), 1.0);
  EXPECT_EQ(find_samples(s, "orderflow_events_processed_total").size(), 4U);
}

TEST(ServiceMetricsTest, ProcessingHistogramUsesTheLatencyBuckets) {
  ServiceMetrics m("payment-service");
  m.processing_seconds(0.00005);  // below the first bucket
  m.processing_seconds(0.003);
  m.processing_seconds(20.0);  // above the last bucket
  const auto s = scrape(m);
  const auto buckets = find_samples(s, "orderflow_processing_seconds_bucket");
  ASSERT_EQ(buckets.size(), latency_buckets().size() + 1) << "one per bound plus +Inf";
  auto count_at = [&](double le) -> double {
    for (const auto& b : buckets) {
      const auto& text = b.labels.at("le");
      const double bound = text == "+Inf" ? INFINITY : std::stod(text);
      if (std::isinf(le) || std::isinf(bound)) {
        if (std::isinf(le) && std::isinf(bound)) return b.value;
        continue;
      }
      if (std::fabs(bound - le) <= le * 1e-9) return b.value;
    }
    ADD_FAILURE() << "no bucket le=" << le;
    return -1;
  };
  EXPECT_EQ(count_at(0.0001), 1.0);
  EXPECT_EQ(count_at(0.0025), 1.0);
  EXPECT_EQ(count_at(0.005), 2.0);
  EXPECT_EQ(count_at(10.0), 2.0);
  EXPECT_EQ(count_at(INFINITY), 3.0);
  EXPECT_EQ(sample_value(s, "orderflow_processing_seconds_count"), 3.0);
  const auto sum = sample_value(s, "orderflow_processing_seconds_sum");
  ASSERT_TRUE(sum.has_value());
  EXPECT_NEAR(*sum, 20.00305, 1e-6);
}

TEST(ServiceMetricsTest, LagGaugePerPartitionRemovedOnRevoke) {
  ServiceMetrics m("payment-service");
  m.lag("orders", 0, 10);
  m.lag("orders", 3, 42);
  m.lag("orders", 3, 40);  // updated, not duplicated
  m.lag("payment-service.retry", 3, 7);
  m.lag("orders", 5, -1);  // unknown lag: not exported
  auto s = scrape(m);
  EXPECT_EQ(sample_value(s, "orderflow_consumer_lag", {{"topic", "orders"}, {"partition", "0"}}), 10.0);
  EXPECT_EQ(sample_value(s, "orderflow_consumer_lag", {{"topic", "orders"}, {"partition", "3"}}), 40.0);
  EXPECT_EQ(
      sample_value(s, "orderflow_consumer_lag", {{"topic", "payment-service.retry"}, {"partition", "3"}}),
      7.0);
  EXPECT_TRUE(find_samples(s, "orderflow_consumer_lag", {{"partition", "5"}}).empty());
  EXPECT_EQ(find_samples(s, "orderflow_consumer_lag").size(), 3U);

  m.partition_revoked("orders", 3);
  m.partition_revoked("orders", 9);  // never reported: no-op
  s = scrape(m);
  EXPECT_TRUE(find_samples(s, "orderflow_consumer_lag", {{"topic", "orders"}, {"partition", "3"}}).empty())
      << "a revoked partition's lag must not stay frozen in the scrape";
  EXPECT_EQ(
      sample_value(s, "orderflow_consumer_lag", {{"topic", "payment-service.retry"}, {"partition", "3"}}),
      7.0);
  EXPECT_EQ(find_samples(s, "orderflow_consumer_lag").size(), 2U);

  m.lag("orders", 3, 1);  // re-assigned later: exported again
  s = scrape(m);
  EXPECT_EQ(sample_value(s, "orderflow_consumer_lag", {{"topic", "orders"}, {"partition", "3"}}), 1.0);
}

TEST(ServiceMetricsTest, CommitResults) {
  ServiceMetrics m("payment-service");
  m.commit_result(true);
  m.commit_result(true);
  m.commit_result(false);
  const auto s = scrape(m);
  EXPECT_EQ(sample_value(s, "orderflow_offset_commits_total", {{"result", "ok"}}), 2.0);
  EXPECT_EQ(sample_value(s, "orderflow_offset_commits_total", {{"result", "failed"}}), 1.0);
}

TEST(ServiceMetricsTest, KeyGateOverflowCounterFollowsTheMonotonicTotal) {
  ServiceMetrics m("payment-service");
  m.key_gate(5, 3);
  m.key_gate(6, 3);  // same total: no increment
  auto s = scrape(m);
  EXPECT_EQ(sample_value(s, "orderflow_retry_ordering_keys"), 6.0);
  EXPECT_EQ(sample_value(s, "orderflow_retry_ordering_overflow_total"), 3.0);
  m.key_gate(2, 7);
  s = scrape(m);
  EXPECT_EQ(sample_value(s, "orderflow_retry_ordering_keys"), 2.0);
  EXPECT_EQ(sample_value(s, "orderflow_retry_ordering_overflow_total"), 7.0);
}

TEST(ServiceMetricsTest, RetryPausedGauge) {
  ServiceMetrics m("payment-service");
  m.retry_paused(2);
  const auto s = scrape(m);
  EXPECT_EQ(sample_value(s, "orderflow_retry_paused_partitions"), 2.0);
  // The notification-only families are notification-service's own (NotificationMetrics).
  EXPECT_EQ(serialize(m).find("orderflow_dedupe"), std::string::npos);
  EXPECT_EQ(serialize(m).find("orderflow_end_to_end_latency_seconds"), std::string::npos);
}

TEST(ServiceMetricsTest, BuildInfoCarriesTheVersion) {
  ServiceMetrics m("order-producer");
  const auto s = scrape(m);
  EXPECT_EQ(sample_value(s, "orderflow_build_info", {{"version", ORDERFLOW_VERSION}}), 1.0);
}

TEST(ServiceMetricsTest, ExtraCounterAndGaugeGetTheServiceLabel) {
  ServiceMetrics m("order-producer");
  m.counter("orderflow_orders_generated_total", "orders generated", {{"valid", "true"}}).Increment(4);
  m.gauge("orderflow_unit_gauge", "a gauge").Set(2.5);
  const auto s = scrape(m);
  EXPECT_EQ(
      sample_value(s, "orderflow_orders_generated_total", {{"valid", "true"}, {"service", "order-producer"}}),
      4.0);
  EXPECT_EQ(sample_value(s, "orderflow_unit_gauge", {{"service", "order-producer"}}), 2.5);
}

}  // namespace
