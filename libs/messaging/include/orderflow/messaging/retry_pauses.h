// Which retry partitions the stage holds back until their head record is due (docs/design.md "Retry topic"):
// a record read from the retry topic whose x-not-before lies ahead pauses its partition at that record, and
// the partition is resumed once that time has come; no thread sleeps on a retry. x-not-before is input like
// any other: no retry record this service writes is due later than now + its longest backoff, so a later
// (forged) value is capped to that, and the record is due once the capped wait is over.
// Pure: the caller passes the time and does the pausing, seeking and resuming on the consumer. Not
// thread-safe: the stage thread only.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <unordered_map>
#include <vector>

#include "orderflow/messaging/topic_partition.h"

namespace orderflow::messaging {

class RetryPauses {
 public:
  // `longest_backoff`: the latest a retry record of this service can be due after it was written
  // (RetryPolicy::delay_after(max_attempts)).
  explicit RetryPauses(std::chrono::milliseconds longest_backoff) : longest_backoff_(longest_backoff) {}

  struct Check {
    bool due = true;          // process it now
    std::int64_t due_ms = 0;  // not due: pause the partition at this record until then
    bool capped = false;      // its x-not-before was later than any retry of this service; due_ms is the cap
    std::int64_t not_before = 0;  // capped: the value the record carried
  };
  // The record at `offset` of retry partition `tp`, with x-not-before `not_before` (nullopt: absent or
  // malformed, due at once), read at `now_ms`. Not due: the partition counts as paused from here on.
  Check check(const TopicPartitionKey& tp, std::int64_t offset, std::optional<std::int64_t> not_before,
              std::int64_t now_ms);

  // Whether `tp` is paused: a record of it still arriving was fetched before the pause took effect and is
  // read again after the resume.
  [[nodiscard]] bool paused(const TopicPartitionKey& tp) const { return !due_.empty() && due_.count(tp) > 0; }
  [[nodiscard]] std::size_t size() const { return due_.size(); }
  [[nodiscard]] bool empty() const { return due_.empty(); }

  // `timeout`, shortened so that a poll returns when the next paused partition is due.
  [[nodiscard]] std::chrono::milliseconds poll_timeout(std::chrono::milliseconds timeout,
                                                       std::int64_t now_ms) const;
  // The paused partitions due at `now_ms`, no longer paused: the caller resumes them.
  std::vector<TopicPartitionKey> take_due(std::int64_t now_ms);
  // `tp` was revoked: forgotten. True when it was paused (the caller resumes it before it goes, so that under
  // an eager protocol it does not come straight back paused with nothing to resume it).
  bool revoke(const TopicPartitionKey& tp);
  // The input was rewound: every pause is dropped; returns the partitions that were paused (to resume).
  std::vector<TopicPartitionKey> clear();

 private:
  std::chrono::milliseconds longest_backoff_;
  std::unordered_map<TopicPartitionKey, std::int64_t, TopicPartitionKeyHash> due_;  // paused → due ms
  // → offset of the record whose far-future x-not-before was capped: due once it is read again.
  std::unordered_map<TopicPartitionKey, std::int64_t, TopicPartitionKeyHash> capped_;
};

}  // namespace orderflow::messaging
