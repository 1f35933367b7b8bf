// A bounded de-duplication window over (order_id, kind): remembers the most recent `capacity` keys
// and evicts the least recently seen. In memory only: after a restart, duplicates older than the
// restart are caught by downstream consumers through the derived notification_id. Not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <string>
#include <string_view>
#include <unordered_map>

namespace orderflow::notification {

class DedupeWindow {
 public:
  explicit DedupeWindow(std::size_t capacity) : capacity_(capacity == 0 ? 1 : capacity) {}

  [[nodiscard]] bool contains(const std::string& key) const { return index_.count(key) != 0; }
  // Remembers key; returns how many entries were evicted to make room (0 or 1).
  std::size_t insert(const std::string& key);
  void clear();
  [[nodiscard]] std::size_t size() const { return index_.size(); }
  [[nodiscard]] std::uint64_t evictions() const { return evictions_; }

  static std::string key_of(std::string_view order_id, std::string_view kind);

 private:
  std::size_t capacity_;
  std::list<std::string> order_;  // front = newest
  std::unordered_map<std::string, std::list<std::string>::iterator> index_;
  std::uint64_t evictions_ = 0;
};

}  // namespace orderflow::notification
