// Watches for data the mock cluster dropped: it keeps only ~5 MiB per partition and silently
// discards older batches, which shows as a low watermark above 0. Polls every partition of every
// topic on its own thread and calls `warn` once per partition (from that thread).
// Errors talking to the cluster are retried at the next interval; nothing is thrown after
// construction.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace orderflow::dev_broker {

class WatermarkMonitor {
 public:
  using Warn = std::function<void(const std::string& topic, int partition, long long low_watermark)>;

  WatermarkMonitor(std::string bootstraps, std::chrono::milliseconds interval, Warn warn);
  ~WatermarkMonitor();
  WatermarkMonitor(const WatermarkMonitor&) = delete;
  WatermarkMonitor& operator=(const WatermarkMonitor&) = delete;

 private:
  void run();

  std::string bootstraps_;
  std::chrono::milliseconds interval_;
  Warn warn_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace orderflow::dev_broker
