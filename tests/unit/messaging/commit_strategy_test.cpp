// The stage's two commit strategies, against a fake CommitPort (no broker): at-least-once commits on its
// interval what the OffsetTracker says is committable, puts back what a failed commit did not take, commits
// revoked partitions synchronously after draining and everything at shutdown; transactional commits open a
// transaction per batch, commit it at --txn-max-records or --txn-max-ms with the input offsets, on revoke
// and at shutdown, and abort and rewind when a commit or the side effects fail.
#include "orderflow/messaging/commit_strategy.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

namespace {

using namespace std::chrono_literals;
using orderflow::messaging::AtLeastOnceCommits;
using orderflow::messaging::CommitOffset;
using orderflow::messaging::CommitPort;
using orderflow::messaging::OffsetTracker;
using orderflow::messaging::TopicPartitionKey;
using orderflow::messaging::TransactionalCommits;
using orderflow::messaging::TxnStatus;
using Clock = std::chrono::steady_clock;

struct Commit {
  std::vector<CommitOffset> offsets;
  bool sync = false;
};

class FakePort final : public CommitPort {
 public:
  bool flush_side_effects() override {
    ++flushes;
    if (!side_effects_ok) fail();
    return side_effects_ok;
  }
  void fail() override { failed_ = true; }
  [[nodiscard]] bool failed() const override { return failed_; }
  RdKafka::ErrorCode commit_offsets(const std::vector<CommitOffset>& offsets, bool sync) override {
    commits.push_back(Commit{offsets, sync});
    return commit_error;
  }
  void commit_result(bool ok) override { results.push_back(ok); }
  std::size_t drain_outputs() override {
    ++drains;
    return 0;
  }
  TxnStatus init_transactions() override { return init_status; }
  TxnStatus begin_transaction() override {
    ++begins;
    return begin_status;
  }
  TxnStatus commit_transaction(const std::vector<CommitOffset>& offsets) override {
    txn_commits.push_back(offsets);
    return commit_status;
  }
  TxnStatus abort_transaction() override {
    ++aborts;
    return TxnStatus{};
  }
  void rewind() override { ++rewinds; }

  bool side_effects_ok = true;
  bool failed_ = false;
  RdKafka::ErrorCode commit_error = RdKafka::ERR_NO_ERROR;
  TxnStatus init_status;
  TxnStatus begin_status;
  TxnStatus commit_status;
  int flushes = 0;
  int drains = 0;
  int begins = 0;
  int aborts = 0;
  int rewinds = 0;
  std::vector<Commit> commits;
  std::vector<bool> results;
  std::vector<std::vector<CommitOffset>> txn_commits;
};

// Offsets `from`..`to` of orders[p] consumed and completed.
void done(OffsetTracker& tracker, std::int32_t p, std::int64_t from, std::int64_t to) {
  auto progress = tracker.find("orders", p);
  for (auto o = from; o <= to; ++o) progress->begin(o);
  for (auto o = from; o <= to; ++o) progress->complete(o);
}

std::int64_t offset_of(const std::vector<CommitOffset>& offsets, std::int32_t partition) {
  for (const auto& o : offsets) {
    if (o.partition == partition) return o.offset;
  }
  return -1;
}

class AtLeastOnceTest : public ::testing::Test {
 protected:
  AtLeastOnceTest() : commits(port, tracker, 1000ms) {
    tracker.assign("orders", 0);
    tracker.assign("orders", 1);
    EXPECT_TRUE(commits.start(t0));
  }
  FakePort port;
  OffsetTracker tracker;
  AtLeastOnceCommits commits;
  Clock::time_point t0 = Clock::now();
};

TEST_F(AtLeastOnceTest, CommitsOnlyWhenTheIntervalIsOver) {
  done(tracker, 0, 0, 4);
  commits.on_timer(t0 + 999ms);
  EXPECT_TRUE(port.commits.empty());
  commits.on_timer(t0 + 1000ms);
  ASSERT_EQ(port.commits.size(), 1U);
  EXPECT_FALSE(port.commits[0].sync);
  EXPECT_EQ(offset_of(port.commits[0].offsets, 0), 5);
  EXPECT_EQ(offset_of(port.commits[0].offsets, 1), -1);  // nothing done there
  // The next one is an interval later.
  done(tracker, 0, 5, 5);
  commits.on_timer(t0 + 1500ms);
  EXPECT_EQ(port.commits.size(), 1U);
  commits.on_timer(t0 + 2000ms);
  EXPECT_EQ(port.commits.size(), 2U);
}

TEST_F(AtLeastOnceTest, NothingCompletedIsNothingCommitted) {
  tracker.find("orders", 0)->begin(0);  // in flight, not done
  commits.on_timer(t0 + 1000ms);
  EXPECT_TRUE(port.commits.empty());
  EXPECT_EQ(port.flushes, 1);  // the side effects are flushed whether or not there is anything to commit
}

TEST_F(AtLeastOnceTest, AFailedCommitIsRetriedWithTheNextOne) {
  done(tracker, 0, 0, 2);
  port.commit_error = RdKafka::ERR__TRANSPORT;
  commits.on_timer(t0 + 1000ms);
  ASSERT_EQ(port.commits.size(), 1U);
  EXPECT_EQ(port.results, std::vector<bool>{false});
  port.commit_error = RdKafka::ERR_NO_ERROR;
  commits.on_timer(t0 + 2000ms);
  ASSERT_EQ(port.commits.size(), 2U);
  EXPECT_EQ(offset_of(port.commits[1].offsets, 0), 3);
}

TEST_F(AtLeastOnceTest, AFailedAsyncCommitPutsItsOffsetsBack) {
  done(tracker, 0, 0, 2);
  commits.on_timer(t0 + 1000ms);
  ASSERT_EQ(port.commits.size(), 1U);
  commits.async_commit_done(RdKafka::ERR_REQUEST_TIMED_OUT, port.commits[0].offsets);
  EXPECT_EQ(port.results, std::vector<bool>{false});
  commits.on_timer(t0 + 2000ms);
  ASSERT_EQ(port.commits.size(), 2U);
  EXPECT_EQ(offset_of(port.commits[1].offsets, 0), 3);
  // Success, and "nothing to commit", are not put back.
  commits.async_commit_done(RdKafka::ERR_NO_ERROR, port.commits[1].offsets);
  commits.async_commit_done(RdKafka::ERR__NO_OFFSET, {});
  commits.on_timer(t0 + 3000ms);
  EXPECT_EQ(port.commits.size(), 2U);
}

TEST_F(AtLeastOnceTest, SideEffectsThatCannotBeMadeDurableAreNotCommitted) {
  done(tracker, 0, 0, 2);
  port.side_effects_ok = false;
  commits.on_timer(t0 + 1000ms);
  commits.after_drain();
  EXPECT_TRUE(port.commits.empty());
  EXPECT_TRUE(port.failed());
}

TEST_F(AtLeastOnceTest, RevokeDrainsAndCommitsThosePartitionsSynchronously) {
  done(tracker, 0, 0, 2);
  done(tracker, 1, 0, 6);
  commits.on_revoking({TopicPartitionKey{"orders", 1}}, false);
  EXPECT_EQ(port.drains, 1);
  ASSERT_EQ(port.commits.size(), 1U);
  EXPECT_TRUE(port.commits[0].sync);
  EXPECT_EQ(offset_of(port.commits[0].offsets, 1), 7);
  EXPECT_EQ(offset_of(port.commits[0].offsets, 0), -1);
  EXPECT_EQ(port.results, std::vector<bool>{true});
}

TEST_F(AtLeastOnceTest, LostPartitionsAreNotCommitted) {
  done(tracker, 0, 0, 2);
  commits.on_revoking({TopicPartitionKey{"orders", 0}}, true);
  EXPECT_EQ(port.drains, 0);
  EXPECT_TRUE(port.commits.empty());
}

TEST_F(AtLeastOnceTest, ShutdownCommitsEverythingSynchronously) {
  done(tracker, 0, 0, 2);
  done(tracker, 1, 0, 0);
  EXPECT_FALSE(commits.busy());
  commits.before_drain();
  EXPECT_TRUE(port.commits.empty());
  commits.after_drain();
  ASSERT_EQ(port.commits.size(), 1U);
  EXPECT_TRUE(port.commits[0].sync);
  EXPECT_EQ(offset_of(port.commits[0].offsets, 0), 3);
  EXPECT_EQ(offset_of(port.commits[0].offsets, 1), 1);
}

class TransactionalTest : public ::testing::Test {
 protected:
  TransactionalTest() : commits(port, 3, 100ms) { EXPECT_TRUE(commits.start(Clock::now())); }
  // One record of orders[p] at `offset` through the strategy.
  void record(std::int32_t p, std::int64_t offset) {
    commits.begin_record();
    commits.end_record(TopicPartitionKey{"orders", p}, offset + 1);
  }
  FakePort port;
  TransactionalCommits commits;
};

TEST_F(TransactionalTest, StartFailsWhenTransactionsCannotBeInitialised) {
  FakePort p;
  p.init_status = TxnStatus{TxnStatus::Kind::Fatal, "no coordinator"};
  TransactionalCommits c(p, 3, 100ms);
  EXPECT_FALSE(c.start(Clock::now()));
}

TEST_F(TransactionalTest, OneTransactionPerBatchClosedAtMaxRecords) {
  EXPECT_FALSE(commits.busy());
  record(0, 10);
  EXPECT_TRUE(commits.busy());
  record(1, 20);
  commits.after_poll();
  EXPECT_EQ(port.begins, 1);
  EXPECT_TRUE(port.txn_commits.empty());
  record(0, 11);
  EXPECT_EQ(commits.records(), 3U);
  commits.after_poll();
  ASSERT_EQ(port.txn_commits.size(), 1U);
  EXPECT_FALSE(commits.busy());
  EXPECT_EQ(offset_of(port.txn_commits[0], 0), 12);  // the offset after the last record of each partition
  EXPECT_EQ(offset_of(port.txn_commits[0], 1), 21);
  EXPECT_EQ(port.flushes, 1);
  // The next record opens the next transaction, with only its own offsets.
  record(1, 21);
  EXPECT_EQ(port.begins, 2);
  commits.before_drain();
  ASSERT_EQ(port.txn_commits.size(), 2U);
  EXPECT_EQ(port.txn_commits[1].size(), 1U);
  EXPECT_EQ(offset_of(port.txn_commits[1], 1), 22);
}

TEST_F(TransactionalTest, ClosedAtMaxMs) {
  record(0, 10);
  commits.on_timer(Clock::now());
  EXPECT_TRUE(port.txn_commits.empty());
  commits.on_timer(Clock::now() + 100ms);
  EXPECT_EQ(port.txn_commits.size(), 1U);
  // No transaction open: nothing to commit, however late.
  commits.on_timer(Clock::now() + 1h);
  commits.after_poll();
  EXPECT_EQ(port.txn_commits.size(), 1U);
}

TEST_F(TransactionalTest, RevokeCommitsAndLossAbortsAndRewinds) {
  record(0, 10);
  commits.on_revoking({TopicPartitionKey{"orders", 0}}, false);
  EXPECT_EQ(port.txn_commits.size(), 1U);
  record(0, 11);
  commits.on_revoking({TopicPartitionKey{"orders", 0}}, true);
  EXPECT_EQ(port.txn_commits.size(), 1U);
  EXPECT_EQ(port.aborts, 1);
  EXPECT_EQ(port.rewinds, 1);
  EXPECT_FALSE(commits.busy());
  // Nothing open: a revoke does nothing.
  commits.on_revoking({TopicPartitionKey{"orders", 0}}, true);
  EXPECT_EQ(port.aborts, 1);
}

TEST_F(TransactionalTest, ARevokedPartitionsOffsetIsNotSent) {
  record(0, 10);
  record(1, 20);
  commits.revoked(TopicPartitionKey{"orders", 1});
  commits.before_drain();
  ASSERT_EQ(port.txn_commits.size(), 1U);
  EXPECT_EQ(port.txn_commits[0].size(), 1U);
  EXPECT_EQ(offset_of(port.txn_commits[0], 0), 11);
}

TEST_F(TransactionalTest, AFailedCommitAbortsAndRewinds) {
  port.commit_status = TxnStatus{TxnStatus::Kind::Failed, "coordinator moved"};
  record(0, 10);
  commits.before_drain();
  EXPECT_EQ(port.aborts, 1);
  EXPECT_EQ(port.rewinds, 1);
  EXPECT_FALSE(port.failed());
  EXPECT_FALSE(commits.busy());
}

TEST_F(TransactionalTest, AFatalCommitStopsTheStageWithoutRewinding) {
  port.commit_status = TxnStatus{TxnStatus::Kind::Fatal, "fenced"};
  record(0, 10);
  commits.before_drain();
  EXPECT_TRUE(port.failed());
  EXPECT_EQ(port.aborts, 0);
  EXPECT_EQ(port.rewinds, 0);
  EXPECT_FALSE(commits.busy());
}

TEST_F(TransactionalTest, SideEffectsThatCannotBeMadeDurableAbortTheTransaction) {
  port.side_effects_ok = false;
  record(0, 10);
  commits.before_drain();
  EXPECT_TRUE(port.txn_commits.empty());
  EXPECT_EQ(port.aborts, 1);
  EXPECT_EQ(port.rewinds, 1);
}

TEST_F(TransactionalTest, NothingIsCommittedOnceTheStageFailed) {
  record(0, 10);
  port.fail();
  commits.before_drain();
  commits.on_revoking({TopicPartitionKey{"orders", 0}}, false);
  EXPECT_TRUE(port.txn_commits.empty());
  EXPECT_EQ(port.aborts, 0);
}

TEST_F(TransactionalTest, ABeginThatFailsStopsTheStage) {
  port.begin_status = TxnStatus{TxnStatus::Kind::Failed, "broken"};
  commits.begin_record();
  EXPECT_TRUE(port.failed());
  EXPECT_FALSE(commits.busy());
}

}  // namespace
