// Offset commits failing (OffsetCommit answered with COORDINATOR_NOT_AVAILABLE / REQUEST_TIMED_OUT,
// many in a row) in an in-process mock cluster: payment-service keeps processing, counts the failures
// on /metrics, and commits later — the group's committed offsets catch up with the topic's end before
// the SIGKILL, so the restart re-processes nothing: zero duplicates. Mock only.
#include <gtest/gtest.h>

#include "fault_fixture.h"
#include "orderflow/events/events.h"
#include "orderflow/testing/mock_cluster.h"
#include "orderflow/testing/wait.h"

namespace orderflow::testing::fault {
namespace {

using namespace std::chrono_literals;

constexpr int16_t kOffsetCommit = 8;  // RD_KAFKAP_OffsetCommit

bool committed_to_end(const Services& svc) {
  const auto hw = high_watermarks(svc.bootstrap, svc.orders, 5s);
  const auto committed = committed_offsets(svc.bootstrap, svc.payment_group, svc.orders, 5s);
  if (hw.empty() || committed.size() != hw.size()) return false;
  for (const auto& [p, high] : hw) {
    const auto c = committed.at(p);
    if (high > 0 && c != high) return false;
  }
  return true;
}

// nullopt when /metrics does not answer or lacks the series: never read as 0.
std::optional<double> failed_commits(int port) {
  return scrape_metric(port, "orderflow_offset_commits_total", {{"result", "failed"}});
}

TEST(CommitFaultTest, FailingCommitsAreRetriedLaterAndNothingIsReprocessedAfterARestart) {
  const auto started = std::chrono::steady_clock::now();
  MockCluster cluster(1, 6);
  Services svc;
  svc.bootstrap = cluster.bootstrap();
  const int port = free_port();
  auto pay = svc.start_payment(port);
  ASSERT_TRUE(wait_ready(port, 60s)) << tail(pay.output());
  TopicReader payments(svc.bootstrap, svc.payments);

  // 1. Baseline: commits work.
  auto p1 = svc.start_producer({"--count", "2000", "--seed", "31"});
  ASSERT_EQ(p1.wait(60s).value_or(-1), 0) << tail(p1.output());
  ASSERT_TRUE(payments.wait_for_count(2000, 60s)) << tail(pay.output());
  ASSERT_TRUE(wait_until([&] { return committed_to_end(svc); }, 30s, 200ms))
      << "baseline commits did not land";
  EXPECT_EQ(failed_commits(port), 0.0);
  const auto window_from = high_watermarks(svc.bootstrap, svc.orders, 10s);  // the failure window starts here

  // 2. OffsetCommit requests fail, several in a row, while 3000 more orders flow. librdkafka retries
  //    a failed commit itself (refreshing the coordinator), so a burst may be absorbed without the
  //    service ever seeing a failure: push bursts until the service reports one (bounded).
  auto p2 = svc.start_producer({"--count", "3000", "--rate", "300", "--seed", "32"});
  int pushed = 0;
  bool seen_failure = false;
  for (int burst = 0; burst < 8 && !seen_failure; ++burst) {
    std::vector<rd_kafka_resp_err_t> errors;
    for (int i = 0; i < 12; ++i) {
      errors.push_back(i % 2 == 0 ? RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE
                                  : RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT);
    }
    // When librdkafka absorbed a whole burst of retriable errors, end the next ones with an error it
    // does not retry, so the service's own failure path is exercised in every run.
    if (burst > 0) errors.push_back(RD_KAFKA_RESP_ERR_OFFSET_METADATA_TOO_LARGE);
    cluster.push_request_errors(kOffsetCommit, errors);
    pushed += static_cast<int>(errors.size());
    seen_failure = wait_until([&] { return failed_commits(port).value_or(0.0) > 0; }, 5s, 200ms);
  }
  ASSERT_TRUE(seen_failure) << "no failed commit on /metrics after " << pushed << " injected errors\n"
                            << tail(pay.output());
  ASSERT_EQ(p2.wait(60s).value_or(-1), 0) << tail(p2.output());
  ASSERT_TRUE(payments.wait_for_count(5000, 60s)) << tail(pay.output());
  const auto window_to = high_watermarks(svc.bootstrap, svc.orders, 10s);  // ... and ends here
  EXPECT_TRUE(pay.running()) << "payment-service exited on commit failures\n" << tail(pay.output());

  // 3. Commits succeed again later: the group's offsets reach the end of `orders`.
  ASSERT_TRUE(wait_until([&] { return committed_to_end(svc); }, 60s, 200ms))
      << "offsets not committed after the failures\n"
      << tail(pay.output());
  const double failed = failed_commits(port).value_or(-1);
  const double ok = scrape_metric(port, "orderflow_offset_commits_total", {{"result", "ok"}}).value_or(-1);
  cluster.clear_request_errors(kOffsetCommit);

  // 4. SIGKILL and restart: nothing before the kill is processed again.
  EXPECT_EQ(kill9(pay), 128 + SIGKILL);
  pay = svc.start_payment(port);
  ASSERT_TRUE(wait_ready(port, 60s)) << tail(pay.output());
  auto p3 = svc.start_producer({"--count", "1000", "--seed", "33"});
  ASSERT_EQ(p3.wait(60s).value_or(-1), 0) << tail(p3.output());

  const auto order_records = read_all(svc.bootstrap, svc.orders, 6000, 60s);
  ASSERT_EQ(order_records.size(), 6000U);
  const auto orders = index_orders(order_records);
  payments.poll_until([&](const std::vector<Record>& r) { return tally_payments(orders, r).lost == 0; }, 60s);
  payments.drain_to_end(30s);
  const auto pt = tally_payments(orders, payments.records());
  EXPECT_EQ(pt.lost, 0U);
  // No re-processing at all: the SIGKILL came after the group's committed offsets had reached the end of
  // `orders` (step 3) and no order arrived between that check and the kill, so the restarted instance
  // starts exactly where the killed one stopped; commit failures only delay commits, they never make
  // the running instance read a record twice. Duplicates are classified by the failure window only to
  // tell where one came from.
  std::size_t in_window = 0;
  std::size_t outside = 0;
  std::map<std::string, std::pair<int32_t, int64_t>> position;
  for (const auto& r : order_records) {
    if (auto o = events::parse_order_created(r.value)) position[o.value().event_id] = {r.partition, r.offset};
  }
  for (const auto& id : pt.duplicated) {
    const auto [partition, offset] = position[id];
    const bool inside = offset >= window_from.at(partition) && offset < window_to.at(partition);
    (inside ? in_window : outside) += 1;
  }
  EXPECT_EQ(pt.duplicates, 0U) << "orders re-processed: " << in_window
                               << " inside the commit-failure window, " << outside << " outside it";
  EXPECT_EQ(pt.unknown, 0U);
  EXPECT_EQ(pay.stop(30s), 0) << tail(pay.output());

  const auto secs =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started);
  summary(
      "commit_failures",
      std::to_string(pushed) + "xOffsetCommit(COORDINATOR_NOT_AVAILABLE,REQUEST_TIMED_OUT) + SIGKILL after",
      order_records.size(), pt.lost, pt.duplicates,
      "dup_in_failure_window=" + std::to_string(in_window) + " commits_failed=" +
          std::to_string(static_cast<long>(failed)) + " commits_ok=" + std::to_string(static_cast<long>(ok)) +
          " duration_s=" + std::to_string(secs.count()));
}

}  // namespace
}  // namespace orderflow::testing::fault
