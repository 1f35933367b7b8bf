// Tracks, per assigned partition, which consumed offsets are still in flight and which are done, and
// answers "what may be committed": the highest contiguous done offset + 1, even when completions
// arrive out of order. Pure bookkeeping, no Kafka calls; not thread-safe (one owner thread).
// Completions for a partition that was revoked in the meantime are ignored (its state is detached).
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "orderflow/messaging/topic_partition.h"

namespace orderflow::messaging {

struct CommitOffset {
  std::string topic;
  std::int32_t partition = 0;
  std::int64_t offset = 0;  // the next offset to read (last done + 1)
};

// State of one assigned partition. Handed out as shared_ptr so an in-flight record can complete after
// a revoke without touching freed memory; a detached state is simply ignored.
class PartitionProgress {
 public:
  PartitionProgress(std::string topic, std::int32_t partition)
      : topic_(std::move(topic)), partition_(partition) {}

  // Consumed offsets arrive in increasing order.
  void begin(std::int64_t offset);
  // Marks an offset done; unknown offsets are ignored (returns false).
  bool complete(std::int64_t offset);
  // Next offset to commit, or -1 when nothing was completed yet.
  [[nodiscard]] std::int64_t committable() const { return committable_; }
  [[nodiscard]] std::size_t in_flight() const { return in_flight_; }
  [[nodiscard]] bool detached() const { return detached_; }
  [[nodiscard]] const std::string& topic() const { return topic_; }
  [[nodiscard]] std::int32_t partition() const { return partition_; }

 private:
  friend class OffsetTracker;
  struct Entry {
    std::int64_t offset;
    bool done;
  };
  std::string topic_;
  std::int32_t partition_;
  std::deque<Entry> pending_;
  std::size_t in_flight_ = 0;
  std::int64_t committable_ = -1;
  std::int64_t committed_ = -1;  // last value handed out for commit
  bool detached_ = false;
};

class OffsetTracker {
 public:
  // Starts tracking a partition (fresh state, e.g. after a re-assignment). Idempotent.
  std::shared_ptr<PartitionProgress> assign(const std::string& topic, std::int32_t partition);
  // Stops tracking; in-flight completions for it are ignored from now on.
  void revoke(const std::string& topic, std::int32_t partition);
  void revoke_all();
  // The state of an assigned partition, or nullptr.
  std::shared_ptr<PartitionProgress> find(const std::string& topic, std::int32_t partition) const;

  // Offsets that advanced since they were last handed out (all assigned partitions, or the listed).
  std::vector<CommitOffset> take_committable();
  std::vector<CommitOffset> take_committable(const std::vector<TopicPartitionKey>& only);
  // Puts offsets back when a commit failed, so the next round retries them.
  void commit_failed(const std::vector<CommitOffset>& offsets);
  // Current committable offsets of every partition regardless of what was handed out (for transactions).
  std::vector<CommitOffset> all_committable() const;

  [[nodiscard]] std::size_t in_flight() const;
  [[nodiscard]] std::size_t partitions() const { return parts_.size(); }

 private:
  std::unordered_map<TopicPartitionKey, std::shared_ptr<PartitionProgress>, TopicPartitionKeyHash> parts_;
};

}  // namespace orderflow::messaging
