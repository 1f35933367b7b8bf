// notification-service's record handler: orders → ORDER_RECEIVED, payments → PAYMENT_AUTHORIZED /
// PAYMENT_DECLINED; de-duplicates on (order_id, kind), delivers through the sink (a failure is
// transient), then publishes NotificationSent keyed by customer_id (the stage adds the trace and
// correlation headers). Stage thread only. Free of librdkafka.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <variant>

#include "orderflow/events/events.h"
#include "orderflow/messaging/handler.h"
#include "orderflow/notification/dedupe_window.h"
#include "orderflow/notification/sinks.h"

namespace orderflow::notification {

class NotificationMetrics;  // notification_metrics.h

// The service's settings and their defaults (the command line's defaults are read from here).
struct NotificationConfig {
  std::string orders_topic = "orders";
  std::string payments_topic = "payments";
  std::string notifications_topic = "notifications";
  std::string channel = "email";
  std::size_t dedupe_window = 100000;
};

// What a record of either input carries: which one is told by the record's source topic.
using NotificationInput = std::variant<events::OrderCreated, events::PaymentProcessed>;

class NotificationHandler final : public messaging::TypedHandler<NotificationInput> {
 public:
  // `metrics` may be null (no service-specific metrics).
  NotificationHandler(NotificationConfig config, std::unique_ptr<Sink> sink,
                      std::unique_ptr<NotificationMetrics> metrics);
  ~NotificationHandler() override;
  NotificationHandler(const NotificationHandler&) = delete;
  NotificationHandler& operator=(const NotificationHandler&) = delete;

  Parsed parse(const messaging::RecordView& record) override;
  messaging::HandlerResult handle(const NotificationInput& input,
                                  const messaging::RecordView& record) override;
  void on_rewind() override { dedupe_.clear(); }
  std::optional<std::string> before_commit() override { return sink_->flush(); }

 private:
  NotificationConfig config_;
  std::unique_ptr<Sink> sink_;
  std::unique_ptr<NotificationMetrics> metrics_;
  DedupeWindow dedupe_;
};

}  // namespace orderflow::notification
