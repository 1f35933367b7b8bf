#include "orderflow/notification/notification_metrics.h"

namespace orderflow::notification {

NotificationMetrics::NotificationMetrics(runtime::ServiceMetrics& service)
    : e2e_(prometheus::BuildHistogram()
               .Name("orderflow_end_to_end_latency_seconds")
               .Help("Order occurred_at to notification delivered, by notification kind")
               .Labels({{"service", service.service()}})
               .Register(service.registry())),
      dedupe_hits_(
          service.counter("orderflow_dedupe_hits_total", "Duplicate records suppressed by de-duplication")),
      dedupe_evictions_(service.counter("orderflow_dedupe_evictions_total",
                                        "Entries evicted from the bounded de-duplication window")) {}

void NotificationMetrics::end_to_end_seconds(std::string_view kind, double seconds) {
  // Kinds are three: a scan of the cache, no string built per record.
  for (auto& [k, h] : e2e_by_kind_) {
    if (k == kind) {
      h->Observe(seconds);
      return;
    }
  }
  auto* h = &e2e_.Add({{"kind", std::string(kind)}}, runtime::latency_buckets());
  e2e_by_kind_.emplace(std::string(kind), h);
  h->Observe(seconds);
}

}  // namespace orderflow::notification
