#include "dedupe_window.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>

namespace orderflow::notification {

DedupeWindow::DedupeWindow(std::size_t capacity) : capacity_(capacity == 0 ? 1 : capacity) {
  if (capacity_ >= kNone / 2) throw std::invalid_argument("dedupe window: capacity too large");
  entries_.resize(capacity_);
  std::size_t slots = 2;
  while (slots < 2 * capacity_) slots *= 2;
  index_.assign(slots, kNone);
  mask_ = slots - 1;
}

std::size_t DedupeWindow::home(const Key& key) const {
  // Derived ids are SHA-1 output: any 8 of their bytes are already uniformly distributed.
  std::uint64_t h = 0;
  std::memcpy(&h, key.data(), sizeof h);
  return static_cast<std::size_t>(h) & mask_;
}

std::size_t DedupeWindow::find(const Key& key) const {
  auto pos = home(key);
  while (index_[pos] != kNone && entries_[index_[pos]].key != key) pos = (pos + 1) & mask_;
  return pos;
}

void DedupeWindow::erase_at(std::size_t pos) {
  // Move later members of the probe run back into the hole, so that lookups never need tombstones.
  auto next = pos;
  for (;;) {
    next = (next + 1) & mask_;
    if (index_[next] == kNone) break;
    const auto want = home(entries_[index_[next]].key);
    // The entry at `next` may fill the hole unless its home lies cyclically in (pos, next].
    const bool stays = pos <= next ? (pos < want && want <= next) : (pos < want || want <= next);
    if (!stays) {
      index_[pos] = index_[next];
      pos = next;
    }
  }
  index_[pos] = kNone;
}

void DedupeWindow::unlink(std::uint32_t e) {
  auto& entry = entries_[e];
  if (entry.newer != kNone)
    entries_[entry.newer].older = entry.older;
  else
    head_ = entry.older;
  if (entry.older != kNone)
    entries_[entry.older].newer = entry.newer;
  else
    tail_ = entry.newer;
}

void DedupeWindow::push_front(std::uint32_t e) {
  entries_[e].newer = kNone;
  entries_[e].older = head_;
  if (head_ != kNone) entries_[head_].newer = e;
  head_ = e;
  if (tail_ == kNone) tail_ = e;
}

std::size_t DedupeWindow::insert(const Key& key) {
  auto pos = find(key);
  if (index_[pos] != kNone) {
    const auto e = index_[pos];
    if (e != head_) {
      unlink(e);
      push_front(e);
    }
    return 0;
  }
  std::uint32_t e = 0;
  std::size_t evicted = 0;
  if (size_ < capacity_) {
    e = static_cast<std::uint32_t>(size_++);
  } else {
    // Full: the oldest entry makes room.
    e = tail_;
    erase_at(find(entries_[e].key));
    unlink(e);
    ++evictions_;
    evicted = 1;
    pos = find(key);  // the deletion may have moved the empty position this key probes to
  }
  entries_[e].key = key;
  index_[pos] = e;
  push_front(e);
  return evicted;
}

void DedupeWindow::clear() {
  std::fill(index_.begin(), index_.end(), kNone);
  size_ = 0;
  head_ = kNone;
  tail_ = kNone;
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
    return std::invalid_argument("dedupe key: not a canonical UUID: '" +
                                 std::string(notification_id.substr(0, 64)) + "'");
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
