#include "orderflow/analytics/analytics_metrics.h"

#include <prometheus/histogram.h>

namespace orderflow::analytics {

AnalyticsMetrics::AnalyticsMetrics(runtime::ServiceMetrics& service, bool sink_on)
    : service_(service),
      late_(service.counter("orderflow_analytics_late_records_total",
                            "records for a window that had already closed (not counted in any window)")),
      replayed_(service.counter("orderflow_analytics_replayed_records_total",
                                "records re-read after a restart whose window an earlier run published")),
      invalid_(service.counter("orderflow_analytics_invalid_records_total",
                               "input records that are not valid events (ignored)")),
      windows_closed_(service.counter("orderflow_analytics_windows_closed_total",
                                      "closed windows acknowledged on the stats topic")),
      orders_(service.counter("orderflow_analytics_orders_aggregated_total",
                              "orders counted in published windows")),
      open_windows_(
          service.gauge("orderflow_analytics_open_windows", "windows open or awaiting acknowledgement")),
      paused_(service.gauge("orderflow_analytics_input_paused",
                            "1 while the input is paused because ClickHouse does not accept INSERTs")) {
  for (const auto t : {Table::Orders, Table::Payments, Table::OrderStats}) {
    const std::map<std::string, std::string> label{{"table", std::string(table_name(t))}};
    rows_[t] = &service.counter("orderflow_analytics_clickhouse_rows_written_total",
                                "rows ClickHouse acknowledged, by table", label);
    batches_[t] = &service.counter("orderflow_analytics_clickhouse_batches_total",
                                   "INSERTs ClickHouse acknowledged, by table", label);
    errors_[t] =
        &service.counter("orderflow_analytics_clickhouse_errors_total",
                         "INSERTs that failed (ClickHouse unavailable, or a batch it refused)", label);
    refused_[t] =
        &service.counter("orderflow_analytics_clickhouse_rows_refused_total",
                         "rows ClickHouse refused on their own (sent to the dead-letter topic)", label);
  }
  if (!sink_on) return;
  batch_seconds_ = &prometheus::BuildHistogram()
                        .Name("orderflow_analytics_clickhouse_batch_seconds")
                        .Help("duration of an acknowledged INSERT")
                        .Labels({{"service", "analytics-service"}})
                        .Register(service.registry())
                        .Add({}, prometheus::Histogram::BucketBoundaries{0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                                         0.5, 1, 2.5, 5, 10});
  up_ = &service.gauge("orderflow_analytics_clickhouse_up", "1 while ClickHouse accepts the sink's INSERTs");
  up_->Set(1);
  buffered_ = &service.gauge("orderflow_analytics_clickhouse_buffered_rows", "rows waiting for an INSERT");
}

void AnalyticsMetrics::window_published(const WindowStats& window) {
  windows_closed_.Increment();
  orders_.Increment(static_cast<double>(window.orders));
  for (const auto& [currency, cents] : window.order_amount_cents_by_currency) {
    auto it = amount_.find(currency);
    if (it == amount_.end()) {
      it = amount_
               .emplace(currency, &service_.counter("orderflow_analytics_amount_cents_aggregated_total",
                                                    "order amounts counted in published windows",
                                                    {{"currency", currency}}))
               .first;
    }
    it->second->Increment(static_cast<double>(cents));
  }
}

void AnalyticsMetrics::rows_written(Table t, std::size_t rows, double seconds) {
  rows_.at(t)->Increment(static_cast<double>(rows));
  batches_.at(t)->Increment();
  if (batch_seconds_) batch_seconds_->Observe(seconds);
}

void AnalyticsMetrics::sink_state(bool up, bool input_paused, std::size_t buffered_rows) {
  if (up_) up_->Set(up ? 1 : 0);
  paused_.Set(input_paused ? 1 : 0);
  if (buffered_) buffered_->Set(static_cast<double>(buffered_rows));
}

}  // namespace orderflow::analytics
