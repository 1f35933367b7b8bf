// RetryPauses (docs/design.md "Retry topic"): a retry record not due yet pauses its partition until its
// x-not-before; due partitions are handed back for resuming; the poll timeout shrinks to the next due time; a
// forged far-future x-not-before is capped at the longest backoff and the record is due when read again; a
// revoke or a rewind forgets the pauses. No broker, no clock: the time is passed in.
#include "orderflow/messaging/retry_pauses.h"

#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <vector>

namespace {

using namespace std::chrono_literals;
using orderflow::messaging::RetryPauses;
using orderflow::messaging::TopicPartitionKey;

constexpr std::int64_t kNow = 1'700'000'000'000;
const TopicPartitionKey kP0{"svc.retry", 0};
const TopicPartitionKey kP1{"svc.retry", 1};

TEST(RetryPausesTest, DueOrUndatedRecordsAreProcessed) {
  RetryPauses pauses(8000ms);
  EXPECT_TRUE(pauses.check(kP0, 10, std::nullopt, kNow).due) << "no (or a malformed) x-not-before";
  EXPECT_TRUE(pauses.check(kP0, 11, kNow, kNow).due);
  EXPECT_TRUE(pauses.check(kP0, 12, kNow - 5, kNow).due);
  EXPECT_TRUE(pauses.empty());
}

TEST(RetryPausesTest, ANotDueRecordPausesItsPartitionUntilItIsDue) {
  RetryPauses pauses(8000ms);
  const auto check = pauses.check(kP0, 10, kNow + 500, kNow);
  EXPECT_FALSE(check.due);
  EXPECT_EQ(check.due_ms, kNow + 500);
  EXPECT_FALSE(check.capped);
  EXPECT_TRUE(pauses.paused(kP0));
  EXPECT_FALSE(pauses.paused(kP1)) << "other partitions go on";
  EXPECT_EQ(pauses.size(), 1U);

  EXPECT_TRUE(pauses.take_due(kNow + 499).empty());
  EXPECT_EQ(pauses.take_due(kNow + 500), (std::vector<TopicPartitionKey>{kP0}));
  EXPECT_FALSE(pauses.paused(kP0));
  EXPECT_TRUE(pauses.take_due(kNow + 1000).empty()) << "handed back once";
}

TEST(RetryPausesTest, ThePollTimeoutEndsAtTheNextDueTime) {
  RetryPauses pauses(8000ms);
  EXPECT_EQ(pauses.poll_timeout(100ms, kNow), 100ms);
  (void)pauses.check(kP0, 1, kNow + 70, kNow);
  (void)pauses.check(kP1, 1, kNow + 30, kNow);
  EXPECT_EQ(pauses.poll_timeout(100ms, kNow), 30ms);
  EXPECT_EQ(pauses.poll_timeout(1ms, kNow), 1ms);
  EXPECT_EQ(pauses.poll_timeout(100ms, kNow + 50), 0ms) << "overdue: poll without waiting";
}

TEST(RetryPausesTest, AForgedFarFutureNotBeforeIsCappedAndDueWhenReadAgain) {
  RetryPauses pauses(8000ms);
  const auto forged = kNow + 365LL * 24 * 3600 * 1000;
  const auto check = pauses.check(kP0, 10, forged, kNow);
  EXPECT_FALSE(check.due);
  EXPECT_TRUE(check.capped);
  EXPECT_EQ(check.not_before, forged);
  EXPECT_EQ(check.due_ms, kNow + 8000) << "no retry of this service is due later than its longest backoff";
  ASSERT_EQ(pauses.take_due(kNow + 8000).size(), 1U);
  // Read again after the capped wait: its header still says next year, but it is due.
  EXPECT_TRUE(pauses.check(kP0, 10, forged, kNow + 8000).due);
  // The next record of the partition is judged by its own header again.
  EXPECT_FALSE(pauses.check(kP0, 11, forged, kNow + 8001).due);
}

TEST(RetryPausesTest, ACappedMarkIsOnlyForItsRecord) {
  RetryPauses pauses(8000ms);
  const auto forged = kNow + 10'000'000;
  (void)pauses.check(kP0, 10, forged, kNow);
  (void)pauses.take_due(kNow + 8000);
  // Another record comes first (the capped one was consumed meanwhile): the mark is dropped.
  EXPECT_TRUE(pauses.check(kP0, 11, std::nullopt, kNow + 8000).due);
  EXPECT_FALSE(pauses.check(kP0, 10, forged, kNow + 8000).due) << "no longer marked";
}

TEST(RetryPausesTest, RevokeAndClearForgetThePauses) {
  RetryPauses pauses(8000ms);
  (void)pauses.check(kP0, 10, kNow + 500, kNow);
  (void)pauses.check(kP1, 10, kNow + 10'000'000, kNow);
  EXPECT_TRUE(pauses.revoke(kP0)) << "was paused: the caller resumes it before it goes";
  EXPECT_FALSE(pauses.revoke(kP0));
  EXPECT_FALSE(pauses.paused(kP0));
  EXPECT_EQ(pauses.clear(), (std::vector<TopicPartitionKey>{kP1}));
  EXPECT_TRUE(pauses.empty());
  EXPECT_FALSE(pauses.check(kP1, 10, kNow + 10'000'000, kNow).due) << "the capped mark went with clear()";
}

}  // namespace
