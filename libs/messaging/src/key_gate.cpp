#include "orderflow/messaging/key_gate.h"

#include <algorithm>

namespace orderflow::messaging {

RetryBacklog rebuild_backlog(std::int32_t partition, const std::vector<RetryRecordInfo>& records,
                             const std::map<std::string, std::int64_t>& input_committed) {
  RetryBacklog out;
  // Per key, its distinct pending records in order of first appearance in the retry partition.
  std::unordered_map<std::string, std::vector<Origin>> seen;
  for (const auto& r : records) {
    const auto& o = r.origin;
    bool stale = false;
    if (!o.topic.empty() && o.partition == partition && o.offset >= 0) {
      const auto it = input_committed.find(o.topic);
      stale = it != input_committed.end() && it->second >= 0 && o.offset >= it->second;
    }
    if (stale) {
      out.skip.insert(r.offset);
      continue;
    }
    if (!r.key) continue;
    auto& list = seen[*r.key];
    if (std::none_of(list.begin(), list.end(), [&](const Origin& x) { return same_record(x, o); }))
      list.push_back(o);
  }
  // The stage took a key's records off each input topic in offset order, so that is their order on the retry
  // path; where a key spans several input topics their interleaving is taken from the retry partition (the
  // order of first appearance), which is exact unless re-parking has shuffled it.
  for (auto& [key, list] : seen) {
    std::map<std::string, std::vector<std::size_t>> slots;  // topic → positions in `list`
    for (std::size_t i = 0; i < list.size(); ++i) slots[list[i].topic].push_back(i);
    std::vector<Origin> ordered(list.size());
    for (auto& [topic, positions] : slots) {
      std::vector<Origin> of_topic;
      for (const auto i : positions) of_topic.push_back(list[i]);
      std::stable_sort(of_topic.begin(), of_topic.end(), [](const Origin& a, const Origin& b) {
        return a.partition != b.partition ? a.partition < b.partition : a.offset < b.offset;
      });
      for (std::size_t j = 0; j < positions.size(); ++j) ordered[positions[j]] = std::move(of_topic[j]);
    }
    out.pending.emplace(key, std::move(ordered));
  }
  return out;
}

bool KeyGate::held(std::int32_t partition, std::string_view key) const {
  return count(partition, key) > 0;
}

std::size_t KeyGate::count(std::int32_t partition, std::string_view key) const {
  if (keys_ == 0) return 0;
  const auto p = parts_.find(partition);
  if (p == parts_.end()) return 0;
  const auto it = p->second.queues.find(std::string(key));
  return it == p->second.queues.end() ? 0 : it->second.size();
}

bool KeyGate::hold(std::int32_t partition, std::string_view key, const Origin& record) {
  auto& queues = parts_[partition].queues;
  auto it = queues.find(std::string(key));
  if (it != queues.end()) {
    it->second.push_back(record);
    return true;
  }
  if (keys_ >= max_keys_) {
    ++overflowed_;
    return false;
  }
  queues[std::string(key)].push_back(record);
  ++keys_;
  return true;
}

void KeyGate::release(std::int32_t partition, std::string_view key, const Origin& record) {
  const auto p = parts_.find(partition);
  if (p == parts_.end()) return;
  auto it = p->second.queues.find(std::string(key));
  if (it == p->second.queues.end()) return;
  auto& q = it->second;
  const auto at = std::find_if(q.begin(), q.end(), [&](const Origin& x) { return same_record(x, record); });
  if (at == q.end()) return;
  if (at == q.begin()) p->second.follows.erase(it->first);
  q.erase(at);
  if (q.empty()) {
    p->second.queues.erase(it);
    --keys_;
  }
}

KeyGate::RetryStep KeyGate::retry_step(std::int32_t partition, std::int64_t offset, const std::string* key,
                                       const Origin& record) {
  const auto p = parts_.find(partition);
  if (p == parts_.end()) return RetryStep::Process;
  auto& s = p->second;
  if (!s.skip.empty() && s.skip.erase(offset) > 0) return RetryStep::Skip;
  if (key == nullptr) return RetryStep::Process;
  const auto it = s.queues.find(*key);
  if (it == s.queues.end()) return RetryStep::Process;
  auto& q = it->second;
  if (same_record(q.front(), record)) {
    s.follows.erase(*key);
    return RetryStep::Process;
  }
  const bool pending =
      std::any_of(q.begin(), q.end(), [&](const Origin& x) { return same_record(x, record); });
  // Not pending at all: a second copy of a record that is done (read again after a rebalance or a crash).
  // Processing it repeats that record's result, which cannot overtake anything.
  if (!pending) return RetryStep::Process;
  // One pass over the partition parks each pending record again once per copy of it there (a few copies at
  // most, from records processed again after rebalances) before the first comes round; far more means the
  // first is gone. The margin is generous: giving up too early would break the order.
  auto& follows = s.follows[*key];
  if (++follows > 16 * q.size() + 1024) {
    q.pop_front();
    s.follows.erase(*key);
    ++abandoned_;
    if (same_record(q.front(), record)) return RetryStep::Process;
  }
  return RetryStep::Follow;
}

void KeyGate::restore(std::int32_t partition, const RetryBacklog& backlog) {
  drop(partition);
  auto& s = parts_[partition];
  for (const auto& [key, records] : backlog.pending) {
    if (records.empty()) continue;
    if (keys_ >= max_keys_) {
      ++overflowed_;
      continue;
    }
    s.queues.emplace(key, std::deque<Origin>(records.begin(), records.end()));
    ++keys_;
  }
  s.skip = backlog.skip;
}

void KeyGate::drop(std::int32_t partition) {
  const auto p = parts_.find(partition);
  if (p == parts_.end()) return;
  keys_ -= p->second.queues.size();
  parts_.erase(p);
}

}  // namespace orderflow::messaging
