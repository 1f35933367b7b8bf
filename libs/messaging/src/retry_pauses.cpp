#include "orderflow/messaging/retry_pauses.h"

#include <algorithm>

namespace orderflow::messaging {

RetryPauses::Check RetryPauses::check(const TopicPartitionKey& tp, std::int64_t offset,
                                      std::optional<std::int64_t> not_before, std::int64_t now_ms) {
  if (!capped_.empty()) {
    if (auto capped = capped_.find(tp); capped != capped_.end()) {
      // The record whose x-not-before was capped, read again after its capped wait: due now. Any other
      // record of the partition (the capped one was consumed meanwhile) is judged by its own header.
      if (capped->second == offset) not_before.reset();
      capped_.erase(capped);
    }
  }
  Check check;
  if (!not_before || *not_before <= now_ms) return check;
  check.due = false;
  check.due_ms = *not_before;
  const auto latest = now_ms + longest_backoff_.count();
  if (*not_before > latest) {
    check.capped = true;
    check.not_before = *not_before;
    check.due_ms = latest;
    capped_[tp] = offset;
  }
  due_[tp] = check.due_ms;
  return check;
}

std::chrono::milliseconds RetryPauses::poll_timeout(std::chrono::milliseconds timeout,
                                                    std::int64_t now_ms) const {
  for (const auto& [tp, due] : due_) {
    timeout = std::min(timeout, std::chrono::milliseconds(std::max<std::int64_t>(0, due - now_ms)));
  }
  return timeout;
}

std::vector<TopicPartitionKey> RetryPauses::take_due(std::int64_t now_ms) {
  std::vector<TopicPartitionKey> due;
  for (auto it = due_.begin(); it != due_.end();) {
    if (it->second <= now_ms) {
      due.push_back(it->first);
      it = due_.erase(it);
    } else {
      ++it;
    }
  }
  return due;
}

bool RetryPauses::revoke(const TopicPartitionKey& tp) {
  capped_.erase(tp);
  return due_.erase(tp) > 0;
}

std::vector<TopicPartitionKey> RetryPauses::clear() {
  std::vector<TopicPartitionKey> paused;
  paused.reserve(due_.size());
  for (const auto& [tp, due] : due_) paused.push_back(tp);
  due_.clear();
  capped_.clear();
  return paused;
}

}  // namespace orderflow::messaging
