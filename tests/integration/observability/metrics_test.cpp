// /metrics of all three binaries against what actually landed in the topics, while ~2,000 orders
// flow: every contract counter must equal the records in its topic exactly; every scrape must pass
// `promtool check metrics`; and a real Prometheus server scraping the services must agree.
#include <gtest/gtest.h>

#include <csignal>

#include "observability_support.h"
#include "orderflow/testing/gtest_require.h"
#include "orderflow/testing/paths.h"
#include "orderflow/testing/wait.h"
#include "pipeline_fixture.h"

namespace orderflow::testing {
namespace {

using namespace std::chrono_literals;

std::string scrape(int port) {
  auto [status, body] = http_get(port, "/metrics");
  return status == 200 ? body : std::string();
}

void expect_lint_clean(const std::string& what, const std::string& text) {
  ORDERFLOW_REQUIRE_TOOL(promtool, "promtool", "prometheus");
  ASSERT_FALSE(text.empty()) << what << ": empty scrape";
  const auto [rc, out] = promtool_check_metrics(*promtool, text);
  EXPECT_EQ(rc, 0) << what << ": promtool check metrics failed:\n" << out;
  EXPECT_EQ(out.find("error"), std::string::npos) << what << ":\n" << out;
}

// Reads a topic to its end and returns its records.
std::vector<Record> read_all(const std::string& bootstrap, const std::string& topic) {
  TopicReader r(bootstrap, topic);
  EXPECT_TRUE(r.drain_to_end(30s)) << topic;
  return r.records();
}

double m(const std::string& text, const std::string& name,
         const std::map<std::string, std::string>& labels = {}) {
  return metric_value(text, name, labels);
}

class MetricsTest : public ::testing::Test {
 protected:
  TestBroker broker{6};
  Pipeline pipe{broker};
};

TEST_F(MetricsTest, CountersEqualWhatLandedInTheTopicsAndPassPromtool) {
  const int pay_port = free_port();
  const int note_port = free_port();
  const int prod_port = free_port();
  // A few transient gateway failures so that `retried` and the retry topic are exercised too.
  auto pay = pipe.start_payment(pay_port, {"--gateway-failure-rate", "0.02", "--retry-backoff-ms", "100"});
  auto note = pipe.start_notification(note_port);
  ASSERT_TRUE(wait_ready(pay_port, 60s)) << pay.output();
  ASSERT_TRUE(wait_ready(note_port, 60s)) << note.output();

  // Unbounded and paced, so that it is still running (and serving /metrics) when scraped; stopped
  // with SIGTERM after 2,000 acknowledged records, which must still end in a clean summary.
  auto producer = Process::start(
      bin_path("order-producer"),
      {"--brokers", broker.bootstrap(), "--topic", pipe.orders, "--count", "0", "--rate", "500", "--seed",
       "31", "--invalid-ratio", "0.01", "--metrics-address", "127.0.0.1:" + std::to_string(prod_port)});
  std::string prod_text;
  ASSERT_TRUE(wait_until(
      [&] {
        prod_text = scrape(prod_port);
        return m(prod_text, "orderflow_messages_produced_total", {{"topic", pipe.orders}}) >= 2000;
      },
      60s, 50ms))
      << producer.output();
  // Mid-flow scrapes of all three: lint, and the producer's counter never ahead of the topic.
  const double prod_mid = m(prod_text, "orderflow_messages_produced_total", {{"topic", pipe.orders}});
  const auto pay_mid = scrape(pay_port);
  const auto note_mid = scrape(note_port);
  {
    TopicReader orders_now(broker.bootstrap(), pipe.orders);
    ASSERT_TRUE(orders_now.drain_to_end(30s));
    EXPECT_LE(prod_mid, static_cast<double>(orders_now.records().size()))
        << "acknowledged records must already be in the topic";
  }
  expect_lint_clean("order-producer /metrics", prod_text);
  expect_lint_clean("payment-service /metrics (mid-flow)", pay_mid);
  expect_lint_clean("notification-service /metrics (mid-flow)", note_mid);
  EXPECT_EQ(m(prod_text, "orderflow_build_info"), 1.0);

  producer.signal(SIGTERM);
  const auto prc = producer.wait(60s);
  ASSERT_TRUE(prc.has_value()) << producer.output();
  EXPECT_EQ(*prc, 0) << producer.output();
  const auto summary = parse_summary(producer.output());
  ASSERT_FALSE(summary.empty()) << producer.output();
  EXPECT_EQ(summary.at("failed"), 0);
  EXPECT_EQ(summary.at("sent"), summary.at("delivered"));
  EXPECT_GE(static_cast<double>(summary.at("delivered")), prod_mid);

  const auto order_records = read_all(broker.bootstrap(), pipe.orders);
  const auto orders = index_orders(order_records);
  const std::size_t n = order_records.size();
  const std::size_t valid = orders.valid_by_event_id.size();
  const std::size_t invalid = orders.invalid.size();
  // The summary's `delivered` is counted in the same delivery callback as produced{orders}: the
  // producer's final counter value, which cannot be scraped once it has exited.
  EXPECT_EQ(static_cast<long long>(n), summary.at("delivered"));
  EXPECT_GE(n, 2000U);
  EXPECT_GT(invalid, 0U);

  // Wait until both services have finished: every order has a payment or a dead letter, every
  // valid order and payment a notification.
  TopicReader payments(broker.bootstrap(), pipe.payments);
  TopicReader pdlq(broker.bootstrap(), pipe.payment_dlq());
  TopicReader notes(broker.bootstrap(), pipe.notifications);
  TopicReader ndlq(broker.bootstrap(), pipe.notification_dlq());
  ASSERT_TRUE(wait_until(
      [&] {
        payments.poll_until([](const auto&) { return false; }, 50ms);
        pdlq.poll_until([](const auto&) { return false; }, 50ms);
        notes.poll_until([](const auto&) { return false; }, 50ms);
        ndlq.poll_until([](const auto&) { return false; }, 50ms);
        return payments.records().size() + pdlq.records().size() == n &&
               notes.records().size() == valid + payments.records().size() &&
               ndlq.records().size() == invalid;
      },
      180s, 100ms))
      << "payments=" << payments.records().size() << " pdlq=" << pdlq.records().size()
      << " notifications=" << notes.records().size() << " ndlq=" << ndlq.records().size() << " orders=" << n;
  ASSERT_TRUE(payments.drain_to_end(30s));
  ASSERT_TRUE(pdlq.drain_to_end(30s));
  ASSERT_TRUE(notes.drain_to_end(30s));
  ASSERT_TRUE(ndlq.drain_to_end(30s));
  const auto retries = read_all(broker.bootstrap(), pipe.payment_retry());
  const auto nretries = read_all(broker.bootstrap(), pipe.notification_retry());
  const double n_pay = static_cast<double>(payments.records().size());
  const double n_pdlq = static_cast<double>(pdlq.records().size());
  const double n_notes = static_cast<double>(notes.records().size());
  const double n_ndlq = static_cast<double>(ndlq.records().size());
  const double n_retry = static_cast<double>(retries.size());
  double declined = 0;
  for (const auto& r : payments.records()) {
    auto p = events::parse_payment_processed(r.value);
    ASSERT_TRUE(p.has_value()) << r.value;
    if (p.value().status == events::PaymentStatus::Declined) ++declined;
  }
  EXPECT_GT(n_retry, 0.0) << "the gateway failure rate should have produced retries";
  EXPECT_TRUE(nretries.empty());

  // Counters are incremented on delivery reports and completions, a moment after the records land.
  std::string pay_text;
  std::string note_text;
  const auto settled = [&] {
    pay_text = scrape(pay_port);
    note_text = scrape(note_port);
    const double pay_done = m(pay_text, "orderflow_events_processed_total");
    const double pay_in = m(pay_text, "orderflow_messages_consumed_total");
    const double note_done = m(note_text, "orderflow_events_processed_total");
    const double note_in = m(note_text, "orderflow_messages_consumed_total");
    return pay_in == static_cast<double>(n) + n_retry && pay_done == pay_in &&
           note_in == static_cast<double>(n) + n_pay && note_done == note_in;
  };
  EXPECT_TRUE(wait_until(settled, 30s, 200ms)) << "payment-service:\n"
                                               << pay_text << "\nnotification-service:\n"
                                               << note_text;

  // payment-service
  EXPECT_EQ(m(pay_text, "orderflow_messages_consumed_total", {{"topic", pipe.orders}}),
            static_cast<double>(n));
  EXPECT_EQ(m(pay_text, "orderflow_messages_consumed_total", {{"topic", pipe.payment_retry()}}), n_retry);
  EXPECT_EQ(m(pay_text, "orderflow_messages_produced_total", {{"topic", pipe.payments}}), n_pay);
  EXPECT_EQ(m(pay_text, "orderflow_messages_produced_total", {{"topic", pipe.payment_dlq()}}), n_pdlq);
  EXPECT_EQ(m(pay_text, "orderflow_messages_produced_total", {{"topic", pipe.payment_retry()}}), n_retry);
  EXPECT_EQ(m(pay_text, "orderflow_messages_produced_total"), n_pay + n_pdlq + n_retry);
  EXPECT_EQ(m(pay_text, "orderflow_events_processed_total", {{"outcome", "success"}}), n_pay - declined);
  EXPECT_EQ(m(pay_text, "orderflow_events_processed_total", {{"outcome", "declined"}}), declined);
  EXPECT_EQ(m(pay_text, "orderflow_events_processed_total", {{"outcome", "retried"}}), n_retry);
  EXPECT_EQ(m(pay_text, "orderflow_events_processed_total", {{"outcome", "dead_lettered"}}), n_pdlq);
  EXPECT_EQ(m(pay_text, "orderflow_events_processed_total"), static_cast<double>(n) + n_retry);
  EXPECT_EQ(m(pay_text, "orderflow_processing_seconds_count"), static_cast<double>(n) + n_retry);
  EXPECT_EQ(m(pay_text, "orderflow_messages_consumed_total", {{"service", "payment-service"}}),
            static_cast<double>(n) + n_retry);

  // notification-service
  EXPECT_EQ(m(note_text, "orderflow_messages_consumed_total", {{"topic", pipe.orders}}),
            static_cast<double>(n));
  EXPECT_EQ(m(note_text, "orderflow_messages_consumed_total", {{"topic", pipe.payments}}), n_pay);
  EXPECT_EQ(m(note_text, "orderflow_messages_produced_total", {{"topic", pipe.notifications}}), n_notes);
  EXPECT_EQ(m(note_text, "orderflow_messages_produced_total", {{"topic", pipe.notification_dlq()}}), n_ndlq);
  EXPECT_EQ(m(note_text, "orderflow_messages_produced_total"), n_notes + n_ndlq);
  EXPECT_EQ(m(note_text, "orderflow_events_processed_total", {{"outcome", "success"}}), n_notes);
  EXPECT_EQ(m(note_text, "orderflow_events_processed_total", {{"outcome", "dead_lettered"}}), n_ndlq);
  EXPECT_EQ(find_metric(note_text, "orderflow_events_processed_total", {{"outcome", "retried"}}), 0.0);
  EXPECT_EQ(m(note_text, "orderflow_events_processed_total"), static_cast<double>(n) + n_pay);
  EXPECT_EQ(m(note_text, "orderflow_end_to_end_latency_seconds_count"), n_notes);

  // Lag gauges: topic + partition labels only, and drained to 0 once everything is consumed.
  EXPECT_TRUE(wait_until(
      [&] {
        pay_text = scrape(pay_port);
        return find_metric(pay_text, "orderflow_consumer_lag", {{"topic", pipe.orders}}) == 0.0 &&
               pay_text.find("orderflow_consumer_lag{") != std::string::npos;
      },
      20s, 200ms))
      << pay_text;

  expect_lint_clean("payment-service /metrics (final)", pay_text);
  expect_lint_clean("notification-service /metrics (final)", note_text);

  EXPECT_EQ(pay.stop(30s), 0) << pay.output();
  EXPECT_EQ(note.stop(30s), 0) << note.output();
}

// A real Prometheus scrapes all three services while orders flow; once the flow has ended,
// sum(orderflow_events_processed_total) in Prometheus equals what the topics say was processed
// (payment-service: every order; notification-service: every order and every payment).
TEST_F(MetricsTest, PrometheusServerSeesTheSameTotals) {
  ORDERFLOW_REQUIRE_TOOL(prometheus, "prometheus", "prometheus");
  const int pay_port = free_port();
  const int note_port = free_port();
  const int prod_port = free_port();
  auto pay = pipe.start_payment(pay_port);
  auto note = pipe.start_notification(note_port);
  ASSERT_TRUE(wait_ready(pay_port, 60s)) << pay.output();
  ASSERT_TRUE(wait_ready(note_port, 60s)) << note.output();
  // Unbounded and paced, so that Prometheus can scrape it too; stopped once all three were scraped.
  auto producer = Process::start(
      bin_path("order-producer"),
      {"--brokers", broker.bootstrap(), "--topic", pipe.orders, "--count", "0", "--rate", "200", "--seed",
       "32", "--invalid-ratio", "0.02", "--metrics-address", "127.0.0.1:" + std::to_string(prod_port)});
  ASSERT_TRUE(wait_ready(prod_port, 60s)) << producer.output();

  PrometheusServer server(*prometheus, {prod_port, pay_port, note_port});
  // Two scrapes of each of the three targets, all up at once.
  ASSERT_TRUE(wait_until(
      [&] {
        return server.query("min(count_over_time(up{job=\"orderflow\"}[5m]))").value_or(0) >= 2 &&
               server.query("count(up{job=\"orderflow\"} == 1)").value_or(0) == 3;
      },
      60s, 250ms))
      << server.output();
  const auto scraped_produced =
      server.query("max_over_time(orderflow_messages_produced_total{service=\"order-producer\"}[5m])");
  producer.signal(SIGTERM);
  const auto prc = producer.wait(60s);
  ASSERT_TRUE(prc.has_value()) << producer.output();
  ASSERT_EQ(*prc, 0) << producer.output();

  // What the topics say: n orders, every one paid or dead-lettered, no retries.
  const auto order_records = read_all(broker.bootstrap(), pipe.orders);
  const auto n = static_cast<double>(order_records.size());
  ASSERT_GT(n, 0);
  ASSERT_TRUE(scraped_produced.has_value()) << server.output();
  EXPECT_GT(*scraped_produced, 0.0);
  EXPECT_LE(*scraped_produced, n) << "order-producer's scraped counter is ahead of the topic";
  TopicReader payments(broker.bootstrap(), pipe.payments);
  TopicReader pdlq(broker.bootstrap(), pipe.payment_dlq());
  ASSERT_TRUE(wait_until(
      [&] {
        payments.poll_until([](const auto&) { return false; }, 50ms);
        pdlq.poll_until([](const auto&) { return false; }, 50ms);
        return static_cast<double>(payments.records().size() + pdlq.records().size()) == n;
      },
      120s, 100ms));
  const auto n_pay = static_cast<double>(payments.records().size());
  EXPECT_TRUE(read_all(broker.bootstrap(), pipe.payment_retry()).empty());
  const double expected = n + (n + n_pay);

  // Prometheus catches up with the services' final counters within a few scrapes.
  std::optional<double> total;
  EXPECT_TRUE(wait_until(
      [&] {
        total = server.query("sum(orderflow_events_processed_total)");
        return total == std::optional<double>(expected);
      },
      60s, 250ms))
      << "prometheus: " << total.value_or(-1) << ", topics: " << expected << "\n"
      << server.output();
  EXPECT_EQ(server.query("sum(orderflow_messages_consumed_total{service=\"payment-service\",topic=\"" +
                         pipe.orders + "\"})"),
            std::optional<double>(n));
  EXPECT_EQ(pay.stop(30s), 0) << pay.output();
  EXPECT_EQ(note.stop(30s), 0) << note.output();
}

}  // namespace
}  // namespace orderflow::testing
