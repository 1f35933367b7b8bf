// `dlq-tool replay` SIGKILLed midway and run again on the in-process mock cluster, with its default
// transactions and with --no-transactions: nothing is lost, the second run sends exactly what was not
// committed (committed offsets read from the broker after the kill, by this test, not from the tool), and
// the copies are the first run's uncommitted tail: at most two rounds. With transactions that bound is the
// mock's, not the tool's: librdkafka 2.0.2's mock writes no transaction markers, so the killed run's open
// round stays visible to read_committed readers, and it keeps no offsets sent in a transaction, so replay
// commits its progress directly after each round there. On real Kafka the same kill leaves no copy at all
// (dlq_eos_test). The rounds of 1,000 are slowed by a 20 ms round trip so that the kill lands between
// rounds or inside one.
#include <gtest/gtest.h>

#include <csignal>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "orderflow/messaging/topic_admin.h"
#include "orderflow/testing/mock_cluster.h"
#include "orderflow/testing/paths.h"
#include "orderflow/testing/process.h"
#include "orderflow/testing/produce.h"
#include "orderflow/testing/topic_reader.h"
#include "orderflow/testing/wait.h"

namespace orderflow::testing {
namespace {

using namespace std::chrono_literals;

// The committed offsets of `group` on every partition of `topic`, summed (the group is not joined).
std::int64_t committed_total(const std::string& bootstrap, const std::string& group, const std::string& topic,
                             int partitions) {
  messaging::KafkaProperties props;
  props.set("bootstrap.servers", bootstrap);
  messaging::TopicAdmin admin(props);
  std::string error;
  const auto offsets = admin.committed_offsets(group, {{topic, partitions}}, 10s, &error);
  if (!offsets) throw std::runtime_error("committed offsets of " + group + ": " + error);
  std::int64_t total = 0;
  for (const auto& [tp, offset] : *offsets) total += offset;
  return total;
}

// A mock cluster (one broker, six partitions) whose dead-letter topic holds `count` records (values r-0,
// r-1, …; keys cycling over `keys` customers), an empty target topic, and the `dlq-tool replay` arguments
// of a fresh group.
struct ReplaySetup {
  MockCluster cluster{1, 6};
  const std::string dlq = "payment-service.dlq";
  const std::string target = "replay-target";
  std::string group;
  std::vector<std::string> args;

  ReplaySetup(int count, int keys, const std::string& group_prefix, bool transactions = true)
      : group(group_prefix + random_hex(8)) {
    cluster.create_topic(target, 6);
    std::vector<std::pair<std::optional<std::string>, std::string>> records;
    for (int i = 0; i < count; ++i)
      records.emplace_back("c-" + std::to_string(i % keys), "r-" + std::to_string(i));
    produce(cluster.bootstrap(), dlq, records,
            {{"x-original-topic", "orders"}, {"x-error-class", "exhausted"}});
    args = {"replay",    "--topic",           dlq,           "--to", target, "--replay-group", group,
            "--brokers", cluster.bootstrap(), "--timeout-s", "30"};
    if (!transactions) args.emplace_back("--no-transactions");
  }

  // One `dlq-tool replay` run with these arguments.
  [[nodiscard]] Process replay() const { return Process::start(bin_path("dlq-tool"), args); }
  // Slows every round by a 20 ms round trip (so that a signal lands between rounds or inside one), or not.
  void slow_rounds(bool slow) { cluster.set_rtt(1, slow ? 20 : 0); }
  [[nodiscard]] std::int64_t committed() const { return committed_total(cluster.bootstrap(), group, dlq, 6); }
};

// How many times each value stands in the target.
std::map<std::string, int> copies_of(const TopicReader& reader) {
  std::map<std::string, int> copies;
  for (const auto& r : reader.records()) ++copies[r.value];
  return copies;
}

class DlqReplayKillTest : public ::testing::TestWithParam<bool> {};  // transactions on?

TEST_P(DlqReplayKillTest, KilledMidwayAndRunAgainLosesNothingAndCopiesOnlyTheUncommittedTail) {
  constexpr int kRecords = 30000;
  ReplaySetup setup(kRecords, 500, "dlq-kill-", GetParam());
  setup.slow_rounds(true);
  auto first = setup.replay();
  TopicReader reader(setup.cluster.bootstrap(), setup.target);
  // Not a multiple of the round size: the kill lands right after a round reached the target, often
  // before its commit did.
  ASSERT_TRUE(reader.wait_for_count(kRecords / 3 + 500, 60s)) << first.output();
  ASSERT_TRUE(first.running()) << "the replay finished before the kill: nothing was tested\n"
                               << first.output();
  first.signal(SIGKILL);
  ASSERT_EQ(first.wait(10s).value_or(-1), 128 + SIGKILL);

  setup.slow_rounds(false);
  const auto committed = setup.committed();
  ASSERT_TRUE(reader.drain_to_end(30s));
  const auto written = static_cast<std::int64_t>(reader.records().size());
  EXPECT_GT(committed, 0) << "no round was committed before the kill";
  EXPECT_LT(committed, kRecords);
  EXPECT_GE(written, committed) << "committed records that are not in the target";

  auto second = setup.replay();
  const auto rc = second.wait(120s);
  ASSERT_TRUE(rc.has_value()) << second.output();
  EXPECT_EQ(*rc, 0) << second.output();
  // The second run sends exactly what the first had not committed.
  EXPECT_NE(second.output().find("replayed=" + std::to_string(kRecords - committed)), std::string::npos)
      << "committed before the kill: " << committed << "\n"
      << second.output();

  ASSERT_TRUE(reader.wait_for_count(static_cast<std::size_t>(written + kRecords - committed), 60s));
  ASSERT_TRUE(reader.drain_to_end(30s));
  const auto copies = copies_of(reader);
  int lost = 0;
  int twice = 0;
  for (int i = 0; i < kRecords; ++i) {
    const auto it = copies.find("r-" + std::to_string(i));
    if (it == copies.end()) {
      ++lost;
    } else if (it->second > 1) {
      twice += it->second - 1;
      EXPECT_LE(it->second, 2) << "r-" << i;
    }
  }
  EXPECT_EQ(lost, 0);
  EXPECT_EQ(copies.size(), static_cast<std::size_t>(kRecords))
      << "records in the target that were not replayed";
  // The copies are the first run's uncommitted tail: at least what was seen in the target beyond the
  // committed offsets right after the kill (a request already on the wire may still land after that read),
  // and at most two rounds of 1,000 (the one in flight and the previous one's commit).
  EXPECT_GE(twice, written - committed);
  EXPECT_LE(twice, 2000);
  std::cout << "DLQ-REPLAY-KILL transactions=" << (GetParam() ? "on" : "off") << " records=" << kRecords
            << " committed_at_kill=" << committed << " written_at_kill=" << written << " copies=" << twice
            << " lost=" << lost << "\n";
  // A third run has nothing left to send.
  auto third = setup.replay();
  ASSERT_EQ(third.wait(60s).value_or(-1), 0) << third.output();
  EXPECT_NE(third.output().find("replayed=0"), std::string::npos) << third.output();
}

// SIGTERM is not a kill: replay stops reading, finishes the round in flight (its transaction, or its
// acknowledgements and commit), prints the summary marked interrupted and exits 130. Everything it wrote
// is committed, so the next run sends exactly the rest and nothing is copied, even on the mock.
TEST_P(DlqReplayKillTest, InterruptedFinishesTheRoundInFlightAndExits130) {
  constexpr int kRecords = 20000;
  ReplaySetup setup(kRecords, 500, "dlq-term-", GetParam());
  setup.slow_rounds(true);
  auto first = setup.replay();
  TopicReader reader(setup.cluster.bootstrap(), setup.target);
  ASSERT_TRUE(reader.wait_for_count(kRecords / 4 + 300, 60s)) << first.output();
  ASSERT_TRUE(first.running()) << "the replay finished before the signal\n" << first.output();
  first.signal(SIGTERM);
  ASSERT_EQ(first.wait(60s).value_or(-1), 130) << first.output();
  EXPECT_NE(first.output().find("interrupted=true"), std::string::npos) << first.output();

  setup.slow_rounds(false);
  const auto committed = setup.committed();
  ASSERT_TRUE(reader.drain_to_end(30s));
  EXPECT_GT(committed, kRecords / 4);
  EXPECT_LT(committed, kRecords);
  EXPECT_EQ(static_cast<std::int64_t>(reader.records().size()), committed)
      << "written and not committed at the signal";
  EXPECT_NE(first.output().find("replayed=" + std::to_string(committed) + " "), std::string::npos)
      << first.output();

  auto second = setup.replay();
  ASSERT_EQ(second.wait(60s).value_or(-1), 0) << second.output();
  EXPECT_NE(second.output().find("replayed=" + std::to_string(kRecords - committed) + " "), std::string::npos)
      << second.output();
  ASSERT_TRUE(reader.wait_for_count(kRecords, 30s));
  ASSERT_TRUE(reader.drain_to_end(30s));
  EXPECT_EQ(copies_of(reader).size(), static_cast<std::size_t>(kRecords));
  EXPECT_EQ(reader.records().size(), static_cast<std::size_t>(kRecords)) << "copies after a SIGTERM";
}

// A record the broker refuses in a transactional round aborts the whole round: the run exits 1 with one
// line saying so and counts the round's records as failed, and the group consumes nothing of it, so the
// next run replays all of them. (That the aborted records are invisible to read_committed readers is for
// real Kafka to show: the mock writes no markers.)
TEST(DlqReplayAbortTest, ARecordTheBrokerRefusesAbortsTheRoundAndNothingOfItIsConsumed) {
  constexpr int kRecords = 60;
  ReplaySetup setup(kRecords, kRecords, "dlq-abort-");
  // Not retriable: librdkafka fails the record at once, which leaves the transaction abortable.
  setup.cluster.push_request_errors(
      0 /* Produce */, std::vector<rd_kafka_resp_err_t>(50, RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED));
  auto first = setup.replay();
  ASSERT_EQ(first.wait(60s).value_or(-1), 1) << first.output();
  setup.cluster.clear_request_errors(0);
  EXPECT_NE(
      first.output().find("replayed=0 skipped=0 topic=" + setup.dlq + " failed=" + std::to_string(kRecords)),
      std::string::npos)
      << first.output();
  std::size_t tool_lines = 0;
  for (std::size_t at = first.output().find("dlq-tool: "); at != std::string::npos;
       at = first.output().find("dlq-tool: ", at + 1)) {
    ++tool_lines;
  }
  EXPECT_EQ(tool_lines, 1U) << first.output();
  EXPECT_NE(first.output().find("dlq-tool: transaction aborted"), std::string::npos) << first.output();
  EXPECT_EQ(setup.committed(), 0) << "the aborted round was consumed";

  auto second = setup.replay();
  ASSERT_EQ(second.wait(60s).value_or(-1), 0) << second.output();
  EXPECT_NE(second.output().find("replayed=" + std::to_string(kRecords) + " "), std::string::npos)
      << second.output();
}

INSTANTIATE_TEST_SUITE_P(Modes, DlqReplayKillTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& param) {
                           return param.param ? "Transactions" : "NoTransactions";
                         });

}  // namespace
}  // namespace orderflow::testing
