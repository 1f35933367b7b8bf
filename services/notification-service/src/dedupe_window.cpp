#include "orderflow/notification/dedupe_window.h"

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
  index_.assign(slots, Slot{kNone, 0});
  mask_ = slots - 1;
}

std::uint32_t DedupeWindow::hash_of(const Key& key) {
  // Derived ids are SHA-1 output: any 4 of their bytes are already uniformly distributed.
  std::uint32_t h = 0;
  std::memcpy(&h, key.data(), sizeof h);
  return h;
}

std::size_t DedupeWindow::find(const Key& key, std::uint32_t hash) const {
  auto pos = static_cast<std::size_t>(hash) & mask_;
  for (;; pos = (pos + 1) & mask_) {
    const Slot& slot = index_[pos];
    if (slot.entry == kNone || (slot.hash == hash && entries_[slot.entry].key == key)) return pos;
  }
}

void DedupeWindow::erase_at(std::size_t pos) {
  // Move later members of the probe run back into the hole, so that lookups never need tombstones.
  auto next = pos;
  for (;;) {
    next = (next + 1) & mask_;
    if (index_[next].entry == kNone) break;
    const auto want = static_cast<std::size_t>(index_[next].hash) & mask_;
    // The slot at `next` may fill the hole unless its home lies cyclically in (pos, next].
    const bool stays = pos <= next ? (pos < want && want <= next) : (pos < want || want <= next);
    if (!stays) {
      index_[pos] = index_[next];
      pos = next;
    }
  }
  index_[pos].entry = kNone;
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
  const auto hash = hash_of(key);
  auto pos = find(key, hash);
  if (index_[pos].entry != kNone) {
    const auto e = index_[pos].entry;
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
    erase_at(find(entries_[e].key, hash_of(entries_[e].key)));
    unlink(e);
    ++evictions_;
    evicted = 1;
    pos = find(key, hash);  // the deletion may have moved the empty position this key probes to
  }
  entries_[e].key = key;
  index_[pos] = Slot{e, hash};
  push_front(e);
  // The next eviction reads this entry: start loading it now (see prefetch()).
  if (size_ == capacity_) __builtin_prefetch(&entries_[tail_]);
  return evicted;
}

void DedupeWindow::prefetch(const Key& key) const {
  __builtin_prefetch(&index_[static_cast<std::size_t>(hash_of(key)) & mask_]);
  if (size_ == capacity_) {
    // insert() loaded the entry at the tail ahead of time; its key leads to the slot the eviction erases.
    __builtin_prefetch(&index_[static_cast<std::size_t>(hash_of(entries_[tail_].key)) & mask_]);
  }
}

void DedupeWindow::clear() {
  std::fill(index_.begin(), index_.end(), Slot{kNone, 0});
  size_ = 0;
  head_ = kNone;
  tail_ = kNone;
}

namespace {
// Hex digit values (either case), -1 for every other byte: one load per character, no branch on its class.
constexpr std::array<std::int16_t, 256> kHexValue = [] {
  std::array<std::int16_t, 256> t{};
  t.fill(-1);
  for (int c = '0'; c <= '9'; ++c) t[static_cast<std::size_t>(c)] = static_cast<std::int16_t>(c - '0');
  for (int c = 'a'; c <= 'f'; ++c) t[static_cast<std::size_t>(c)] = static_cast<std::int16_t>(c - 'a' + 10);
  for (int c = 'A'; c <= 'F'; ++c) t[static_cast<std::size_t>(c)] = static_cast<std::int16_t>(c - 'A' + 10);
  return t;
}();
// Where each byte's two digits start in the 8-4-4-4-12 text.
constexpr std::array<std::uint8_t, 16> kDigitPairAt = {0,  2,  4,  6,  9,  11, 14, 16,
                                                       19, 21, 24, 26, 28, 30, 32, 34};
}  // namespace

DedupeWindow::Key DedupeWindow::key_of(std::string_view notification_id) {
  Key key{};
  bool ok = notification_id.size() == 36 && notification_id[8] == '-' && notification_id[13] == '-' &&
            notification_id[18] == '-' && notification_id[23] == '-';
  if (ok) {
    int bad = 0;  // ORed sign bits: any -1 makes it negative
    for (std::size_t b = 0; b < key.size(); ++b) {
      const int high = kHexValue[static_cast<unsigned char>(notification_id[kDigitPairAt[b]])];
      const int low = kHexValue[static_cast<unsigned char>(notification_id[kDigitPairAt[b] + 1])];
      bad |= high | low;
      key[b] = static_cast<std::uint8_t>((high << 4) | (low & 0x0F));
    }
    ok = bad >= 0;
  }
  if (!ok) {
    throw std::invalid_argument("dedupe key: not a canonical UUID: '" +
                                std::string(notification_id.substr(0, 64)) + "'");
  }
  return key;
}

}  // namespace orderflow::notification
