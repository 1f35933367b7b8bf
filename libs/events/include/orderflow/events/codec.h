// Parse + validate event records (bytes from Kafka) into typed events, and serialise them back to JSON.
// Stateless free functions: thread-safe. Failures are values (Result) naming the field path and the reason;
// only the FIRST error is reported, in a fixed order (see README of libs/events): document-level ("$"),
// then event_type, schema_version, then the fields in schema order, then cross-field rules. Members the
// contract does not name are ignored at every level (forward compatibility) and not kept: to_json writes
// the typed fields only.
#pragma once

#include <string>
#include <string_view>

#include "orderflow/events/types.h"
#include "orderflow/events/validation_error.h"

namespace orderflow::events {

// Maximum nesting of arrays/objects accepted in a record (the root object is level 1).
inline constexpr int kMaxNestingDepth = 64;

// Parse one record and apply every rule of docs/contract.md §5 Events and proto-schemas/*.v1.json.
[[nodiscard]] Result<OrderCreated> parse_order_created(std::string_view bytes);
[[nodiscard]] Result<PaymentProcessed> parse_payment_processed(std::string_view bytes);
[[nodiscard]] Result<NotificationSent> parse_notification_sent(std::string_view bytes);

// The semantic rules on an already built object (what a generator must check before producing):
// formats, lengths, ranges, amount_cents == Σ quantity × unit_price_cents, decline_reason iff DECLINED.
[[nodiscard]] Result<void> validate_order_created(const OrderCreated& event);
[[nodiscard]] Result<void> validate_payment_processed(const PaymentProcessed& event);
[[nodiscard]] Result<void> validate_notification_sent(const NotificationSent& event);

// Compact JSON with event_type and schema_version 1. Strings are escaped per RFC 8259; invalid UTF-8 in a
// string is replaced by U+FFFD so the output is always valid JSON. For a valid event,
// parse_*(to_json(x)) == x.
[[nodiscard]] std::string to_json(const OrderCreated& event);
[[nodiscard]] std::string to_json(const PaymentProcessed& event);
[[nodiscard]] std::string to_json(const NotificationSent& event);

}  // namespace orderflow::events
