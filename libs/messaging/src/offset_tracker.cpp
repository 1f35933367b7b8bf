#include "orderflow/messaging/offset_tracker.h"

#include <algorithm>

namespace orderflow::messaging {

void PartitionProgress::begin(std::int64_t offset) {
  pending_.push_back(Entry{offset, false});
  ++in_flight_;
}

bool PartitionProgress::complete(std::int64_t offset) {
  if (detached_ || pending_.empty()) return false;
  auto it = std::lower_bound(pending_.begin(), pending_.end(), offset,
                             [](const Entry& e, std::int64_t o) { return e.offset < o; });
  if (it == pending_.end() || it->offset != offset || it->done) return false;
  it->done = true;
  --in_flight_;
  while (!pending_.empty() && pending_.front().done) {
    committable_ = pending_.front().offset + 1;
    pending_.pop_front();
  }
  return true;
}

std::shared_ptr<PartitionProgress> OffsetTracker::assign(const std::string& topic, std::int32_t partition) {
  TopicPartitionKey key{topic, partition};
  auto it = parts_.find(key);
  if (it != parts_.end()) return it->second;
  auto state = std::make_shared<PartitionProgress>(topic, partition);
  parts_.emplace(std::move(key), state);
  return state;
}

void OffsetTracker::revoke(const std::string& topic, std::int32_t partition) {
  auto it = parts_.find(TopicPartitionKey{topic, partition});
  if (it == parts_.end()) return;
  it->second->detached_ = true;
  parts_.erase(it);
}

void OffsetTracker::revoke_all() {
  for (auto& [k, v] : parts_) v->detached_ = true;
  parts_.clear();
}

std::shared_ptr<PartitionProgress> OffsetTracker::find(const std::string& topic,
                                                       std::int32_t partition) const {
  auto it = parts_.find(TopicPartitionKey{topic, partition});
  return it == parts_.end() ? nullptr : it->second;
}

std::vector<CommitOffset> OffsetTracker::take_committable() {
  std::vector<CommitOffset> out;
  for (auto& [k, p] : parts_) {
    if (p->committable_ > p->committed_) {
      out.push_back(CommitOffset{k.topic, k.partition, p->committable_});
      p->committed_ = p->committable_;
    }
  }
  return out;
}

std::vector<CommitOffset> OffsetTracker::take_committable(const std::vector<TopicPartitionKey>& only) {
  std::vector<CommitOffset> out;
  for (const auto& k : only) {
    auto it = parts_.find(k);
    if (it == parts_.end()) continue;
    auto& p = *it->second;
    if (p.committable_ > p.committed_) {
      out.push_back(CommitOffset{k.topic, k.partition, p.committable_});
      p.committed_ = p.committable_;
    }
  }
  return out;
}

void OffsetTracker::commit_failed(const std::vector<CommitOffset>& offsets) {
  for (const auto& c : offsets) {
    auto it = parts_.find(TopicPartitionKey{c.topic, c.partition});
    if (it == parts_.end()) continue;
    // Only roll back if nothing newer was handed out meanwhile.
    if (it->second->committed_ == c.offset) it->second->committed_ = -1;
  }
}

std::vector<CommitOffset> OffsetTracker::all_committable() const {
  std::vector<CommitOffset> out;
  for (const auto& [k, p] : parts_) {
    if (p->committable_ >= 0) out.push_back(CommitOffset{k.topic, k.partition, p->committable_});
  }
  return out;
}

std::size_t OffsetTracker::in_flight() const {
  std::size_t n = 0;
  for (const auto& [k, p] : parts_) n += p->in_flight_;
  return n;
}

}  // namespace orderflow::messaging
