// A bounded de-duplication window over notification ids: remembers the most recent `capacity` ids and
// evicts the least recently seen. A notification's id is derived from (order_id, kind) (CONTRACT §5,
// events::notification_id_for), so remembering ids is remembering those pairs — in 16 bytes each
// instead of two copies of a ~40-character string: ≈ 10 MiB instead of ≈ 26 MiB at the default 100,000.
// In memory only: after a restart, duplicates older than the restart are caught by downstream consumers
// through the same notification_id. Not thread-safe.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <list>
#include <string_view>
#include <unordered_map>

namespace orderflow::notification {

class DedupeWindow {
 public:
  using Key = std::array<std::uint8_t, 16>;

  explicit DedupeWindow(std::size_t capacity) : capacity_(capacity == 0 ? 1 : capacity) {}

  [[nodiscard]] bool contains(const Key& key) const { return index_.count(key) != 0; }
  // Remembers key; returns how many entries were evicted to make room (0 or 1).
  std::size_t insert(const Key& key);
  void clear();
  [[nodiscard]] std::size_t size() const { return index_.size(); }
  [[nodiscard]] std::uint64_t evictions() const { return evictions_; }

  // The 16 bytes of a canonical UUID text (8-4-4-4-12 hex digits, either case), such as a
  // notification_id. Throws std::invalid_argument for anything else.
  static Key key_of(std::string_view notification_id);

 private:
  struct KeyHash {
    std::size_t operator()(const Key& k) const noexcept {
      // Derived ids are SHA-1 output: any 8 of their bytes are already uniformly distributed.
      std::uint64_t h = 0;
      std::memcpy(&h, k.data(), sizeof h);
      return static_cast<std::size_t>(h);
    }
  };
  std::size_t capacity_;
  std::list<Key> order_;  // front = newest
  std::unordered_map<Key, std::list<Key>::iterator, KeyHash> index_;
  std::uint64_t evictions_ = 0;
};

}  // namespace orderflow::notification
