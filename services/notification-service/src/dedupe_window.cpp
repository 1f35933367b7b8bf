#include "dedupe_window.h"

namespace orderflow::notification {

std::size_t DedupeWindow::insert(const std::string& key) {
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

std::string DedupeWindow::key_of(std::string_view order_id, std::string_view kind) {
  std::string k;
  k.reserve(order_id.size() + kind.size() + 1);
  k.append(order_id);
  k.push_back('\x1f');
  k.append(kind);
  return k;
}

}  // namespace orderflow::notification
