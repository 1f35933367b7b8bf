// `dlq-tool replay` is exactly once for read_committed readers — on the real Kafka broker only: the
// librdkafka 2.0.2 mock writes no transaction markers, so there a killed replay can copy up to two rounds
// (dlq_kill_test). Several thousand dead letters; the replay is SIGKILLed inside a transaction at the
// fault tests' kill points (FAULT-SEED / FAULT-KILL-POINTS) and run again, three times, then run to the
// end. Each kill is proven to land inside a transaction: the tool is stopped (SIGSTOP) and the target's
// last stable offset is read below its high watermark, i.e. records it produced are not committed;
// otherwise it is resumed and stopped again a little later. Then a read_committed reader of the target
// sees every dead letter exactly once, and a read_uncommitted one sees the aborted copies as well.
// Second test: a replay fenced by a newer run of the same replay group (the same transactional.id)
// exits 1 with one error line, and still nothing is duplicated.
// The replays run with -X batch.num.messages=1 (one record per produce request, one request in flight),
// so that a round of 1,000 records lasts long enough to be stopped inside it.
#include <gtest/gtest.h>
#include <librdkafka/rdkafkacpp.h>

#include <csignal>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "fault_fixture.h"
#include "orderflow/messaging/topic_admin.h"
#include "orderflow/testing/paths.h"
#include "orderflow/testing/process.h"
#include "orderflow/testing/produce.h"
#include "orderflow/testing/test_broker.h"
#include "orderflow/testing/topic_reader.h"

namespace orderflow::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using Offsets = std::map<std::int32_t, std::int64_t>;

constexpr int kPartitions = 6;

// The end offset of every partition of `topic` as a reader at that isolation level sees it: the high
// watermark (read_uncommitted) or the last stable offset (read_committed), which stays below the high
// watermark while a transaction with records in the partition is open. librdkafka's ListOffsets carries
// the consumer's isolation level.
Offsets end_offsets(const std::string& bootstrap, const std::string& topic, bool read_committed) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string err;
  for (const auto& [k, v] : std::map<std::string, std::string>{
           {"bootstrap.servers", bootstrap},
           {"group.id", "dlq-eos-probe-" + random_hex()},
           {"isolation.level", read_committed ? "read_committed" : "read_uncommitted"},
           {"log_level", "3"}}) {
    if (conf->set(k, v, err) != RdKafka::Conf::CONF_OK) throw std::runtime_error(k + ": " + err);
  }
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(RdKafka::KafkaConsumer::create(conf.get(), err));
  if (!consumer) throw std::runtime_error("probe consumer: " + err);
  Offsets out;
  for (int p = 0; p < kPartitions; ++p) {
    std::int64_t lo = 0;
    std::int64_t hi = 0;
    const auto rc = consumer->query_watermark_offsets(topic, p, &lo, &hi, 10000);
    if (rc != RdKafka::ERR_NO_ERROR) {
      throw std::runtime_error("end offsets of " + topic + ": " + RdKafka::err2str(rc));
    }
    out[p] = hi;
  }
  consumer->close();
  return out;
}

std::int64_t sum(const Offsets& offsets) {
  std::int64_t total = 0;
  for (const auto& [p, o] : offsets) total += o;
  return total;
}

std::int64_t committed_total(const std::string& bootstrap, const std::string& group,
                             const std::string& topic) {
  const auto offsets = fault::committed_offsets(bootstrap, group, topic, 10s);
  if (offsets.empty()) throw std::runtime_error("committed offsets of " + group + " not readable");
  std::int64_t total = 0;
  for (const auto& [p, o] : offsets) total += std::max<std::int64_t>(o, 0);
  return total;
}

// The lines of a process log that start with `prefix`.
std::vector<std::string> lines_starting(const std::string& log, const std::string& prefix) {
  std::vector<std::string> out;
  std::istringstream in(log);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(prefix, 0) == 0) out.push_back(line);
  }
  return out;
}

struct Tally {
  std::size_t lost = 0;
  std::size_t duplicates = 0;
  std::size_t unknown = 0;
};

Tally tally(const std::vector<Record>& records, int expected) {
  std::map<std::string, int> copies;
  for (const auto& r : records) ++copies[r.value];
  Tally t;
  for (int i = 0; i < expected; ++i) {
    const auto it = copies.find("r-" + std::to_string(i));
    if (it == copies.end()) {
      ++t.lost;
    } else {
      t.duplicates += static_cast<std::size_t>(it->second - 1);
      copies.erase(it);
    }
  }
  t.unknown = copies.size();
  return t;
}

class DlqReplayExactlyOnceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!broker.is_real()) {
      GTEST_SKIP() << "real Kafka only: the librdkafka 2.0.2 mock has no transaction markers "
                      "(docs/dev-broker.md); run the dlq_replay_eos_test_kafka variant";
    }
    const auto suffix = broker.unique_suffix() + "-" + random_hex(6);
    dlq = "dlq-eos-" + suffix + ".dlq";
    target = "dlq-eos-target-" + suffix;
    group = "dlq-tool.eos-" + suffix;
    messaging::KafkaProperties props;
    props.set("bootstrap.servers", broker.bootstrap());
    messaging::TopicAdmin admin(props);
    for (const auto& created : admin.create({dlq, target}, kPartitions, 60s)) {
      ASSERT_TRUE(created.error.empty()) << created.topic << ": " << created.error;
    }
  }

  void fill(int n) {
    std::vector<std::pair<std::optional<std::string>, std::string>> records;
    records.reserve(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i)
      records.emplace_back("c-" + std::to_string(i % 500), "r-" + std::to_string(i));
    produce(broker.bootstrap(), dlq, records,
            {{"x-original-topic", "orders"}, {"x-error-class", "exhausted"}});
  }

  [[nodiscard]] std::vector<std::string> args() const {
    return {"replay",    "--topic",          dlq,           "--to", target, "--replay-group",      group,
            "--brokers", broker.bootstrap(), "--timeout-s", "30",   "-X",   "batch.num.messages=1"};
  }

  [[nodiscard]] Process start_replay() const { return Process::start(bin_path("dlq-tool"), args()); }

  // Stops `run` (SIGSTOP) once `seen` holds at least `at` records and while a transaction of it with
  // records is open: the target's last stable offsets are below its high watermarks, twice in a row (a
  // commit that already reached the broker would have moved them in between). Otherwise resumes it and
  // tries again 50 records later. Returns the records past the stable offsets, or 0 (with a failure)
  // when the run ended or stalled first.
  std::int64_t stop_inside_transaction(Process& run, TopicReader& seen, std::size_t at) {
    const auto open_records = [&] {
      return sum(end_offsets(broker.bootstrap(), target, false)) -
             sum(end_offsets(broker.bootstrap(), target, true));
    };
    for (int attempt = 0; attempt < 20; ++attempt) {
      if (!seen.wait_for_count(at, 60s)) {
        ADD_FAILURE() << "the target stalled at " << seen.records().size() << " before " << at << "\n"
                      << fault::tail(run.output());
        return 0;
      }
      if (!run.running()) {
        ADD_FAILURE() << "the replay ended before it could be stopped at " << at << "\n"
                      << fault::tail(run.output());
        return 0;
      }
      run.signal(SIGSTOP);
      const auto open = open_records();
      if (open > 0 && open_records() == open) return open;
      run.signal(SIGCONT);
      ++stops_between_rounds;
      at = seen.records().size() + 50;
    }
    ADD_FAILURE() << "never stopped inside a transaction";
    return 0;
  }

  TestBroker broker{kPartitions};
  std::string dlq;
  std::string target;
  std::string group;
  Clock::time_point started = Clock::now();
  int stops_between_rounds = 0;  // stops that found no open transaction (the tool was resumed)
};

TEST_F(DlqReplayExactlyOnceTest, SigkilledInsideTransactionsAndRunAgainReplaysEachDeadLetterExactlyOnce) {
  constexpr int kRecords = 8000;
  constexpr int kKills = 3;
  fill(kRecords);
  std::mt19937_64 rng(fault::test_seed("dlq_replay_exactly_once"));
  // Counts of records in the target, aborted ones included; the last point leaves the final run a few
  // rounds to do.
  const auto points = fault::kill_points("dlq_replay_exactly_once", rng, kKills, 500, 5000, 500);

  TopicReader seen(broker.bootstrap(), target);  // read_uncommitted: everything produced, open or aborted
  std::vector<std::int64_t> open_at_kill;
  std::vector<std::int64_t> committed_at_kill;
  ASSERT_TRUE(seen.drain_to_end(30s));  // assigned before the first run: no start-up lag at the kill points
  for (const auto point : points) {
    auto run = start_replay();
    // Only records this run produced prove that its transaction is open: the killed run's open one stays
    // open until this run's transactions are initialised.
    const auto open = stop_inside_transaction(run, seen, std::max(point, seen.records().size() + 50));
    if (HasFailure()) return;
    EXPECT_EQ(fault::kill9(run), 128 + SIGKILL);
    open_at_kill.push_back(open);
    committed_at_kill.push_back(committed_total(broker.bootstrap(), group, dlq));
    ASSERT_TRUE(seen.drain_to_end(30s));
  }

  // The last run fences the last killed one (the broker aborts its open transaction first) and sends
  // exactly what no committed transaction consumed.
  auto last = start_replay();
  const auto rc = last.wait(60s);
  ASSERT_TRUE(rc.has_value()) << fault::tail(last.output());
  EXPECT_EQ(*rc, 0) << fault::tail(last.output());
  // Kafka keeps the offsets sent with a transaction: no direct commits (the mock's fallback) here.
  EXPECT_EQ(last.output().find("did not keep the offsets"), std::string::npos) << last.output();
  EXPECT_NE(last.output().find("replayed=" + std::to_string(kRecords - committed_at_kill.back()) + " "),
            std::string::npos)
      << "committed before the last kill: " << committed_at_kill.back() << "\n"
      << last.output();

  TopicReader committed(broker.bootstrap(), target, /*read_committed=*/true);
  ASSERT_TRUE(committed.wait_for_count(kRecords, 60s)) << committed.records().size();
  ASSERT_TRUE(committed.drain_to_end(30s));
  const auto t = tally(committed.records(), kRecords);
  EXPECT_EQ(t.lost, 0U) << "dead letters never replayed";
  EXPECT_EQ(t.duplicates, 0U) << "dead letters replayed twice";
  EXPECT_EQ(t.unknown, 0U);
  EXPECT_EQ(committed.records().size(), static_cast<std::size_t>(kRecords));

  ASSERT_TRUE(seen.drain_to_end(30s));
  const auto aborted = static_cast<std::int64_t>(seen.records().size()) - kRecords;
  std::int64_t open_total = 0;
  for (const auto o : open_at_kill) open_total += o;
  EXPECT_GT(aborted, 0) << "no aborted records: no kill landed inside a transaction";
  // Everything past the stable offset at a kill was aborted (a request already on its way when the tool
  // was stopped may add to it).
  EXPECT_GE(aborted, open_total);

  auto again = start_replay();
  ASSERT_EQ(again.wait(60s).value_or(-1), 0) << fault::tail(again.output());
  EXPECT_NE(again.output().find("replayed=0 "), std::string::npos) << again.output();

  std::string opens;
  std::string commits;
  for (std::size_t i = 0; i < open_at_kill.size(); ++i) {
    opens += (i == 0 ? "" : ",") + std::to_string(open_at_kill[i]);
    commits += (i == 0 ? "" : ",") + std::to_string(committed_at_kill[i]);
  }
  fault::summary(
      "dlq_replay_exactly_once_kafka",
      std::to_string(kKills) + "xSIGKILL(dlq-tool replay, inside a transaction)", kRecords, t.lost,
      t.duplicates,
      "open_at_kill=" + opens + " committed_at_kill=" + commits +
          " aborted_read_uncommitted=" + std::to_string(aborted) +
          " stops_between_rounds=" + std::to_string(stops_between_rounds) + " duration_s=" +
          std::to_string(std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - started).count()));
}

TEST_F(DlqReplayExactlyOnceTest, ANewerRunOfTheGroupFencesARunningOneWhichExitsOneWithOneErrorLine) {
  constexpr int kRecords = 4000;
  fill(kRecords);
  TopicReader seen(broker.bootstrap(), target);
  ASSERT_TRUE(seen.drain_to_end(30s));
  auto first = start_replay();
  const auto open = stop_inside_transaction(first, seen, 200);
  if (HasFailure()) return;
  const auto committed_by_first = committed_total(broker.bootstrap(), group, dlq);

  // Same replay group, same transactional.id: the broker aborts the stopped run's open transaction, and
  // the second run sends everything the first had not committed.
  auto second = start_replay();
  ASSERT_EQ(second.wait(60s).value_or(-1), 0) << fault::tail(second.output());
  EXPECT_NE(second.output().find("replayed=" + std::to_string(kRecords - committed_by_first) + " "),
            std::string::npos)
      << "committed by the first run: " << committed_by_first << "\n"
      << second.output();

  first.signal(SIGCONT);
  ASSERT_EQ(first.wait(60s).value_or(-1), 1) << fault::tail(first.output());
  const auto errors = lines_starting(first.output(), "dlq-tool: ");
  ASSERT_EQ(errors.size(), 1U) << first.output();
  EXPECT_NE(errors[0].find("fenced"), std::string::npos) << errors[0];
  EXPECT_NE(errors[0].find("transactional.id '" + group + "'"), std::string::npos) << errors[0];

  TopicReader committed(broker.bootstrap(), target, /*read_committed=*/true);
  ASSERT_TRUE(committed.wait_for_count(kRecords, 60s)) << committed.records().size();
  ASSERT_TRUE(committed.drain_to_end(30s));
  const auto t = tally(committed.records(), kRecords);
  EXPECT_EQ(t.lost, 0U);
  EXPECT_EQ(t.duplicates, 0U);
  EXPECT_EQ(t.unknown, 0U);
  ASSERT_TRUE(seen.drain_to_end(30s));
  const auto aborted = static_cast<std::int64_t>(seen.records().size()) - kRecords;
  EXPECT_GE(aborted, open);
  std::cout << "DLQ-REPLAY-FENCED records=" << kRecords << " open_at_stop=" << open
            << " committed_by_first=" << committed_by_first << " aborted_read_uncommitted=" << aborted
            << " first_error=\"" << errors[0] << "\"\n";
}

}  // namespace
}  // namespace orderflow::testing
