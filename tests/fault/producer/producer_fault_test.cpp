// order-producer when the broker never acknowledges: every produce request fails with a retriable error
// (NOT_ENOUGH_REPLICAS, injected into an in-process mock cluster) until the records' message.timeout.ms
// runs out. The producer counts each such record in orderflow_produce_failures_total, reports it in its
// summary line and exits 1; what was acknowledged is exactly what the topic holds.
#include <gtest/gtest.h>

#include <csignal>
#include <regex>

#include "fault_fixture.h"
#include "orderflow/testing/mock_cluster.h"
#include "orderflow/testing/paths.h"
#include "orderflow/testing/wait.h"
#include "pipeline_fixture.h"

namespace orderflow::testing {
namespace {

using namespace std::chrono_literals;

constexpr int16_t kProduce = 0;  // RD_KAFKAP_Produce

struct Summary {
  long sent = -1;
  long delivered = -1;
  long failed = -1;
};

Summary parse_summary(const std::string& output) {
  static const std::regex line(R"(sent=(\d+) delivered=(\d+) failed=(\d+))");
  std::smatch m;
  Summary s;
  if (std::regex_search(output, m, line)) {
    s.sent = std::stol(m[1]);
    s.delivered = std::stol(m[2]);
    s.failed = std::stol(m[3]);
  }
  return s;
}

// Enough errors for every produce request of the test's failing phase (one per request, about ten a
// second with librdkafka's 100 ms retry backoff).
void fail_every_produce(MockCluster& cluster) {
  cluster.push_request_errors(kProduce,
                              std::vector<rd_kafka_resp_err_t>(5000, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS));
}

TEST(ProducerFaultTest, NothingAcknowledgedExitsOneWithEveryRecordCountedFailed) {
  MockCluster cluster(1, 6);
  fail_every_produce(cluster);
  const int port = free_port();
  auto producer =
      Process::start(bin_path("order-producer"), {"--brokers", cluster.bootstrap(), "--metrics-address",
                                                  "127.0.0.1:" + std::to_string(port), "--count", "20",
                                                  "--seed", "5", "-X", "message.timeout.ms=2000"});
  const auto rc = producer.wait(60s);
  ASSERT_TRUE(rc.has_value()) << producer.output();
  EXPECT_EQ(*rc, 1) << producer.output();
  const auto s = parse_summary(producer.output());
  EXPECT_EQ(s.sent, 20) << producer.output();
  EXPECT_EQ(s.delivered, 0) << producer.output();
  EXPECT_EQ(s.failed, 20) << producer.output();
  EXPECT_NE(producer.output().find("not every record was acknowledged by the broker"), std::string::npos)
      << producer.output();
  // The topic holds nothing: the errors were answered instead of writing.
  cluster.clear_request_errors(kProduce);
  TopicReader orders(cluster.bootstrap(), "orders");
  EXPECT_TRUE(orders.drain_to_end(30s));
  EXPECT_EQ(orders.records().size(), 0U);
}

TEST(ProducerFaultTest, FailuresAreCountedWhileRunningAndDeliveriesResumeAfterTheFault) {
  MockCluster cluster(1, 6);
  const int port = free_port();
  auto producer = Process::start(
      bin_path("order-producer"),
      {"--brokers", cluster.bootstrap(), "--metrics-address", "127.0.0.1:" + std::to_string(port), "--count",
       "0", "--rate", "50", "--seed", "6", "-X", "message.timeout.ms=2000"});
  auto scrape = [&](const char* name) -> std::optional<double> {
    const auto [status, body] = http_get(port, "/metrics");
    if (status != 200 || body.find(name) == std::string::npos) return std::nullopt;
    return metric_value(body, name);
  };
  // Healthy first: records are acknowledged.
  ASSERT_TRUE(wait_until(
      [&] {
        const auto v = scrape("orderflow_messages_produced_total");
        return v && *v >= 20;
      },
      30s, 100ms))
      << producer.output();
  const auto failures_before = scrape("orderflow_produce_failures_total");
  ASSERT_TRUE(failures_before.has_value()) << "orderflow_produce_failures_total is not exported";
  EXPECT_EQ(*failures_before, 0);

  // The fault: nothing is acknowledged; records time out after 2 s and are counted.
  fail_every_produce(cluster);
  const auto produced_at_fault = scrape("orderflow_messages_produced_total");
  ASSERT_TRUE(produced_at_fault.has_value());
  std::optional<double> failures;
  EXPECT_TRUE(wait_until(
      [&] {
        failures = scrape("orderflow_produce_failures_total");
        return failures && *failures >= 20;
      },
      30s, 100ms))
      << producer.output();
  // Nothing new was acknowledged meanwhile (records already in flight at the fault may still have been).
  const auto produced_in_fault = scrape("orderflow_messages_produced_total");
  ASSERT_TRUE(produced_in_fault.has_value());
  EXPECT_LE(*produced_in_fault - *produced_at_fault, 5) << "the injected errors did not stop deliveries";

  // The fault ends: deliveries resume.
  cluster.clear_request_errors(kProduce);
  EXPECT_TRUE(wait_until(
      [&] {
        const auto v = scrape("orderflow_messages_produced_total");
        return v && *v >= *produced_in_fault + 20;
      },
      30s, 100ms))
      << producer.output();
  const auto failures_seen = scrape("orderflow_produce_failures_total");
  ASSERT_TRUE(failures_seen.has_value());

  producer.signal(SIGTERM);
  const auto rc = producer.wait(30s);
  ASSERT_TRUE(rc.has_value()) << producer.output();
  EXPECT_EQ(*rc, 1) << "records failed, so the run did not succeed\n" << producer.output();
  const auto s = parse_summary(producer.output());
  ASSERT_GT(s.sent, 0) << producer.output();
  EXPECT_EQ(s.delivered + s.failed, s.sent) << producer.output();
  EXPECT_GE(s.failed, static_cast<long>(*failures_seen)) << producer.output();
  // Exactly the acknowledged records are in the topic: none lost, none of the failed ones written.
  TopicReader orders(cluster.bootstrap(), "orders");
  EXPECT_TRUE(orders.drain_to_end(30s));
  EXPECT_EQ(static_cast<long>(orders.records().size()), s.delivered);
}

}  // namespace
}  // namespace orderflow::testing
