// KeyOrder (--retry-ordering key): which records are processed, queued behind their key or skipped, how a
// record's outcome moves its key's order, and the rebuild of a retry partition's order on assignment.
#include "orderflow/messaging/key_order.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

using orderflow::messaging::KeyOrder;
using orderflow::messaging::Origin;
using orderflow::messaging::Outcome;
using orderflow::messaging::RetryRecordInfo;
using Admission = KeyOrder::Admission;

constexpr std::int32_t kP = 3;
const std::string kKey = "cust-1";
const std::string kOther = "cust-2";

// An input record of orders[3].
Origin in(std::int64_t offset) {
  return Origin{"orders", kP, offset};
}

// A main-topic record of `key` at `offset`, admitted and routed with `outcome` when processed or queued.
Admission input(KeyOrder& order, const std::string* key, std::int64_t offset, Outcome outcome) {
  const auto admission = order.admit(kP, offset, key, false, in(offset)).admission;
  order.settle(kP, key, false, in(offset), outcome);
  return admission;
}

// A retry record at `retry_offset` of retry partition 3, first read at orders[3]@`first`.
Admission retry(KeyOrder& order, const std::string* key, std::int64_t retry_offset, std::int64_t first,
                Outcome outcome) {
  const auto admission = order.admit(kP, retry_offset, key, true, in(first)).admission;
  order.settle(kP, key, true, in(first), outcome);
  return admission;
}

TEST(KeyOrderTest, DisabledProcessesEverythingAndKeepsNothing) {
  KeyOrder order(false);
  EXPECT_FALSE(order.enabled());
  EXPECT_EQ(input(order, &kKey, 10, Outcome::Retried), Admission::Process);
  EXPECT_EQ(input(order, &kKey, 11, Outcome::Success), Admission::Process);
  EXPECT_EQ(retry(order, &kKey, 0, 10, Outcome::Success), Admission::Process);
  EXPECT_EQ(order.keys(), 0U);
}

TEST(KeyOrderTest, ARetriedInputHoldsItsKeyUntilItLeavesTheRetryPath) {
  KeyOrder order(true);
  EXPECT_EQ(input(order, &kKey, 10, Outcome::Retried), Admission::Process);
  EXPECT_EQ(order.keys(), 1U);
  // A later record of the key queues behind it (and is parked: Retried), another key goes on.
  EXPECT_EQ(input(order, &kKey, 11, Outcome::Retried), Admission::Queue);
  EXPECT_EQ(input(order, &kOther, 12, Outcome::Success), Admission::Process);
  // Read back in order: the first is processed, the parked one follows once the first has left.
  EXPECT_EQ(retry(order, &kKey, 0, 10, Outcome::Success), Admission::Process);
  EXPECT_EQ(retry(order, &kKey, 1, 11, Outcome::Success), Admission::Process);
  EXPECT_EQ(order.keys(), 0U);
  EXPECT_EQ(input(order, &kKey, 13, Outcome::Success), Admission::Process);
}

TEST(KeyOrderTest, AParkedRecordReadBeforeItsFirstIsQueuedAgain) {
  KeyOrder order(true);
  input(order, &kKey, 10, Outcome::Retried);
  input(order, &kKey, 11, Outcome::Retried);  // parked
  // The first one failed again: it went to the back of the retry partition, still first of its key.
  EXPECT_EQ(retry(order, &kKey, 0, 10, Outcome::Retried), Admission::Process);
  EXPECT_EQ(retry(order, &kKey, 1, 11, Outcome::Retried), Admission::Queue);
  EXPECT_EQ(retry(order, &kKey, 2, 10, Outcome::Success), Admission::Process);
  EXPECT_EQ(retry(order, &kKey, 3, 11, Outcome::Success), Admission::Process);
  EXPECT_EQ(order.keys(), 0U);
}

TEST(KeyOrderTest, ADeadLetteredRecordLetsItsKeyGo) {
  KeyOrder order(true);
  input(order, &kKey, 10, Outcome::Retried);
  EXPECT_EQ(retry(order, &kKey, 0, 10, Outcome::DeadLettered), Admission::Process);
  EXPECT_EQ(order.keys(), 0U);
  // Poison queued behind its key is dead-lettered at once and does not hold the key.
  input(order, &kKey, 11, Outcome::Retried);
  EXPECT_EQ(input(order, &kKey, 12, Outcome::DeadLettered), Admission::Queue);
  EXPECT_EQ(retry(order, &kKey, 1, 11, Outcome::Success), Admission::Process);
  EXPECT_EQ(order.keys(), 0U);
}

TEST(KeyOrderTest, RecordsWithoutAKeyAreNeverQueued) {
  KeyOrder order(true);
  EXPECT_EQ(input(order, nullptr, 10, Outcome::Retried), Admission::Process);
  EXPECT_EQ(input(order, nullptr, 11, Outcome::Success), Admission::Process);
  EXPECT_EQ(retry(order, nullptr, 0, 10, Outcome::Success), Admission::Process);
  EXPECT_EQ(order.keys(), 0U);
}

TEST(KeyOrderTest, RestoreHoldsPendingKeysAndSkipsStaleCopies) {
  KeyOrder order(true);
  // Retry partition 3: orders@10 and @11 of cust-1, orders@30 of cust-2; the group's committed offset of
  // orders[3] is 20, so orders@30 is read again from the input and its retry copy is stale.
  const std::vector<RetryRecordInfo> records = {{5, kKey, in(10)}, {6, kKey, in(11)}, {7, kOther, in(30)}};
  const auto restored = order.restore(kP, records, {{"orders", 20}});
  EXPECT_EQ(restored.pending, 2U);
  EXPECT_EQ(restored.stale, 1U);
  EXPECT_EQ(order.keys(), 1U);
  EXPECT_EQ(input(order, &kKey, 40, Outcome::Retried), Admission::Queue);
  EXPECT_EQ(retry(order, &kOther, 7, 30, Outcome::Success), Admission::Skip);
  EXPECT_EQ(retry(order, &kKey, 6, 11, Outcome::Retried), Admission::Queue);
  EXPECT_EQ(retry(order, &kKey, 5, 10, Outcome::Success), Admission::Process);
}

TEST(KeyOrderTest, ASkippedCopyDoesNotReleaseItsKey) {
  KeyOrder order(true);
  const std::vector<RetryRecordInfo> records = {{5, kKey, in(30)}, {6, kKey, in(11)}};
  order.restore(kP, records, {{"orders", 20}});
  ASSERT_EQ(order.keys(), 1U);
  EXPECT_EQ(retry(order, &kKey, 5, 30, Outcome::Skipped), Admission::Skip);
  EXPECT_EQ(order.keys(), 1U);
}

TEST(KeyOrderTest, DropAndClearForgetTheOrder) {
  KeyOrder order(true);
  input(order, &kKey, 10, Outcome::Retried);
  order.drop(kP);
  EXPECT_EQ(order.keys(), 0U);
  EXPECT_EQ(input(order, &kKey, 11, Outcome::Retried), Admission::Process);
  order.clear();
  EXPECT_EQ(order.keys(), 0U);
}

TEST(KeyOrderTest, TheBoundLeavesNewKeysUngated) {
  KeyOrder order(true, 1);
  input(order, &kKey, 10, Outcome::Retried);
  input(order, &kOther, 11, Outcome::Retried);  // over the bound: not held
  EXPECT_EQ(order.keys(), 1U);
  EXPECT_EQ(order.overflowed(), 1U);
  EXPECT_EQ(input(order, &kOther, 12, Outcome::Success), Admission::Process);
  EXPECT_EQ(input(order, &kKey, 13, Outcome::Retried), Admission::Queue);
}

}  // namespace
