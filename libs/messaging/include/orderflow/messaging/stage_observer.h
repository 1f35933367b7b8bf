// The stage's metrics hooks (StageRunner calls them; runtime::ServiceMetrics implements them). Free of
// librdkafka's headers, so that what implements or names them need not include the client.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace orderflow::messaging {

// Metrics hooks; all called on the stage thread.
class StageObserver {
 public:
  virtual ~StageObserver() = default;
  virtual void consumed(std::string_view /*topic*/) {}
  virtual void produced(std::string_view /*topic*/) {}   // broker-acknowledged
  virtual void outcome(std::string_view /*outcome*/) {}  // success|declined|retried|dead_lettered
  virtual void processing_seconds(double /*seconds*/) {}
  virtual void commit_result(bool /*ok*/) {}
  virtual void lag(std::string_view /*topic*/, std::int32_t /*partition*/, std::int64_t /*lag*/) {}
  virtual void partition_revoked(std::string_view /*topic*/, std::int32_t /*partition*/) {}
  virtual void retry_paused(std::size_t /*paused_partitions*/) {}
  virtual void key_gate(std::size_t /*keys*/, std::uint64_t /*overflowed*/) {}
};

}  // namespace orderflow::messaging
