// The metrics only notification-service has (docs/contract.md §9): end-to-end latency per notification
// kind and the de-duplication window's hits and evictions. Registered on the service's registry next to
// the common stage metrics, so the other services do not export families they never fill.
// Used on the stage thread only.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>

#include <string>
#include <string_view>
#include <unordered_map>

#include "orderflow/runtime/metrics.h"

namespace orderflow::notification {

class NotificationMetrics {
 public:
  explicit NotificationMetrics(runtime::ServiceMetrics& service);

  // From the order's occurred_at to the notification being handled, by kind (ORDER_RECEIVED, …).
  void end_to_end_seconds(std::string_view kind, double seconds);
  void dedupe_hit() { dedupe_hits_.Increment(); }
  void dedupe_evicted() { dedupe_evictions_.Increment(); }

 private:
  prometheus::Family<prometheus::Histogram>& e2e_;
  std::unordered_map<std::string, prometheus::Histogram*> e2e_by_kind_;
  prometheus::Counter& dedupe_hits_;
  prometheus::Counter& dedupe_evictions_;
};

}  // namespace orderflow::notification
