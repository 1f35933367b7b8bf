// A bounded de-duplication window over notification ids: remembers the most recent `capacity` ids and
// evicts the least recently seen. A notification's id is derived from (order_id, kind) (docs/contract.md §5
// Events, events::notification_id_for), so remembering ids is remembering those pairs, in 16 bytes each.
// Flat storage, allocated once: the entries and their recency list live in one vector (indices instead
// of pointers) and an open-addressing index (linear probing, no tombstones) maps a key to its entry. An
// index slot keeps 32 bits of its key's hash next to the entry number, so probing and deletion compare
// and re-home slots without reading the entries: a miss costs one cache miss, a hit two, and no division;
// ≈ 4.4 MiB at the default 100,000.
// In memory only: after a restart, duplicates older than the restart are caught by downstream consumers
// through the same notification_id. Not thread-safe.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace orderflow::notification {

class DedupeWindow {
 public:
  using Key = std::array<std::uint8_t, 16>;

  explicit DedupeWindow(std::size_t capacity);

  [[nodiscard]] bool contains(const Key& key) const { return index_[find(key, hash_of(key))].entry != kNone; }
  // Remembers key (or refreshes it); returns how many entries were evicted to make room (0 or 1).
  std::size_t insert(const Key& key);
  // A hint, no effect on the contents: starts loading what contains(key) and insert(key) will read (the
  // key's index slot and, when full, the slot of the entry insert would evict), so that a caller with
  // other work to do first does not wait on those cache misses later.
  void prefetch(const Key& key) const;
  void clear();
  [[nodiscard]] std::size_t size() const { return size_; }
  [[nodiscard]] std::uint64_t evictions() const { return evictions_; }

  // The 16 bytes of a canonical UUID text (8-4-4-4-12 hex digits, either case), such as a
  // notification_id. Throws std::invalid_argument for anything else.
  static Key key_of(std::string_view notification_id);

 private:
  static constexpr std::uint32_t kNone = 0xffffffffU;
  struct Entry {
    Key key;
    std::uint32_t newer;  // towards head_
    std::uint32_t older;  // towards tail_
  };
  struct Slot {
    std::uint32_t entry;  // kNone = empty
    std::uint32_t hash;   // hash_of(entries_[entry].key); its low bits are the slot's home
  };
  static std::uint32_t hash_of(const Key& key);
  // The index position holding `key` (whose hash is `hash`), or the empty position where it would go.
  [[nodiscard]] std::size_t find(const Key& key, std::uint32_t hash) const;
  void erase_at(std::size_t pos);  // backward-shift deletion
  void unlink(std::uint32_t e);
  void push_front(std::uint32_t e);

  std::size_t capacity_;
  std::vector<Entry> entries_;  // capacity_ of them; the first size_ are in use
  std::vector<Slot> index_;     // power of two ≥ 2 × capacity_ slots
  std::size_t mask_;
  std::size_t size_ = 0;
  std::uint32_t head_ = kNone;  // newest
  std::uint32_t tail_ = kNone;  // oldest
  std::uint64_t evictions_ = 0;
};

}  // namespace orderflow::notification
