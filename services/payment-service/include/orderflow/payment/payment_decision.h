// The payment decision: a pure function of the order and the limit (no Kafka, no clock of its own).
// DECLINED with AMOUNT_LIMIT_EXCEEDED above the limit, otherwise AUTHORIZED; identities are derived
// from the order's event_id so re-processing yields the same payment. Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>

#include "orderflow/events/events.h"

namespace orderflow::payment {

inline constexpr std::int64_t kDefaultMaxAmountCents = 500000;

events::PaymentProcessed decide_payment(const events::OrderCreated& order, std::int64_t max_amount_cents,
                                        std::chrono::system_clock::time_point now);

}  // namespace orderflow::payment
