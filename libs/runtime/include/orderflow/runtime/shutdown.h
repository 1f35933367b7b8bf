// SIGINT/SIGTERM handling (Boost.Asio signal_set on its own thread): the first signal sets the stop
// flag the service loop watches; a second one exits at once (exit code 130) for impatient operators.
// Construct once in main() before starting other threads.
#pragma once

#include <atomic>
#include <memory>

namespace orderflow::runtime {

class ShutdownSignal {
 public:
  ShutdownSignal();
  ~ShutdownSignal();
  ShutdownSignal(const ShutdownSignal&) = delete;
  ShutdownSignal& operator=(const ShutdownSignal&) = delete;

  [[nodiscard]] const std::atomic<bool>& flag() const { return stop_; }
  [[nodiscard]] bool requested() const { return stop_.load(); }
  void request() { stop_ = true; }

 private:
  struct Impl;
  std::atomic<bool> stop_{false};
  std::unique_ptr<Impl> impl_;
};

}  // namespace orderflow::runtime
