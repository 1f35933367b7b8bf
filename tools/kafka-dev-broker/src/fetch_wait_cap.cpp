#include "orderflow/dev_broker/fetch_wait_cap.h"

#include <sys/uio.h>

#include <algorithm>
#include <atomic>

namespace orderflow::dev_broker {

namespace {

std::atomic<std::int32_t>& cap_ms() {
  static std::atomic<std::int32_t> value{static_cast<std::int32_t>(kDefaultFetchWaitCap.count())};
  return value;
}

constexpr std::int16_t kFetchApiKey = 1;
// Fetch v0-v11 (what librdkafka 2.0.x sends) start with ReplicaId, then MaxWaitMs, right after a
// non-flexible request header. Later versions put tagged fields in the header (v12+) and drop
// ReplicaId (v15+); they pass unchanged.
constexpr std::int16_t kMaxFetchVersion = 11;

std::uint32_t be32(const unsigned char* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
}
std::int16_t be16(const unsigned char* p) {
  return static_cast<std::int16_t>((p[0] << 8) | p[1]);
}

}  // namespace

void set_fetch_wait_cap(std::chrono::milliseconds cap) {
  cap_ms().store(static_cast<std::int32_t>(std::max<std::int64_t>(0, cap.count())),
                 std::memory_order_relaxed);
}

std::chrono::milliseconds fetch_wait_cap() {
  return std::chrono::milliseconds(cap_ms().load(std::memory_order_relaxed));
}

void FetchWaitCapper::byte(char* p, std::int32_t cap) {
  if (pos_ < kHeadBytes) {
    head_[pos_++] = static_cast<unsigned char>(*p);
    if (pos_ == kHeadBytes) {
      end_ = 4 + std::uint64_t{be32(head_)};
      const auto api_key = be16(head_ + 4);
      const auto version = be16(head_ + 6);
      const auto client_id_len = be16(head_ + 12);  // -1: null
      field_ = 0;
      if (api_key == kFetchApiKey && version >= 0 && version <= kMaxFetchVersion) {
        const auto at = kHeadBytes + static_cast<std::uint64_t>(std::max<std::int16_t>(0, client_id_len)) + 4;
        if (at + 4 <= end_) field_ = at;
      }
    }
  } else {
    field_bytes_[field_seen_++] = p;
    ++pos_;
    if (field_seen_ == 4) {
      unsigned char raw[4];
      for (int i = 0; i < 4; ++i) raw[i] = static_cast<unsigned char>(*field_bytes_[i]);
      const auto wait = static_cast<std::int32_t>(be32(raw));
      if (cap > 0 && wait > cap) {
        const auto c = static_cast<std::uint32_t>(cap);
        for (int i = 0; i < 4; ++i) *field_bytes_[i] = static_cast<char>((c >> (24 - 8 * i)) & 0xff);
        ++capped_;
      }
      field_ = 0;
      field_seen_ = 0;
    }
  }
}

void FetchWaitCapper::scan(char* data, std::size_t n, std::int32_t cap) {
  const iovec one{data, n};
  scan(&one, 1, n, cap);
}

void FetchWaitCapper::scan(const iovec* data, std::size_t count, std::size_t n, std::int32_t cap) {
  for (std::size_t v = 0; v < count && n > 0; ++v) {
    auto* p = static_cast<char*>(data[v].iov_base);
    const std::size_t len = std::min(n, data[v].iov_len);
    n -= len;
    for (std::size_t i = 0; i < len;) {
      if (pos_ < kHeadBytes || (field_ != 0 && pos_ >= field_)) {
        byte(p + i, cap);
        ++i;
      } else {
        // Skip to the field, or to the end of the request.
        const std::uint64_t next = field_ != 0 ? field_ : end_;
        const auto take = static_cast<std::size_t>(std::min<std::uint64_t>(len - i, next - pos_));
        pos_ += take;
        i += take;
      }
      if (pos_ >= kHeadBytes && pos_ == end_) {
        pos_ = 0;
        end_ = 0;
        field_ = 0;
        field_seen_ = 0;
      }
    }
  }
  if (field_seen_ > 0) {
    // The read ended inside the field: its first bytes are already the reader's.
    ++missed_;
    field_ = 0;
    field_seen_ = 0;
  }
}

}  // namespace orderflow::dev_broker
