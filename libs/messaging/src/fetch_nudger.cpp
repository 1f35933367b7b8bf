#include "fetch_nudger.h"

#include <vector>

namespace orderflow::messaging {

FetchNudger::FetchNudger(RdKafka::KafkaConsumer& consumer, std::chrono::milliseconds interval,
                         std::uint64_t min_records)
    : consumer_(consumer), interval_(interval), min_records_(min_records), thread_([this] { run(); }) {}

FetchNudger::~FetchNudger() {
  stop();
}

void FetchNudger::stop() {
  {
    const std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void FetchNudger::run() {
  std::uint64_t seen = 0;
  std::size_t next = 0;
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      if (wake_.wait_for(lock, interval_, [this] { return stopping_; })) return;
    }
    const auto consumed = consumed_.load(std::memory_order_relaxed);
    const auto recent = consumed - seen;
    seen = consumed;
    if (recent < min_records_) continue;  // idle or slow: the queue cannot run dry before the next wake-up
    std::vector<RdKafka::TopicPartition*> assignment;
    if (consumer_.assignment(assignment) == RdKafka::ERR_NO_ERROR && !assignment.empty()) {
      const auto* tp = assignment[next++ % assignment.size()];
      std::int64_t low = 0;
      std::int64_t high = 0;
      (void)consumer_.query_watermark_offsets(tp->topic(), tp->partition(), &low, &high,
                                              static_cast<int>(10 * interval_.count()));
      nudges_.fetch_add(1, std::memory_order_relaxed);
    }
    RdKafka::TopicPartition::destroy(assignment);
  }
}

}  // namespace orderflow::messaging
