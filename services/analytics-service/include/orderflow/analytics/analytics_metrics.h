// The metrics only analytics-service has: what became of the input records, the windows published, and the
// ClickHouse sink. Registered on the service's registry next to the common ones (runtime::ServiceMetrics).
// The sink's counters and the input-paused gauge exist without the sink too (at 0), so that one dashboard
// serves both; the gauges and the histogram that only mean something with a ClickHouse are registered with
// it. Used on the service thread only.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>

#include <cstddef>
#include <map>
#include <string>

#include "orderflow/analytics/clickhouse_sink.h"
#include "orderflow/analytics/window.h"
#include "orderflow/runtime/metrics.h"

namespace orderflow::analytics {

class AnalyticsMetrics {
 public:
  AnalyticsMetrics(runtime::ServiceMetrics& service, bool sink_on);

  // Input records.
  void late() { late_.Increment(); }
  void replayed() { replayed_.Increment(); }
  void invalid() { invalid_.Increment(); }
  // A closed window acknowledged on the stats topic.
  void window_published(const WindowStats& window);
  // Windows open or awaiting acknowledgement.
  void open_windows(std::size_t n) { open_windows_.Set(static_cast<double>(n)); }

  // The sink (the last three only with one).
  void rows_written(Table t, std::size_t rows, double seconds);
  void insert_failed(Table t) { errors_.at(t)->Increment(); }
  void row_refused(Table t) { refused_.at(t)->Increment(); }
  void sink_state(bool up, bool input_paused, std::size_t buffered_rows);

 private:
  runtime::ServiceMetrics& service_;
  prometheus::Counter& late_;
  prometheus::Counter& replayed_;
  prometheus::Counter& invalid_;
  prometheus::Counter& windows_closed_;
  prometheus::Counter& orders_;
  prometheus::Gauge& open_windows_;
  std::map<std::string, prometheus::Counter*> amount_;  // by currency, registered when first seen
  prometheus::Gauge& paused_;
  std::map<Table, prometheus::Counter*> rows_, batches_, errors_, refused_;
  prometheus::Histogram* batch_seconds_ = nullptr;
  prometheus::Gauge* up_ = nullptr;
  prometheus::Gauge* buffered_ = nullptr;
};

}  // namespace orderflow::analytics
