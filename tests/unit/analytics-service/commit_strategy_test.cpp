// analytics-service's commit side without a broker: the committable offsets (the window rule lowered to the
// sink's oldest un-acknowledged row), at-least-once commits, and exactly-once transactions (opened on
// demand, periods without progress, aborts that rebuild, fatal errors) against a recording CommitPort.
#include "orderflow/analytics/commit_strategy.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

namespace orderflow::analytics {

using messaging::CommitOffset;
using messaging::TopicPartitionKey;
using messaging::TxnStatus;

namespace {

const TopicPartitionKey kOrders0{"orders", 0};
const TopicPartitionKey kOrders1{"orders", 1};

struct NoInserter final : Inserter {
  InsertResult insert(const std::string&, const std::string&) override { return {}; }
};

SinkRow held_row(const TopicPartitionKey& tp, std::int64_t offset) {
  SinkRow r;
  r.json = "{}";
  r.tp = tp;
  r.offset = offset;
  r.holds_offset = true;
  return r;
}

std::int64_t offset_of(const std::vector<CommitOffset>& offsets, const TopicPartitionKey& tp) {
  for (const auto& o : offsets) {
    if (o.topic == tp.topic && o.partition == tp.partition) return o.offset;
  }
  return -100;
}

TEST(CommittableOffsets, TheSinksOldestHeldRowLowersTheWindowRule) {
  WindowAggregator windows(WindowConfig{60000, 0, 1000000});
  windows.assigned(kOrders0, 0);
  windows.assigned(kOrders1, 0);
  // Open windows: each partition's committable offset is its oldest record in one.
  windows.add_order(kOrders0, 10, 1000, 0, "c", 1, "EUR");
  windows.add_order(kOrders1, 20, 1000, 0, "c", 1, "EUR");
  EXPECT_EQ(offset_of(committable_offsets(windows, nullptr), kOrders0), 10);

  ClickHouseSink sink(SinkConfig{}, std::make_unique<NoInserter>(), {});
  sink.add(Table::Orders, held_row(kOrders0, 4), 0);   // older than the window rule: lowers it
  sink.add(Table::Orders, held_row(kOrders1, 25), 0);  // newer: the window rule stands
  const auto offsets = committable_offsets(windows, &sink);
  EXPECT_EQ(offset_of(offsets, kOrders0), 4);
  EXPECT_EQ(offset_of(offsets, kOrders1), 20);
  EXPECT_EQ(offsets.size(), 2U);
}

// Records every call; answers as configured.
struct FakePort final : CommitPort {
  std::vector<CommitOffset> offsets;
  bool flush_ok = true;
  bool failed_delivery = false;
  TxnStatus init, begin, commit, abort;
  std::vector<std::string> calls;
  std::vector<std::vector<CommitOffset>> committed;  // by commit_offsets and commit_transaction
  std::vector<bool> results;
  int rebuilds = 0;

  std::vector<CommitOffset> committable() override { return offsets; }
  void commit_result(bool ok) override { results.push_back(ok); }
  bool commit_offsets(const std::vector<CommitOffset>& o, bool sync) override {
    calls.push_back(sync ? "commit sync" : "commit async");
    committed.push_back(o);
    return true;
  }
  bool flush() override { return flush_ok; }
  bool delivery_failed() const override { return failed_delivery; }
  TxnStatus init_transactions() override {
    calls.emplace_back("init");
    return init;
  }
  TxnStatus begin_transaction() override {
    calls.emplace_back("begin");
    return begin;
  }
  TxnStatus commit_transaction(const std::vector<CommitOffset>& o) override {
    calls.emplace_back("commit txn");
    committed.push_back(o);
    return commit;
  }
  TxnStatus abort_transaction(bool open) override {
    calls.emplace_back(open ? "abort open" : "abort none");
    return abort;
  }
  void rebuild() override {
    ++rebuilds;
    failed_delivery = false;
  }
};

const std::vector<CommitOffset> kSome{{"orders", 0, 5}};
const std::vector<CommitOffset> kMore{{"orders", 0, 9}};

TEST(AtLeastOnceCommits, PeriodCommitsTheCommittableOffsetsAsynchronously) {
  FakePort port;
  AtLeastOnceCommits commits(port);
  EXPECT_TRUE(commits.period());
  EXPECT_TRUE(port.calls.empty());  // nothing committable
  port.offsets = kSome;
  EXPECT_TRUE(commits.period());
  EXPECT_EQ(port.calls, (std::vector<std::string>{"commit async"}));
  EXPECT_TRUE(port.results.empty());  // reported by the consumer's callback
}

TEST(AtLeastOnceCommits, RevokeAndCleanStopCommitSynchronously) {
  FakePort port;
  AtLeastOnceCommits commits(port);
  commits.revoking(kSome, true);  // lost: someone else owns them already
  EXPECT_TRUE(port.calls.empty());
  commits.revoking(kSome, false);
  port.offsets = kMore;
  EXPECT_TRUE(commits.finish(false));  // stopping on an error: nothing
  EXPECT_TRUE(commits.finish(true));
  EXPECT_EQ(port.calls, (std::vector<std::string>{"commit sync", "commit sync"}));
  EXPECT_EQ(port.committed.back().front().offset, 9);
  EXPECT_EQ(port.results, (std::vector<bool>{true, true}));
}

TEST(AtLeastOnceCommits, AnUndeliveredRecordStopsTheService) {
  FakePort port;
  AtLeastOnceCommits commits(port);
  EXPECT_FALSE(commits.delivery_failed());
  EXPECT_EQ(port.rebuilds, 0);
}

TEST(ExactlyOnceCommits, StartInitialisesTransactions) {
  FakePort port;
  ExactlyOnceCommits ok(port, "g-0");
  EXPECT_TRUE(ok.start());
  port.init = {TxnStatus::Kind::Fatal, "fenced"};
  ExactlyOnceCommits fenced(port, "g-0");
  EXPECT_FALSE(fenced.start());
}

TEST(ExactlyOnceCommits, ATransactionOpensOnDemandAndAPeriodWithoutProgressCommitsNothing) {
  FakePort port;
  ExactlyOnceCommits commits(port, "g-0");
  EXPECT_TRUE(commits.period());  // no transaction, nothing committable
  EXPECT_TRUE(port.calls.empty());
  EXPECT_TRUE(commits.before_produce());
  EXPECT_TRUE(commits.before_produce());  // joins the open one
  EXPECT_TRUE(commits.open());
  port.offsets = kSome;
  EXPECT_TRUE(commits.period());
  EXPECT_FALSE(commits.open());
  EXPECT_TRUE(commits.period());  // the same offsets again: nothing
  port.offsets = kMore;
  EXPECT_TRUE(commits.period());  // the offsets moved: a transaction with the offsets only
  EXPECT_EQ(port.calls, (std::vector<std::string>{"begin", "commit txn", "begin", "commit txn"}));
  EXPECT_EQ(port.committed.back().front().offset, 9);
  EXPECT_EQ(port.results, (std::vector<bool>{true, true}));
}

TEST(ExactlyOnceCommits, AFailedCommitAbortsAndRebuilds) {
  FakePort port;
  ExactlyOnceCommits commits(port, "g-0");
  port.offsets = kSome;
  ASSERT_TRUE(commits.before_produce());
  port.commit = {TxnStatus::Kind::Failed, "timed out"};
  EXPECT_TRUE(commits.period());  // goes on, rebuilding
  EXPECT_EQ(port.calls, (std::vector<std::string>{"begin", "commit txn", "abort open"}));
  EXPECT_EQ(port.results, (std::vector<bool>{false}));
  EXPECT_EQ(port.rebuilds, 1);
  EXPECT_FALSE(commits.open());
  EXPECT_FALSE(commits.fatal());
}

TEST(ExactlyOnceCommits, UnacknowledgedRecordsAbortBeforeCommitting) {
  FakePort port;
  ExactlyOnceCommits commits(port, "g-0");
  ASSERT_TRUE(commits.before_produce());
  port.flush_ok = false;
  EXPECT_TRUE(commits.period());
  port.flush_ok = true;
  port.failed_delivery = true;
  EXPECT_TRUE(commits.period());
  EXPECT_EQ(port.calls, (std::vector<std::string>{"begin", "abort open", "abort none"}));
  EXPECT_EQ(port.rebuilds, 2);
}

TEST(ExactlyOnceCommits, AFencedProducerStopsTheService) {
  FakePort port;
  ExactlyOnceCommits commits(port, "g-0");
  port.offsets = kSome;
  port.commit = {TxnStatus::Kind::Fatal, "fenced"};
  EXPECT_FALSE(commits.period());
  EXPECT_EQ(port.rebuilds, 0);
  // On a rebalance the failure is remembered: the loop stops at its next turn.
  commits.revoking(kSome, false);
  EXPECT_TRUE(commits.fatal());
}

TEST(ExactlyOnceCommits, AFailedAbortIsFatal) {
  FakePort port;
  ExactlyOnceCommits commits(port, "g-0");
  ASSERT_TRUE(commits.before_produce());
  port.abort = {TxnStatus::Kind::Fatal, "broken"};
  EXPECT_TRUE(commits.delivery_failed());
  EXPECT_TRUE(commits.fatal());
  EXPECT_EQ(port.rebuilds, 1);
}

TEST(ExactlyOnceCommits, LostPartitionsAbortAndRebuildEvenWithoutATransaction) {
  FakePort port;
  ExactlyOnceCommits commits(port, "g-0");
  commits.revoking(kSome, true);
  EXPECT_EQ(port.calls, (std::vector<std::string>{"abort none"}));
  EXPECT_EQ(port.rebuilds, 1);
}

TEST(ExactlyOnceCommits, RebuiltForgetsTheLastCommittedOffsets) {
  FakePort port;
  ExactlyOnceCommits commits(port, "g-0");
  port.offsets = kSome;
  EXPECT_TRUE(commits.period());
  commits.rebuilt();
  EXPECT_TRUE(commits.period());  // the same offsets, committed again after the rebuild
  EXPECT_EQ(port.calls, (std::vector<std::string>{"begin", "commit txn", "begin", "commit txn"}));
}

TEST(ExactlyOnceCommits, StopCommitsWhenCleanAndAbortsOtherwise) {
  FakePort clean_port;
  ExactlyOnceCommits clean(clean_port, "g-0");
  ASSERT_TRUE(clean.before_produce());
  EXPECT_TRUE(clean.finish(true));
  EXPECT_EQ(clean_port.calls, (std::vector<std::string>{"begin", "commit txn"}));

  FakePort error_port;
  ExactlyOnceCommits error(error_port, "g-0");
  EXPECT_TRUE(error.finish(false));  // nothing open: nothing to abort
  ASSERT_TRUE(error.before_produce());
  EXPECT_TRUE(error.finish(false));
  EXPECT_EQ(error_port.calls, (std::vector<std::string>{"begin", "abort open"}));
}

}  // namespace

}  // namespace orderflow::analytics
