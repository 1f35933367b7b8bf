// Valid sample events and a one-edit helper shared by the codec tests of orderflow::events.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "orderflow/events/codec.h"

namespace orderflow::events::samples {

inline const std::string kPayment =
    R"({"event_id":"8fc5cc3c-cec1-565e-b8d5-c6c42db9fc2d","event_type":"PaymentProcessed","schema_version":1,)"
    R"("occurred_at":"2026-11-23T12:00:00.123Z","payment_id":"8fc5cc3c-cec1-565e-b8d5-c6c42db9fc2d",)"
    R"("order_id":"order-1","customer_id":"customer-42","order_event_id":"0b7e3a52-6d1f-4c1e-9a3e-2f5d8c9b1a01",)"
    R"("status":"DECLINED","amount_cents":600000,"currency":"EUR","decline_reason":"AMOUNT_LIMIT_EXCEEDED"})";

inline const std::string kNotification =
    R"({"event_id":"e331c3e7-ec43-5539-ad07-81a1fab07b8a","event_type":"NotificationSent","schema_version":1,)"
    R"("occurred_at":"2026-11-23T12:00:00.123Z","notification_id":"e331c3e7-ec43-5539-ad07-81a1fab07b8a",)"
    R"("order_id":"order-1","customer_id":"customer-42","source_event_id":"0b7e3a52-6d1f-4c1e-9a3e-2f5d8c9b1a01",)"
    R"("kind":"ORDER_RECEIVED","channel":"log"})";

// `s` with the first `from` replaced by `to`; a missing `from` fails the test.
inline std::string replace(std::string s, const std::string& from, const std::string& to) {
  const auto pos = s.find(from);
  EXPECT_NE(pos, std::string::npos) << from;
  if (pos != std::string::npos) s.replace(pos, from.size(), to);
  return s;
}

// "OK", or the message of the first error parse_order_created reports for `doc`.
inline std::string order_error(const std::string& doc) {
  auto r = parse_order_created(doc);
  return r ? "OK" : r.error().message();
}

}  // namespace orderflow::events::samples
