#include "dedupe_window.h"

#include <stdexcept>
#include <string>

namespace orderflow::notification {

std::size_t DedupeWindow::insert(const Key& key) {
  auto it = index_.find(key);
  if (it != index_.end()) {
    order_.splice(order_.begin(), order_, it->second);
    return 0;
  }
  order_.push_front(key);
  index_.emplace(key, order_.begin());
  if (index_.size() <= capacity_) return 0;
  index_.erase(order_.back());
  order_.pop_back();
  ++evictions_;
  return 1;
}

void DedupeWindow::clear() {
  order_.clear();
  index_.clear();
}

namespace {
int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

DedupeWindow::Key DedupeWindow::key_of(std::string_view notification_id) {
  Key key{};
  const auto bad = [&] {
    return std::invalid_argument("dedupe key: not a canonical UUID: '" + std::string(notification_id.substr(0, 64)) + "'");
  };
  if (notification_id.size() != 36) throw bad();
  std::size_t byte = 0;
  for (std::size_t i = 0; i < notification_id.size();) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (notification_id[i] != '-') throw bad();
      ++i;
      continue;
    }
    const int high = hex_digit(notification_id[i]);
    const int low = hex_digit(notification_id[i + 1]);
    if (high < 0 || low < 0) throw bad();
    key[byte++] = static_cast<std::uint8_t>((high << 4) | low);
    i += 2;
  }
  return key;
}

}  // namespace orderflow::notification
