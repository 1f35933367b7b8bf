// A lost produce response (the broker appended the batch, the client never saw the answer and re-sends
// it): the idempotent producer re-sends with the same producer id and sequence numbers, and a real
// broker answers the re-send as a duplicate instead of appending it again. Real Kafka ONLY: the
// librdkafka 2.0.2 mock does not de-duplicate re-sent batches (KAFKA-NOTES), so the case would
// "fail" there for a reason that is not ours.
//
// Simulating the lost response without a proxy: payment-service's producer runs with
// request.timeout.ms=1. librdkafka scans its in-flight requests for timeouts about once a second; any
// ProduceRequest in flight at that moment is declared timed out (its response, when it comes, is
// dropped), the connection is closed and the batch is retried — exactly what an RTT above
// request.timeout.ms does. The test checks that this happened (the producer reports timed-out
// requests) and that `payments` still holds exactly one record per order.
#include <gtest/gtest.h>

#include "fault_fixture.h"
#include "orderflow/testing/wait.h"

namespace orderflow::testing::fault {
namespace {

using namespace std::chrono_literals;

std::size_t count_occurrences(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

TEST(LostResponseTest, ProduceResponsesLostOnARealBrokerDoNotDuplicatePayments) {
  TestBroker broker{6};
  if (!broker.is_real()) {
    GTEST_SKIP() << "real Kafka only: the librdkafka 2.0.2 mock appends a re-sent batch again "
                    "(see KAFKA-NOTES); run the fault_lost_response_test_kafka variant";
  }
  const auto started = std::chrono::steady_clock::now();
  constexpr int kOrders = 20000;
  Pipeline pipe{broker};
  const auto svc = Services::of(pipe);
  const int port = free_port();
  auto pay = svc.start_payment(port, {"-X", "request.timeout.ms=1", "--log-level", "debug"});
  ASSERT_TRUE(wait_ready(port, 60s)) << tail(pay.output());
  auto producer = svc.start_producer({"--count", std::to_string(kOrders), "--rate", "2000", "--seed", "41"});
  ASSERT_EQ(producer.wait(120s).value_or(-1), 0) << tail(producer.output());

  const auto order_records = read_all(svc.bootstrap, svc.orders, kOrders, 60s);
  ASSERT_EQ(order_records.size(), static_cast<std::size_t>(kOrders));
  const auto orders = index_orders(order_records);
  TopicReader payments(svc.bootstrap, svc.payments);
  payments.poll_until([&](const std::vector<Record>& r) { return tally_payments(orders, r).lost == 0; }, 180s);
  payments.drain_to_end(30s);
  const auto pt = tally_payments(orders, payments.records());
  EXPECT_EQ(pay.stop(30s), 0) << tail(pay.output());

  const auto log = pay.output();
  const auto timeouts = count_occurrences(log, "imed out");
  EXPECT_EQ(pt.lost, 0U);
  EXPECT_EQ(pt.duplicates, 0U) << "a re-sent batch was appended twice";
  EXPECT_EQ(pt.unknown, 0U);
  const auto secs = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started);
  if (timeouts == 0) {
    GTEST_SKIP() << "no produce request timed out: the lost-response fault was not injected (no loss and no "
                    "duplicate were checked anyway)";
  }
  summary("lost_response_kafka", "request.timeout.ms=1 (in-flight ProduceRequests timed out, re-sent)", kOrders,
          pt.lost, pt.duplicates,
          "timeout_log_lines=" + std::to_string(timeouts) + " duration_s=" + std::to_string(secs.count()));
}

}  // namespace
}  // namespace orderflow::testing::fault
