// OffsetTracker / PartitionProgress: the committed offset is the highest contiguous done offset + 1, whatever
// the completion order, the gaps between offsets, duplicates, revokes and failed commits. Ends with a
// randomized comparison against a deliberately naive model.
#include "orderflow/messaging/offset_tracker.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <vector>

namespace {

using orderflow::messaging::CommitOffset;
using orderflow::messaging::OffsetTracker;
using orderflow::messaging::PartitionProgress;
using orderflow::messaging::TopicPartitionKey;

using Triple = std::tuple<std::string, std::int32_t, std::int64_t>;

std::vector<Triple> sorted(const std::vector<CommitOffset>& offsets) {
  std::vector<Triple> out;
  out.reserve(offsets.size());
  for (const auto& c : offsets) out.emplace_back(c.topic, c.partition, c.offset);
  std::sort(out.begin(), out.end());
  return out;
}

void begin_range(PartitionProgress& p, std::int64_t first, std::int64_t last) {
  for (std::int64_t o = first; o <= last; ++o) p.begin(o);
}

// ---- PartitionProgress
// -------------------------------------------------------------------------------------

TEST(PartitionProgressTest, FreshStateHasNothingToCommit) {
  PartitionProgress p("orders", 3);
  EXPECT_EQ(p.committable(), -1);
  EXPECT_EQ(p.in_flight(), 0U);
  EXPECT_FALSE(p.detached());
  EXPECT_EQ(p.topic(), "orders");
  EXPECT_EQ(p.partition(), 3);
}

TEST(PartitionProgressTest, InOrderCompletionAdvancesOneByOne) {
  PartitionProgress p("orders", 0);
  begin_range(p, 0, 4);
  EXPECT_EQ(p.in_flight(), 5U);
  for (std::int64_t o = 0; o <= 4; ++o) {
    EXPECT_TRUE(p.complete(o));
    EXPECT_EQ(p.committable(), o + 1) << "committed offset is the NEXT offset to read";
    EXPECT_EQ(p.in_flight(), static_cast<std::size_t>(4 - o));
  }
}

TEST(PartitionProgressTest, OutOfOrderCompletionWaitsForTheLowestInFlight) {
  PartitionProgress p("orders", 0);
  begin_range(p, 10, 14);
  EXPECT_TRUE(p.complete(12));
  EXPECT_TRUE(p.complete(13));
  EXPECT_EQ(p.committable(), -1) << "10 and 11 are still in flight";
  EXPECT_EQ(p.in_flight(), 3U);
  EXPECT_TRUE(p.complete(10));
  EXPECT_EQ(p.committable(), 11);
  EXPECT_TRUE(p.complete(11));
  EXPECT_EQ(p.committable(), 14) << "11, 12 and 13 are done: jump over them";
  EXPECT_EQ(p.in_flight(), 1U);
  EXPECT_TRUE(p.complete(14));
  EXPECT_EQ(p.committable(), 15);
  EXPECT_EQ(p.in_flight(), 0U);
}

TEST(PartitionProgressTest, ReverseOrderCompletionCommitsEverythingAtTheEnd) {
  PartitionProgress p("orders", 0);
  begin_range(p, 0, 99);
  for (std::int64_t o = 99; o >= 1; --o) {
    ASSERT_TRUE(p.complete(o));
    ASSERT_EQ(p.committable(), -1);
  }
  EXPECT_TRUE(p.complete(0));
  EXPECT_EQ(p.committable(), 100);
  EXPECT_EQ(p.in_flight(), 0U);
}

TEST(PartitionProgressTest, GapsBetweenOffsetsDoNotBlockProgress) {
  // Compacted topics and transaction markers leave holes: consumed offsets need not be contiguous.
  PartitionProgress p("orders", 0);
  for (std::int64_t o : {5, 9, 20, 21, 40}) p.begin(o);
  EXPECT_TRUE(p.complete(9));
  EXPECT_EQ(p.committable(), -1);
  EXPECT_TRUE(p.complete(5));
  EXPECT_EQ(p.committable(), 10) << "5 and 9 done; 6-8 do not exist; next to read is 10";
  EXPECT_TRUE(p.complete(21));
  EXPECT_EQ(p.committable(), 10);
  EXPECT_TRUE(p.complete(20));
  EXPECT_EQ(p.committable(), 22);
  EXPECT_TRUE(p.complete(40));
  EXPECT_EQ(p.committable(), 41);
}

TEST(PartitionProgressTest, FirstOffsetNeedNotBeZero) {
  PartitionProgress p("orders", 0);
  p.begin(1'000'000'000'000LL);
  EXPECT_TRUE(p.complete(1'000'000'000'000LL));
  EXPECT_EQ(p.committable(), 1'000'000'000'001LL);
}

TEST(PartitionProgressTest, DuplicateCompletionIsIgnored) {
  PartitionProgress p("orders", 0);
  begin_range(p, 0, 2);
  EXPECT_TRUE(p.complete(1));
  EXPECT_FALSE(p.complete(1)) << "second completion of a pending offset";
  EXPECT_EQ(p.in_flight(), 2U) << "in_flight must not be decremented twice";
  EXPECT_TRUE(p.complete(0));
  EXPECT_EQ(p.committable(), 2);
  EXPECT_FALSE(p.complete(0)) << "second completion of an offset already retired";
  EXPECT_FALSE(p.complete(1));
  EXPECT_EQ(p.committable(), 2);
  EXPECT_EQ(p.in_flight(), 1U);
}

TEST(PartitionProgressTest, UnknownCompletionIsIgnored) {
  PartitionProgress p("orders", 0);
  EXPECT_FALSE(p.complete(0)) << "nothing begun yet";
  for (std::int64_t o : {10, 12, 14}) p.begin(o);
  EXPECT_FALSE(p.complete(9)) << "below every pending offset";
  EXPECT_FALSE(p.complete(11)) << "inside a gap";
  EXPECT_FALSE(p.complete(13)) << "inside a gap";
  EXPECT_FALSE(p.complete(15)) << "above every pending offset";
  EXPECT_FALSE(p.complete(-1));
  EXPECT_EQ(p.in_flight(), 3U);
  EXPECT_EQ(p.committable(), -1);
  EXPECT_TRUE(p.complete(10));
  EXPECT_EQ(p.committable(), 11);
}

TEST(PartitionProgressTest, CommittableNeverMovesBackwards) {
  PartitionProgress p("orders", 0);
  begin_range(p, 0, 3);
  ASSERT_TRUE(p.complete(0));
  ASSERT_TRUE(p.complete(1));
  ASSERT_EQ(p.committable(), 2);
  p.begin(4);
  EXPECT_EQ(p.committable(), 2) << "beginning more work keeps what is already committable";
  ASSERT_TRUE(p.complete(3));
  EXPECT_EQ(p.committable(), 2);
  ASSERT_TRUE(p.complete(2));
  EXPECT_EQ(p.committable(), 4);
}

TEST(PartitionProgressTest, DrainedThenRefilled) {
  PartitionProgress p("orders", 0);
  p.begin(0);
  ASSERT_TRUE(p.complete(0));
  ASSERT_EQ(p.committable(), 1);
  ASSERT_EQ(p.in_flight(), 0U);
  p.begin(7);
  p.begin(8);
  EXPECT_EQ(p.committable(), 1);
  ASSERT_TRUE(p.complete(8));
  EXPECT_EQ(p.committable(), 1);
  ASSERT_TRUE(p.complete(7));
  EXPECT_EQ(p.committable(), 9);
}

// ---- OffsetTracker: assignment lifecycle
// -------------------------------------------------------------------

TEST(OffsetTrackerTest, AssignIsIdempotentAndKeepsState) {
  OffsetTracker t;
  auto a = t.assign("orders", 0);
  a->begin(0);
  ASSERT_TRUE(a->complete(0));
  auto b = t.assign("orders", 0);
  EXPECT_EQ(a.get(), b.get());
  EXPECT_EQ(b->committable(), 1);
  EXPECT_EQ(t.partitions(), 1U);
  EXPECT_EQ(t.find("orders", 0).get(), a.get());
}

TEST(OffsetTrackerTest, FindUnknownPartitionIsNull) {
  OffsetTracker t;
  EXPECT_EQ(t.find("orders", 0), nullptr);
  t.assign("orders", 0);
  EXPECT_EQ(t.find("orders", 1), nullptr);
  EXPECT_EQ(t.find("payments", 0), nullptr);
  EXPECT_NE(t.find("orders", 0), nullptr);
}

TEST(OffsetTrackerTest, SamePartitionNumberOnDifferentTopicsIsSeparate) {
  OffsetTracker t;
  auto o = t.assign("orders", 0);
  auto r = t.assign("payment-service.retry", 0);
  ASSERT_NE(o.get(), r.get());
  o->begin(5);
  r->begin(5);
  ASSERT_TRUE(o->complete(5));
  EXPECT_EQ(o->committable(), 6);
  EXPECT_EQ(r->committable(), -1);
  EXPECT_EQ(t.in_flight(), 1U);
}

TEST(OffsetTrackerTest, RevokeMidFlightThenLateCompletionsAreIgnored) {
  OffsetTracker t;
  auto p = t.assign("orders", 2);
  begin_range(*p, 0, 4);
  ASSERT_TRUE(p->complete(1));
  ASSERT_EQ(t.in_flight(), 4U);

  t.revoke("orders", 2);
  EXPECT_TRUE(p->detached());
  EXPECT_EQ(t.find("orders", 2), nullptr);
  EXPECT_EQ(t.partitions(), 0U);
  EXPECT_EQ(t.in_flight(), 0U) << "a revoked partition no longer counts";

  // Delivery reports that arrive after the revoke must not change anything (nor crash).
  EXPECT_FALSE(p->complete(0));
  EXPECT_FALSE(p->complete(2));
  EXPECT_EQ(p->committable(), -1);
  EXPECT_TRUE(t.take_committable().empty());
  EXPECT_TRUE(t.all_committable().empty());
}

TEST(OffsetTrackerTest, CompletionOutlivesTheTracker) {
  // The shared_ptr handed to an in-flight record keeps the state alive after the tracker is gone.
  std::shared_ptr<PartitionProgress> p;
  {
    OffsetTracker t;
    p = t.assign("orders", 0);
    p->begin(0);
    t.revoke_all();
  }
  EXPECT_FALSE(p->complete(0));
  EXPECT_TRUE(p->detached());
}

TEST(OffsetTrackerTest, ReassignmentAfterRevokeGivesFreshState) {
  OffsetTracker t;
  auto old_state = t.assign("orders", 1);
  begin_range(*old_state, 0, 9);
  for (std::int64_t o = 0; o < 5; ++o) ASSERT_TRUE(old_state->complete(o));
  ASSERT_EQ(t.take_committable().size(), 1U);

  t.revoke("orders", 1);
  auto fresh = t.assign("orders", 1);
  ASSERT_NE(fresh.get(), old_state.get());
  EXPECT_FALSE(fresh->detached());
  EXPECT_EQ(fresh->committable(), -1);
  EXPECT_EQ(fresh->in_flight(), 0U);
  EXPECT_TRUE(t.take_committable().empty()) << "nothing handed out for the fresh state";

  // The new owner resumes from the committed offset 5 and re-reads 5..9.
  begin_range(*fresh, 5, 9);
  // Late completions of the old state's offsets must not leak into the fresh one.
  for (std::int64_t o = 5; o <= 9; ++o) EXPECT_FALSE(old_state->complete(o));
  EXPECT_EQ(fresh->in_flight(), 5U);
  EXPECT_EQ(fresh->committable(), -1);
  ASSERT_TRUE(fresh->complete(5));
  EXPECT_EQ(sorted(t.take_committable()), (std::vector<Triple>{{"orders", 1, 6}}));
}

TEST(OffsetTrackerTest, RevokeUnknownPartitionIsANoOp) {
  OffsetTracker t;
  auto p = t.assign("orders", 0);
  t.revoke("orders", 1);
  t.revoke("payments", 0);
  EXPECT_EQ(t.partitions(), 1U);
  EXPECT_FALSE(p->detached());
}

TEST(OffsetTrackerTest, RevokeAllDetachesEveryPartition) {
  OffsetTracker t;
  std::vector<std::shared_ptr<PartitionProgress>> states;
  for (int i = 0; i < 6; ++i) {
    states.push_back(t.assign("orders", i));
    states.back()->begin(0);
  }
  ASSERT_EQ(t.in_flight(), 6U);
  t.revoke_all();
  EXPECT_EQ(t.partitions(), 0U);
  EXPECT_EQ(t.in_flight(), 0U);
  for (auto& s : states) {
    EXPECT_TRUE(s->detached());
    EXPECT_FALSE(s->complete(0));
  }
  EXPECT_TRUE(t.take_committable().empty());
}

// ---- OffsetTracker: hand-out for commit
// ---------------------------------------------------------------------

TEST(OffsetTrackerTest, TakeCommittableOnlyReturnsAdvancedPartitions) {
  OffsetTracker t;
  auto p0 = t.assign("orders", 0);
  auto p1 = t.assign("orders", 1);
  auto p2 = t.assign("orders", 2);
  begin_range(*p0, 0, 9);
  begin_range(*p1, 0, 9);
  begin_range(*p2, 0, 9);
  EXPECT_TRUE(t.take_committable().empty()) << "nothing done yet";

  ASSERT_TRUE(p0->complete(0));
  ASSERT_TRUE(p2->complete(1));  // out of order: p2 not committable yet
  EXPECT_EQ(sorted(t.take_committable()), (std::vector<Triple>{{"orders", 0, 1}}));
  EXPECT_TRUE(t.take_committable().empty()) << "already handed out";

  ASSERT_TRUE(p1->complete(0));
  ASSERT_TRUE(p1->complete(1));
  EXPECT_EQ(sorted(t.take_committable()), (std::vector<Triple>{{"orders", 1, 2}}));

  ASSERT_TRUE(p2->complete(0));
  ASSERT_TRUE(p0->complete(1));
  EXPECT_EQ(sorted(t.take_committable()), (std::vector<Triple>{{"orders", 0, 2}, {"orders", 2, 2}}));
  EXPECT_TRUE(t.take_committable().empty());

  // Completing an offset that does not advance the contiguous prefix hands out nothing.
  ASSERT_TRUE(p0->complete(5));
  EXPECT_TRUE(t.take_committable().empty());
}

TEST(OffsetTrackerTest, TakeCommittableForListedPartitionsOnly) {
  OffsetTracker t;
  auto p0 = t.assign("orders", 0);
  auto p1 = t.assign("orders", 1);
  p0->begin(0);
  p1->begin(0);
  ASSERT_TRUE(p0->complete(0));
  ASSERT_TRUE(p1->complete(0));

  const std::vector<TopicPartitionKey> only{{"orders", 1}, {"orders", 7}, {"payments", 0}};
  EXPECT_EQ(sorted(t.take_committable(only)), (std::vector<Triple>{{"orders", 1, 1}}))
      << "unknown partitions in the list are skipped";
  EXPECT_TRUE(t.take_committable(only).empty());
  EXPECT_EQ(sorted(t.take_committable()), (std::vector<Triple>{{"orders", 0, 1}}))
      << "the unlisted partition still has its offset to hand out";
  EXPECT_TRUE(t.take_committable(std::vector<TopicPartitionKey>{}).empty());
}

TEST(OffsetTrackerTest, CommitFailedHandsTheOffsetOutAgain) {
  OffsetTracker t;
  auto p = t.assign("orders", 0);
  begin_range(*p, 0, 2);
  ASSERT_TRUE(p->complete(0));
  const auto first = t.take_committable();
  ASSERT_EQ(sorted(first), (std::vector<Triple>{{"orders", 0, 1}}));
  ASSERT_TRUE(t.take_committable().empty());

  t.commit_failed(first);
  EXPECT_EQ(sorted(t.take_committable()), (std::vector<Triple>{{"orders", 0, 1}}));
  EXPECT_TRUE(t.take_committable().empty());

  // A failed commit followed by progress: the retry carries the newest offset.
  t.commit_failed(first);
  ASSERT_TRUE(p->complete(1));
  EXPECT_EQ(sorted(t.take_committable()), (std::vector<Triple>{{"orders", 0, 2}}));
}

TEST(OffsetTrackerTest, StaleCommitFailureDoesNotRollBackANewerHandOut) {
  OffsetTracker t;
  auto p = t.assign("orders", 0);
  begin_range(*p, 0, 2);
  ASSERT_TRUE(p->complete(0));
  const auto older = t.take_committable();  // offset 1 (async commit in flight)
  ASSERT_TRUE(p->complete(1));
  const auto newer = t.take_committable();  // offset 2
  ASSERT_EQ(sorted(newer), (std::vector<Triple>{{"orders", 0, 2}}));

  t.commit_failed(older);  // the callback of the older commit reports failure late
  EXPECT_TRUE(t.take_committable().empty()) << "offset 2 supersedes the failed offset 1";

  t.commit_failed(newer);
  EXPECT_EQ(sorted(t.take_committable()), (std::vector<Triple>{{"orders", 0, 2}}));
}

TEST(OffsetTrackerTest, CommitFailedForRevokedOrUnknownPartitionIsIgnored) {
  OffsetTracker t;
  auto p = t.assign("orders", 0);
  p->begin(0);
  ASSERT_TRUE(p->complete(0));
  const auto taken = t.take_committable();
  ASSERT_EQ(taken.size(), 1U);
  t.revoke("orders", 0);
  t.commit_failed(taken);
  t.commit_failed({CommitOffset{"nowhere", 3, 10}});
  EXPECT_TRUE(t.take_committable().empty());

  auto fresh = t.assign("orders", 0);
  t.commit_failed(taken);
  EXPECT_TRUE(t.take_committable().empty()) << "the fresh state has nothing done yet";
}

TEST(OffsetTrackerTest, CommitFailedOnlyTouchesTheListedPartitions) {
  OffsetTracker t;
  auto p0 = t.assign("orders", 0);
  auto p1 = t.assign("orders", 1);
  p0->begin(0);
  p1->begin(0);
  ASSERT_TRUE(p0->complete(0));
  ASSERT_TRUE(p1->complete(0));
  const auto taken = t.take_committable();
  ASSERT_EQ(taken.size(), 2U);
  std::vector<CommitOffset> failed;
  for (const auto& c : taken) {
    if (c.partition == 1) failed.push_back(c);
  }
  t.commit_failed(failed);
  EXPECT_EQ(sorted(t.take_committable()), (std::vector<Triple>{{"orders", 1, 1}}));
}

TEST(OffsetTrackerTest, AllCommittableIgnoresHandOutState) {
  OffsetTracker t;
  auto p0 = t.assign("orders", 0);
  auto p1 = t.assign("orders", 1);
  t.assign("orders", 2);  // never completed anything: not listed
  p0->begin(3);
  p1->begin(8);
  ASSERT_TRUE(p0->complete(3));
  ASSERT_TRUE(p1->complete(8));
  (void)t.take_committable();
  const std::vector<Triple> expected{{"orders", 0, 4}, {"orders", 1, 9}};
  EXPECT_EQ(sorted(t.all_committable()), expected);
  EXPECT_EQ(sorted(t.all_committable()), expected) << "all_committable does not consume";
}

TEST(OffsetTrackerTest, InFlightSumsOverPartitions) {
  OffsetTracker t;
  auto a = t.assign("orders", 0);
  auto b = t.assign("payments", 0);
  begin_range(*a, 0, 2);
  begin_range(*b, 100, 103);
  EXPECT_EQ(t.in_flight(), 7U);
  ASSERT_TRUE(a->complete(1));
  ASSERT_TRUE(b->complete(103));
  EXPECT_EQ(t.in_flight(), 5U);
  EXPECT_FALSE(b->complete(103));
  EXPECT_EQ(t.in_flight(), 5U);
}

TEST(OffsetTrackerTest, ManyPartitionsAcrossTopics) {
  OffsetTracker t;
  const std::vector<std::string> topics{"orders", "payments", "notification-service.retry"};
  constexpr int kPartitions = 64;
  std::map<std::pair<std::string, int>, std::shared_ptr<PartitionProgress>> states;
  for (const auto& topic : topics) {
    for (int p = 0; p < kPartitions; ++p) {
      auto s = t.assign(topic, p);
      // Each partition gets a distinct number of records (p + 1) starting at a distinct base.
      begin_range(*s, p * 1000, p * 1000 + p);
      states[{topic, p}] = s;
    }
  }
  EXPECT_EQ(t.partitions(), topics.size() * kPartitions);
  // Complete everything in every partition except the first offset of the odd partitions.
  for (auto& [key, s] : states) {
    const std::int64_t base = key.second * 1000;
    for (std::int64_t o = base + key.second; o >= base; --o) {
      if (key.second % 2 == 1 && o == base) continue;
      ASSERT_TRUE(s->complete(o));
    }
  }
  std::vector<Triple> expected;
  for (const auto& topic : topics) {
    for (int p = 0; p < kPartitions; p += 2) expected.emplace_back(topic, p, p * 1000 + p + 1);
  }
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(sorted(t.take_committable()), expected);
  EXPECT_EQ(t.in_flight(), topics.size() * (kPartitions / 2));

  for (auto& [key, s] : states) {
    if (key.second % 2 == 1) {
      ASSERT_TRUE(s->complete(key.second * 1000));
    }
  }
  expected.clear();
  for (const auto& topic : topics) {
    for (int p = 1; p < kPartitions; p += 2) expected.emplace_back(topic, p, p * 1000 + p + 1);
  }
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(sorted(t.take_committable()), expected);
  EXPECT_EQ(t.in_flight(), 0U);
}

// ---- Randomized comparison against a model
// ------------------------------------------------------------------

// The model keeps every begun offset of the current assignment forever and recomputes everything from
// scratch.
struct ModelPartition {
  std::vector<std::int64_t> begun;  // increasing
  std::set<std::int64_t> done;
  std::int64_t handed_out = -1;
  std::int64_t next_offset = 0;

  [[nodiscard]] std::int64_t committable() const {
    std::int64_t c = -1;
    for (auto o : begun) {
      if (done.count(o) == 0) break;
      c = o + 1;
    }
    return c;
  }
  [[nodiscard]] std::size_t in_flight() const { return begun.size() - done.size(); }
};

TEST(OffsetTrackerPropertyTest, MatchesANaiveModelUnderRandomOperations) {
  const std::vector<TopicPartitionKey> keys{{"orders", 0}, {"orders", 1}, {"orders", 2}, {"payments", 0}};
  for (std::uint64_t seed = 1; seed <= 40; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937_64 rng(seed);
    auto uniform = [&rng](std::int64_t lo, std::int64_t hi) {
      return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng);
    };

    OffsetTracker tracker;
    std::map<std::size_t, ModelPartition> model;  // by index into keys; absent = not assigned
    std::map<std::size_t, std::shared_ptr<PartitionProgress>> live;
    std::vector<std::pair<std::shared_ptr<PartitionProgress>, std::int64_t>> stale;  // revoked in-flight
    std::vector<CommitOffset> last_taken;

    for (int step = 0; step < 1500; ++step) {
      const auto k = static_cast<std::size_t>(uniform(0, static_cast<std::int64_t>(keys.size()) - 1));
      const auto& key = keys[k];
      const auto op = uniform(0, 99);
      if (model.count(k) == 0 || op < 2) {
        // (re-)assign; a revoke first when assigned, like an EAGER rebalance.
        if (model.count(k) != 0) {
          for (auto o : model[k].begun) {
            if (model[k].done.count(o) == 0) stale.emplace_back(live[k], o);
          }
          tracker.revoke(key.topic, key.partition);
          // The new owner resumes at what was committable (as if it had been committed).
          const auto resume = std::max<std::int64_t>(model[k].committable(), 0);
          model[k] = ModelPartition{};
          model[k].next_offset = resume;
        }
        live[k] = tracker.assign(key.topic, key.partition);
        if (model.count(k) == 0) model[k] = ModelPartition{};
      } else if (op < 40) {
        // consume: next offset, sometimes after a gap (compaction, transaction markers)
        auto& m = model[k];
        m.next_offset += uniform(0, 3) == 0 ? uniform(1, 5) : 0;
        live[k]->begin(m.next_offset);
        m.begun.push_back(m.next_offset);
        ++m.next_offset;
      } else if (op < 75) {
        // complete: usually a pending offset, sometimes a duplicate or one never begun
        auto& m = model[k];
        std::int64_t offset = uniform(-2, m.next_offset + 2);
        std::vector<std::int64_t> pending;
        for (auto o : m.begun) {
          if (m.done.count(o) == 0) pending.push_back(o);
        }
        if (!pending.empty() && uniform(0, 3) != 0) {
          offset =
              pending[static_cast<std::size_t>(uniform(0, static_cast<std::int64_t>(pending.size()) - 1))];
        }
        const bool known = std::find(m.begun.begin(), m.begun.end(), offset) != m.begun.end();
        const bool expect_accepted = known && m.done.count(offset) == 0;
        ASSERT_EQ(live[k]->complete(offset), expect_accepted) << "offset " << offset;
        if (expect_accepted) m.done.insert(offset);
      } else if (op < 80) {
        // a late completion of a revoked partition's record
        if (!stale.empty()) {
          const auto i = static_cast<std::size_t>(uniform(0, static_cast<std::int64_t>(stale.size()) - 1));
          ASSERT_FALSE(stale[i].first->complete(stale[i].second));
          stale.erase(stale.begin() + static_cast<std::ptrdiff_t>(i));
        }
      } else if (op < 92) {
        last_taken = tracker.take_committable();
        std::vector<Triple> expected;
        for (auto& [idx, m] : model) {
          const auto c = m.committable();
          if (c > m.handed_out) {
            expected.emplace_back(keys[idx].topic, keys[idx].partition, c);
            m.handed_out = c;
          }
        }
        std::sort(expected.begin(), expected.end());
        ASSERT_EQ(sorted(last_taken), expected) << "step " << step;
      } else {
        // the last commit failed (possibly after newer hand-outs; then it must not roll back)
        tracker.commit_failed(last_taken);
        for (const auto& c : last_taken) {
          for (auto& [idx, m] : model) {
            if (keys[idx].topic == c.topic && keys[idx].partition == c.partition &&
                m.handed_out == c.offset) {
              m.handed_out = -1;
            }
          }
        }
        last_taken.clear();
      }

      // Invariants after every step.
      std::size_t total_in_flight = 0;
      for (const auto& [idx, m] : model) {
        const auto& state = live[idx];
        ASSERT_EQ(tracker.find(keys[idx].topic, keys[idx].partition).get(), state.get());
        ASSERT_EQ(state->committable(), m.committable()) << "step " << step << " key " << idx;
        ASSERT_EQ(state->in_flight(), m.in_flight()) << "step " << step << " key " << idx;
        total_in_flight += m.in_flight();
      }
      ASSERT_EQ(tracker.in_flight(), total_in_flight);
      ASSERT_EQ(tracker.partitions(), model.size());
    }
  }
}

}  // namespace
