// KeyGate (--retry-ordering key): per partition and key, the records on the retry path in processing
// order, which retry record may go first, the bound on distinct keys, and the rebuild of a partition's
// state from its retry records (rebuild_backlog).
#include "orderflow/messaging/key_gate.h"

#include <gtest/gtest.h>

#include <string>

namespace {

using orderflow::messaging::KeyGate;
using orderflow::messaging::Origin;
using orderflow::messaging::rebuild_backlog;
using orderflow::messaging::RetryBacklog;
using orderflow::messaging::RetryRecordInfo;
using Step = KeyGate::RetryStep;

// An input record of partition 3 of `orders` (or `topic`).
Origin in(std::int64_t offset, const char* topic = "orders") {
  return Origin{topic, 3, offset};
}

TEST(KeyGateTest, NothingHeldInitially) {
  const KeyGate g;
  EXPECT_FALSE(g.held(3, "cust-1"));
  EXPECT_FALSE(g.held(3, ""));
  EXPECT_EQ(g.size(), 0U);
  EXPECT_EQ(g.overflowed(), 0U);
}

TEST(KeyGateTest, HoldThenReleaseFreesTheKey) {
  KeyGate g;
  EXPECT_TRUE(g.hold(3, "cust-1", in(10)));
  EXPECT_TRUE(g.held(3, "cust-1"));
  EXPECT_FALSE(g.held(3, "cust-2"));
  EXPECT_EQ(g.size(), 1U);
  g.release(3, "cust-1", in(10));
  EXPECT_FALSE(g.held(3, "cust-1"));
  EXPECT_EQ(g.size(), 0U);
}

TEST(KeyGateTest, ReleaseNamesTheRecordAndIgnoresOthers) {
  KeyGate g;
  ASSERT_TRUE(g.hold(3, "k", in(10)));
  ASSERT_TRUE(g.hold(3, "k", in(11)));
  ASSERT_TRUE(g.hold(3, "j", in(12)));
  EXPECT_EQ(g.count(3, "k"), 2U);
  g.release(3, "k", in(99));  // not pending
  g.release(3, "never-held", in(10));
  g.release(4, "k", in(10));  // another partition
  EXPECT_EQ(g.count(3, "k"), 2U);
  g.release(3, "k", in(11));  // a later one (dead-lettered as poison) may leave first
  EXPECT_EQ(g.count(3, "k"), 1U);
  g.release(3, "k", in(10));
  g.release(3, "k", in(10));  // once too often: no underflow, no resurrection
  EXPECT_FALSE(g.held(3, "k"));
  EXPECT_TRUE(g.held(3, "j"));
  EXPECT_EQ(g.size(), 1U);
}

TEST(KeyGateTest, KeysAreExactBytes) {
  KeyGate g;
  ASSERT_TRUE(g.hold(0, std::string("a\0b", 3), in(1)));
  EXPECT_TRUE(g.held(0, std::string("a\0b", 3)));
  EXPECT_FALSE(g.held(0, "a"));
  EXPECT_FALSE(g.held(0, "A\0b"));
  ASSERT_TRUE(g.hold(0, "", in(2)));
  EXPECT_TRUE(g.held(0, ""));
}

TEST(KeyGateTest, BoundRefusesNewKeysAndCountsOverflow) {
  KeyGate g(2);
  EXPECT_TRUE(g.hold(0, "a", in(1)));
  EXPECT_TRUE(g.hold(1, "b", in(2)));
  EXPECT_FALSE(g.hold(2, "c", in(3))) << "the bound is over all partitions";
  EXPECT_FALSE(g.held(2, "c")) << "a refused key is not gated";
  EXPECT_EQ(g.overflowed(), 1U);
  EXPECT_FALSE(g.hold(0, "d", in(4)));
  EXPECT_EQ(g.overflowed(), 2U);
  EXPECT_TRUE(g.hold(0, "a", in(5))) << "an already held key is still queued at the bound";
  EXPECT_EQ(g.overflowed(), 2U);
  EXPECT_EQ(g.size(), 2U);
  g.release(1, "b", in(2));
  EXPECT_TRUE(g.hold(2, "c", in(6))) << "room again once a key is freed";
}

TEST(KeyGateTest, ZeroBoundGatesNothing) {
  KeyGate g(0);
  EXPECT_FALSE(g.hold(0, "a", in(1)));
  EXPECT_FALSE(g.held(0, "a"));
  EXPECT_EQ(g.overflowed(), 1U);
  EXPECT_EQ(g.size(), 0U);
}

TEST(KeyGateTest, ClearAndDropForgetKeysButKeepTheOverflowCount) {
  KeyGate g(2);
  ASSERT_TRUE(g.hold(0, "a", in(1)));
  ASSERT_TRUE(g.hold(1, "b", in(2)));
  ASSERT_FALSE(g.hold(1, "c", in(3)));
  g.drop(1);
  EXPECT_EQ(g.size(), 1U);
  EXPECT_FALSE(g.held(1, "b"));
  EXPECT_TRUE(g.held(0, "a"));
  g.clear();
  EXPECT_EQ(g.size(), 0U);
  EXPECT_EQ(g.overflowed(), 1U) << "overflowed() is a monotonic counter (exported as a metric)";
}

TEST(KeyGateTest, PartitionsAreSeparate) {
  KeyGate g;
  ASSERT_TRUE(g.hold(0, "k", in(1)));
  EXPECT_FALSE(g.held(1, "k")) << "the same key in another partition is another queue";
  const std::string k = "k";
  EXPECT_EQ(g.retry_step(1, 50, &k, in(7)), Step::Process);
}

TEST(KeyGateTest, OnlyTheFirstPendingRecordOfAKeyIsProcessed) {
  KeyGate g;
  const std::string k = "k";
  const std::string other = "other";
  ASSERT_TRUE(g.hold(3, k, in(10)));  // failed, on the retry topic
  ASSERT_TRUE(g.hold(3, k, in(11)));  // parked behind it
  ASSERT_TRUE(g.hold(3, k, in(12)));
  // The retry partition may hold them in any order (parked again, or parked while others were).
  EXPECT_EQ(g.retry_step(3, 100, &k, in(12)), Step::Follow);
  EXPECT_EQ(g.retry_step(3, 101, &k, in(11)), Step::Follow);
  EXPECT_EQ(g.retry_step(3, 102, &k, in(10)), Step::Process);
  EXPECT_EQ(g.retry_step(3, 103, &other, in(13)), Step::Process) << "a key not gated";
  EXPECT_EQ(g.retry_step(3, 104, nullptr, in(14)), Step::Process) << "no key";
  // in(10) failed again: it stays first, wherever its new copy lands.
  EXPECT_EQ(g.retry_step(3, 105, &k, in(11)), Step::Follow);
  EXPECT_EQ(g.retry_step(3, 106, &k, in(10)), Step::Process);
  g.release(3, k, in(10));
  EXPECT_EQ(g.retry_step(3, 107, &k, in(12)), Step::Follow);
  EXPECT_EQ(g.retry_step(3, 108, &k, in(11)), Step::Process);
  g.release(3, k, in(11));
  EXPECT_EQ(g.retry_step(3, 109, &k, in(10)), Step::Process) << "a copy of a record already done";
  EXPECT_EQ(g.retry_step(3, 110, &k, in(12)), Step::Process);
}

TEST(KeyGateTest, ARecordParkedWhileOthersWaitToBeParkedAgainDoesNotOvertakeThem) {
  // in(10) failed again and went to the back while in(11) and in(12), parked behind it, were still ahead of
  // it in the partition; in(13) arrives from the input meanwhile and is parked at the back too, before the
  // copies of in(11) and in(12) that parking them again writes. Its position must not let it go first.
  KeyGate g;
  const std::string k = "k";
  for (const auto o : {10, 11, 12}) ASSERT_TRUE(g.hold(3, k, in(o)));
  ASSERT_TRUE(g.held(3, k));
  ASSERT_TRUE(g.hold(3, k, in(13)));
  // Partition order now: copy of 10, 13, then 11 and 12 parked again.
  EXPECT_EQ(g.retry_step(3, 200, &k, in(10)), Step::Process);
  g.release(3, k, in(10));
  EXPECT_EQ(g.retry_step(3, 201, &k, in(13)), Step::Follow);
  EXPECT_EQ(g.retry_step(3, 202, &k, in(11)), Step::Process);
}

TEST(KeyGateTest, GivesUpOnAFirstRecordThatNeverComesRound) {
  KeyGate g;
  const std::string k = "k";
  ASSERT_TRUE(g.hold(3, k, in(10)));  // its retry record is gone (deleted by retention before it was read)
  ASSERT_TRUE(g.hold(3, k, in(11)));
  int follows = 0;
  while (g.retry_step(3, 300 + follows, &k, in(11)) == Step::Follow) {
    ASSERT_LT(++follows, 10000) << "parked again for ever";
  }
  EXPECT_GT(follows, 16) << "a pass over the partition, copies included, must not be taken for a lost record";
  EXPECT_EQ(g.abandoned(), 1U);
  EXPECT_EQ(g.count(3, k), 1U);
}

TEST(KeyGateTest, ReadingTheFirstRecordResetsThePatience) {
  KeyGate g;
  const std::string k = "k";
  ASSERT_TRUE(g.hold(3, k, in(10)));
  ASSERT_TRUE(g.hold(3, k, in(11)));
  for (int pass = 0; pass < 2000; ++pass) {
    // Four copies of the follower per pass (it was processed again after rebalances).
    for (int copy = 0; copy < 4; ++copy)
      ASSERT_EQ(g.retry_step(3, 5 * pass + copy, &k, in(11)), Step::Follow) << pass;
    ASSERT_EQ(g.retry_step(3, 5 * pass + 4, &k, in(10)), Step::Process) << pass;  // fails again each time
  }
  EXPECT_EQ(g.abandoned(), 0U);
}

RetryRecordInfo rec(std::int64_t offset, const char* key, std::int64_t origin_offset,
                    const char* topic = "orders", std::int32_t origin_partition = 3) {
  RetryRecordInfo r;
  r.offset = offset;
  if (key != nullptr) r.key = key;
  r.origin = Origin{topic, origin_partition, origin_offset};
  return r;
}

std::vector<std::int64_t> offsets(const std::vector<Origin>& v) {
  std::vector<std::int64_t> out;
  for (const auto& o : v) out.push_back(o.offset);
  return out;
}

TEST(RebuildBacklogTest, PendingRecordsQueueInInputOrderWhateverTheirPlaceInThePartition) {
  // 100 failed again and was written after 101 and 102, which were parked behind it; 103 was parked while
  // 102 waited to be parked again.
  const auto b = rebuild_backlog(3,
                                 {rec(5, "a", 101), rec(6, "b", 50), rec(7, "a", 100), rec(8, "a", 103),
                                  rec(9, "a", 102), rec(10, nullptr, 60)},
                                 {{"orders", 200}});
  ASSERT_EQ(b.pending.size(), 2U);
  EXPECT_EQ(offsets(b.pending.at("a")), (std::vector<std::int64_t>{100, 101, 102, 103}));
  EXPECT_EQ(offsets(b.pending.at("b")), (std::vector<std::int64_t>{50}));
  EXPECT_TRUE(b.skip.empty());
}

TEST(RebuildBacklogTest, CopiesOfOneRecordQueueOnce) {
  const auto b =
      rebuild_backlog(3, {rec(5, "a", 100), rec(6, "a", 101), rec(7, "a", 100)}, {{"orders", 200}});
  EXPECT_EQ(offsets(b.pending.at("a")), (std::vector<std::int64_t>{100, 101}));
}

TEST(RebuildBacklogTest, CopiesOfInputsPastTheCommittedOffsetAreStale) {
  // The input partition is committed up to 102: inputs 102 and later are read again from the input.
  const auto b = rebuild_backlog(
      3, {rec(5, "a", 100), rec(6, "a", 102), rec(7, "b", 150), rec(8, nullptr, 160)}, {{"orders", 102}});
  ASSERT_EQ(b.pending.size(), 1U);
  EXPECT_EQ(offsets(b.pending.at("a")), (std::vector<std::int64_t>{100}));
  EXPECT_EQ(b.skip, (std::unordered_set<std::int64_t>{6, 7, 8}));
}

TEST(RebuildBacklogTest, NothingIsStaleWithoutAKnownCommitOrFromAnotherPartition) {
  EXPECT_TRUE(rebuild_backlog(3, {rec(5, "a", 100)}, {}).skip.empty()) << "no committed offset known";
  EXPECT_TRUE(rebuild_backlog(3, {rec(5, "a", 100)}, {{"orders", -1001}}).skip.empty()) << "none committed";
  EXPECT_TRUE(rebuild_backlog(3, {rec(5, "a", 100, "orders", 4)}, {{"orders", 50}}).skip.empty())
      << "input of another partition (written before retries kept their input's partition number)";
  EXPECT_TRUE(rebuild_backlog(3, {rec(5, "a", 100, "payments")}, {{"orders", 50}}).skip.empty());
  const auto b = rebuild_backlog(3, {rec(5, "a", 100, "payments")}, {{"orders", 50}, {"payments", 100}});
  EXPECT_EQ(b.skip, (std::unordered_set<std::int64_t>{5})) << "each input topic by its own committed offset";
}

TEST(RebuildBacklogTest, SeveralInputTopicsKeepEachTopicsOrderAndInterleaveAsFirstSeen) {
  const auto b = rebuild_backlog(
      3, {rec(5, "a", 11, "payments"), rec(6, "a", 100), rec(7, "a", 10, "payments"), rec(8, "a", 99)},
      {{"orders", 200}, {"payments", 200}});
  const auto& q = b.pending.at("a");
  ASSERT_EQ(q.size(), 4U);
  EXPECT_EQ(q[0].topic, "payments");
  EXPECT_EQ(q[0].offset, 10);
  EXPECT_EQ(q[1].topic, "orders");
  EXPECT_EQ(q[1].offset, 99);
  EXPECT_EQ(q[2].topic, "payments");
  EXPECT_EQ(q[2].offset, 11);
  EXPECT_EQ(q[3].offset, 100);
}

TEST(KeyGateTest, RestoreReplacesAPartitionAndSkipsItsStaleRecordsOnce) {
  KeyGate g(10);
  ASSERT_TRUE(g.hold(3, "old", in(1)));
  ASSERT_TRUE(g.hold(4, "other", in(2)));
  const auto b =
      rebuild_backlog(3, {rec(20, "a", 100), rec(21, "a", 101), rec(22, "a", 150)}, {{"orders", 150}});
  g.restore(3, b);
  EXPECT_FALSE(g.held(3, "old")) << "the partition's earlier state is gone";
  EXPECT_TRUE(g.held(4, "other")) << "other partitions keep theirs";
  EXPECT_EQ(g.count(3, "a"), 2U);
  EXPECT_EQ(g.size(), 2U);
  const std::string a = "a";
  EXPECT_EQ(g.retry_step(3, 22, &a, in(150)), Step::Skip);
  EXPECT_EQ(g.retry_step(3, 21, &a, in(101)), Step::Follow);
  EXPECT_EQ(g.retry_step(3, 20, &a, in(100)), Step::Process);
  // The input is read again from 150: held, so parked behind, and its new copy is not skipped.
  EXPECT_TRUE(g.held(3, a));
  ASSERT_TRUE(g.hold(3, a, in(150)));
  g.release(3, a, in(100));
  g.release(3, a, in(101));
  EXPECT_EQ(g.retry_step(3, 30, &a, in(150)), Step::Process);
}

TEST(KeyGateTest, RestoreRespectsTheBound) {
  KeyGate g(2);
  ASSERT_TRUE(g.hold(0, "x", in(1)));
  RetryBacklog b;
  b.pending = {{"a", {in(5)}}, {"b", {in(6)}}};
  g.restore(1, b);
  EXPECT_EQ(g.size(), 2U);
  EXPECT_EQ(g.overflowed(), 1U);
}

}  // namespace
