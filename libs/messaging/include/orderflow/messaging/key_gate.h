// Order-preserving retries (--retry-ordering key): remembers which keys have records on the retry
// path so later records of the same key follow them there. In memory and bounded: when the bound
// is hit, new keys are not gated (order then holds only best-effort) and `overflowed()` counts it.
// Not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

namespace orderflow::messaging {

class KeyGate {
 public:
  explicit KeyGate(std::size_t max_keys = 100000) : max_keys_(max_keys) {}

  [[nodiscard]] bool held(std::string_view key) const;
  // How many records of `key` are on the retry path (0 when none, or the key was not gated).
  [[nodiscard]] std::uint32_t count(std::string_view key) const;
  // One more record of `key` is on the retry path; false when the bound refused a new key.
  bool hold(std::string_view key);
  // A record of `key` left the retry path (processed or dead-lettered).
  void release(std::string_view key);

  [[nodiscard]] std::size_t size() const { return counts_.size(); }
  [[nodiscard]] std::uint64_t overflowed() const { return overflowed_; }
  void clear() { counts_.clear(); }

 private:
  std::size_t max_keys_;
  std::unordered_map<std::string, std::uint32_t> counts_;
  std::uint64_t overflowed_ = 0;
};

}  // namespace orderflow::messaging
