// Order-preserving retries (--retry-ordering key, docs/design.md "Key ordering"). Per partition and key,
// the records of the key on the retry path, in the order they must be processed: the order in which the
// stage first took them off its input topics. A record read back from the retry topic is processed only
// when it is the first of its key; any other pending record of the key is parked again behind it. Order
// does not depend on where records lie in the retry partition, so records parked while others are being
// parked again cannot overtake them.
//
// State is kept per partition number because the stage co-partitions (range assignor, a retry record
// written to the partition number of its input): input partition p and retry partition p belong to one
// instance at a time, and only that instance writes retry records of p. On assignment the state of p is
// rebuilt from the retry partition itself (rebuild_backlog), on revoke it is dropped.
//
// In memory and bounded: when the bound on keys is hit, new keys are not gated (order then holds only
// best-effort) and `overflowed()` counts it. Pure; not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "orderflow/messaging/retry_policy.h"

namespace orderflow::messaging {

// A record on the retry path is identified by where it was first read (x-original-*; Origin).
[[nodiscard]] inline bool same_record(const Origin& a, const Origin& b) {
  return a.offset == b.offset && a.partition == b.partition && a.topic == b.topic;
}

// One record of a retry partition as the rebuild reads it back.
struct RetryRecordInfo {
  std::int64_t offset = -1;
  std::optional<std::string> key;
  Origin origin;  // from x-original-*; topic "" when absent
};

// What the owner of retry partition p must know before it processes records of p.
struct RetryBacklog {
  // key → its pending records in processing order (per input topic in input offset order).
  std::unordered_map<std::string, std::vector<Origin>> pending;
  // Retry records whose input record lies at or past the group's committed offset of its input partition:
  // that input is read and processed again, so this copy is stale and is consumed without processing
  // (processing it could put it ahead of earlier records of its key that are read again from the input).
  std::unordered_set<std::int64_t> skip;
};

// `records`: retry partition `partition` from the group's committed offset to its end, in offset order.
// `input_committed`: input topic → the group's committed offset of its partition `partition` (absent or
// negative: unknown, nothing of that topic is considered stale).
RetryBacklog rebuild_backlog(std::int32_t partition, const std::vector<RetryRecordInfo>& records,
                             const std::map<std::string, std::int64_t>& input_committed);

class KeyGate {
 public:
  // --retry-ordering-max-keys' default.
  static constexpr std::size_t kDefaultMaxKeys = 100000;

  explicit KeyGate(std::size_t max_keys = kDefaultMaxKeys) : max_keys_(max_keys) {}

  // Whether `key` has records on the retry path (a new input record of it must queue behind them).
  [[nodiscard]] bool held(std::int32_t partition, std::string_view key) const;
  // How many records of `key` are on the retry path (0 when none, or the key was not gated).
  [[nodiscard]] std::size_t count(std::int32_t partition, std::string_view key) const;
  // `record` of `key` went onto the retry path, last in its key's order; false when the bound refused a
  // new key.
  bool hold(std::int32_t partition, std::string_view key, const Origin& record);
  // `record` of `key` left the retry path (processed or dead-lettered); no-op when it is not pending.
  void release(std::int32_t partition, std::string_view key, const Origin& record);

  enum class RetryStep {
    Process,  // handle it: first of its key, a key not gated, or a copy of a record already done
    Follow,   // an earlier record of its key is pending: park it again
    Skip,     // stale copy (RetryBacklog::skip): consume without processing
  };
  // For the retry record at `offset` of retry partition `partition` (key may be null), first read as
  // `record`. A skip entry is used up by its decision.
  RetryStep retry_step(std::int32_t partition, std::int64_t offset, const std::string* key,
                       const Origin& record);

  // Replaces the state of `partition` with a rebuilt backlog (keys beyond the bound are not held).
  void restore(std::int32_t partition, const RetryBacklog& backlog);
  // Forgets `partition` (revoked: its next owner rebuilds it).
  void drop(std::int32_t partition);

  [[nodiscard]] std::size_t size() const { return keys_; }
  [[nodiscard]] std::uint64_t overflowed() const { return overflowed_; }
  // First records given up on: their key's other records were parked again many more times than a pass
  // over the retry partition can explain, so the first one is not coming back (deleted by retention before
  // it was read). Without this the others would be parked again for ever.
  [[nodiscard]] std::uint64_t abandoned() const { return abandoned_; }
  void clear() {
    parts_.clear();
    keys_ = 0;
  }

 private:
  struct Partition {
    std::unordered_map<std::string, std::deque<Origin>> queues;  // never empty: a key is erased with its last
    std::unordered_map<std::string, std::size_t> follows;  // key → parked again since its first was read
    std::unordered_set<std::int64_t> skip;
  };
  std::size_t max_keys_;
  std::unordered_map<std::int32_t, Partition> parts_;
  std::size_t keys_ = 0;  // held keys over all partitions
  std::uint64_t overflowed_ = 0;
  std::uint64_t abandoned_ = 0;
};

}  // namespace orderflow::messaging
