// Caps the MaxWaitMs of Kafka Fetch requests as the mock cluster reads them off its sockets.
// librdkafka's mock answers a Fetch that found no data only when the request's MaxWaitMs expires,
// even if a record arrives meanwhile (a real broker answers at once): every hop of a pipeline at a
// trickle then costs up to the client's fetch.wait.max.ms (500 ms by default). With the wait capped,
// an idle consumer asks again after the cap and sees a new record within about that long; the clients
// keep their real-broker settings. FetchWaitCapper is the pure request scanner (one per connection,
// not thread-safe); the process-wide cap is read by the recvmsg() interposer (mock_sockets.cpp).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

struct iovec;

namespace orderflow::dev_broker {

// 5 ms: an idle consumer costs the mock ~200 empty fetches a second per broker connection, and a
// record waits ≤ 5 ms for the next fetch; each hop of a chain pays that wait once. 0 = leave requests as
// the clients sent them.
inline constexpr std::chrono::milliseconds kDefaultFetchWaitCap{5};

void set_fetch_wait_cap(std::chrono::milliseconds cap);  // process-wide; thread-safe
[[nodiscard]] std::chrono::milliseconds fetch_wait_cap();

// Follows the request stream of one connection (size-prefixed Kafka requests, split anywhere by the
// reads) and rewrites a Fetch request's MaxWaitMs to `cap` when it is larger. A field split across
// two reads is left as sent (the earlier part was already handed to the reader); counted in missed().
class FetchWaitCapper {
 public:
  // `data` holds the `n` bytes a read returned, in `count` buffers; rewrites them in place.
  void scan(const struct iovec* data, std::size_t count, std::size_t n, std::int32_t cap_ms);
  void scan(char* data, std::size_t n, std::int32_t cap_ms);

  [[nodiscard]] std::uint64_t capped() const { return capped_; }
  [[nodiscard]] std::uint64_t missed() const { return missed_; }

 private:
  static constexpr std::size_t kHeadBytes =
      14;  // size, api key, api version, correlation id, client id length
  void byte(char* p, std::int32_t cap_ms);

  std::uint64_t pos_ = 0;    // bytes of the current request seen, its 4-byte size included
  std::uint64_t end_ = 0;    // its total length once the head is read
  std::uint64_t field_ = 0;  // offset of MaxWaitMs in it; 0 = not a Fetch we rewrite
  unsigned char head_[kHeadBytes] = {};
  char* field_bytes_[4] = {};  // where the field's bytes sit in the current read
  int field_seen_ = 0;
  std::uint64_t capped_ = 0;
  std::uint64_t missed_ = 0;
};

}  // namespace orderflow::dev_broker
