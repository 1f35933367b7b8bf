// Keeps librdkafka 2.0.x's fetcher going while the application drains a full prefetch queue.
// Before librdkafka 2.2 (fetch.queue.backoff.ms) a broker thread that found the consumer's queue full
// looks at it again only when something wakes it, about once a second: a stage that drains the queue
// faster than that waits for the rest of the second (under load on loopback, idle for about 0.4 s of
// every second). Any request for that broker wakes its thread, which then fetches if there is room.
// While records are being consumed quickly, a thread of its own asks one assigned partition's leader for its
// watermarks every `interval` (ListOffsets; round robin over the assignment, so every leader is reached),
// nothing when the consumer is idle or slow. consumed() is called from the polling thread; the rest is
// internal. Errors of the watermark requests are ignored (a nudge that fails changes nothing).
#pragma once

#include <librdkafka/rdkafkacpp.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

namespace orderflow::messaging {

class FetchNudger {
 public:
  // librdkafka's version (rd_kafka_version()) from which fetch.queue.backoff.ms makes this unnecessary.
  static constexpr int kFetchQueueBackoffSince = 0x020200ff;

  FetchNudger(RdKafka::KafkaConsumer& consumer, std::chrono::milliseconds interval,
              std::uint64_t min_records);
  ~FetchNudger();
  FetchNudger(const FetchNudger&) = delete;
  FetchNudger& operator=(const FetchNudger&) = delete;

  void consumed() { consumed_.fetch_add(1, std::memory_order_relaxed); }
  // Stops and joins the thread; idempotent. Must run before the consumer is closed.
  void stop();
  [[nodiscard]] std::uint64_t nudges() const { return nudges_.load(std::memory_order_relaxed); }

 private:
  void run();

  RdKafka::KafkaConsumer& consumer_;
  const std::chrono::milliseconds interval_;
  const std::uint64_t min_records_;
  std::atomic<std::uint64_t> consumed_{0};
  std::atomic<std::uint64_t> nudges_{0};
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace orderflow::messaging
