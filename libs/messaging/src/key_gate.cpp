#include "orderflow/messaging/key_gate.h"

namespace orderflow::messaging {

bool KeyGate::held(std::string_view key) const {
  if (counts_.empty()) return false;
  return counts_.find(std::string(key)) != counts_.end();
}

std::uint32_t KeyGate::count(std::string_view key) const {
  auto it = counts_.find(std::string(key));
  return it == counts_.end() ? 0U : it->second;
}

bool KeyGate::hold(std::string_view key) {
  auto it = counts_.find(std::string(key));
  if (it != counts_.end()) {
    ++it->second;
    return true;
  }
  if (counts_.size() >= max_keys_) {
    ++overflowed_;
    return false;
  }
  counts_.emplace(std::string(key), 1U);
  return true;
}

void KeyGate::release(std::string_view key) {
  auto it = counts_.find(std::string(key));
  if (it == counts_.end()) return;
  if (--it->second == 0) counts_.erase(it);
}

}  // namespace orderflow::messaging
