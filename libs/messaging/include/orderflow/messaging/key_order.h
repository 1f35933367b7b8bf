// What the stage does with a record, before and after processing it, so that a key's records are processed
// in the order the stage took them off its inputs (--retry-ordering key, docs/design.md "Key ordering"):
// admit() says whether to process it, queue it behind an earlier record of its key (park it on the retry
// topic), or skip a stale retry copy; settle() records where it went. Holds the KeyGate (the per-partition,
// per-key state) and rebuilds it from a retry partition's records on assignment. Disabled (the default
// --retry-ordering none), every record is processed and nothing is kept. Pure; not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "orderflow/messaging/key_gate.h"
#include "orderflow/messaging/retry_policy.h"
#include "orderflow/messaging/stage_router.h"

namespace orderflow::messaging {

class KeyOrder {
 public:
  explicit KeyOrder(bool enabled, std::size_t max_keys = KeyGate::kDefaultMaxKeys)
      : enabled_(enabled), gate_(max_keys) {}

  [[nodiscard]] bool enabled() const { return enabled_; }

  enum class Admission {
    Process,  // hand it to the handler
    Queue,    // an earlier record of its key is on the retry path: park it behind (poison: dead-letter it)
    Skip,     // a stale retry copy (its input is read again): consume it without processing or outcome
  };
  struct Admit {
    Admission admission = Admission::Process;
    // The first pending record of its key was given up on before this one (deleted by retention before it
    // was read?): key ordering goes on with the next one.
    bool abandoned_first = false;
  };
  // The record at `offset` of `partition`, read from the retry topic or not, with `key` (may be null),
  // first read as `first_read`.
  Admit admit(std::int32_t partition, std::int64_t offset, const std::string* key, bool from_retry,
              const Origin& first_read);

  // The record was routed with `outcome` (processed, queued or dead-lettered): an input record that went onto
  // the retry path joins its key's order; a retry record that left the retry path lets the next one of its
  // key go; a retry record sent round again keeps its place.
  void settle(std::int32_t partition, const std::string* key, bool from_retry, const Origin& first_read,
              Outcome outcome);

  struct Restored {
    std::size_t stale = 0;    // retry records that will be skipped
    std::size_t pending = 0;  // retry records holding their keys
  };
  // Replaces the state of retry partition `partition` with what its records (from the group's committed
  // offset to its end) say; `input_committed`: input topic → the group's committed offset of `partition`.
  Restored restore(std::int32_t partition, const std::vector<RetryRecordInfo>& records,
                   const std::map<std::string, std::int64_t>& input_committed);
  // Retry partition `partition` was revoked: its next owner rebuilds it.
  void drop(std::int32_t partition) { gate_.drop(partition); }
  // The input was rewound: every partition is rebuilt.
  void clear() { gate_.clear(); }

  [[nodiscard]] std::size_t keys() const { return gate_.size(); }
  [[nodiscard]] std::uint64_t overflowed() const { return gate_.overflowed(); }

 private:
  bool enabled_;
  KeyGate gate_;
};

}  // namespace orderflow::messaging
