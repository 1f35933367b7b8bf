// notification-service's record handler: orders → ORDER_RECEIVED, payments → PAYMENT_AUTHORIZED /
// PAYMENT_DECLINED; de-duplicates on (order_id, kind), delivers through the sink (a failure is
// transient), then publishes NotificationSent keyed by customer_id. Stage thread only.
#pragma once

#include <memory>
#include <string>

#include "orderflow/messaging/stage.h"
#include "orderflow/notification/dedupe_window.h"
#include "orderflow/notification/notification_metrics.h"
#include "orderflow/notification/sinks.h"

namespace orderflow::notification {

// The service's settings and their defaults (the command line's defaults are read from here).
struct NotificationConfig {
  std::string orders_topic = "orders";
  std::string payments_topic = "payments";
  std::string notifications_topic = "notifications";
  std::string channel = "email";
  std::size_t dedupe_window = 100000;
};

class NotificationHandler final : public messaging::RecordHandler {
 public:
  NotificationHandler(NotificationConfig config, std::unique_ptr<Sink> sink, NotificationMetrics* metrics);
  messaging::HandlerResult handle(const messaging::InputRecord& record) override;
  std::optional<messaging::Failure> precheck(const messaging::InputRecord& record) override;
  void on_rewind() override { dedupe_.clear(); }
  std::optional<std::string> before_commit() override { return sink_->flush(); }

 private:
  NotificationConfig config_;
  std::unique_ptr<Sink> sink_;
  NotificationMetrics* metrics_;
  DedupeWindow dedupe_;
};

}  // namespace orderflow::notification
