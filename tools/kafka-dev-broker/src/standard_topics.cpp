#include "orderflow/dev_broker/standard_topics.h"

namespace orderflow::dev_broker {

const std::vector<std::string>& standard_topics() {
  static const std::vector<std::string> topics{
      "orders",
      "payments",
      "notifications",
      "payment-service.retry",
      "payment-service.dlq",
      "notification-service.retry",
      "notification-service.dlq",
  };
  return topics;
}

}  // namespace orderflow::dev_broker
