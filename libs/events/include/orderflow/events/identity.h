// Event identities: random UUIDs (v4) for new events and name-based UUIDs (v5, SHA-1) for derived events, so
// that processing the same input twice yields the same ids (docs/contract.md §5 Events, "Derived
// identities"). Pure functions: thread-safe (uuid_v4 uses the caller's generator, which the caller must not
// share across threads). SHA-1 comes from OpenSSL's libcrypto; the v5 functions throw std::runtime_error only
// if it offers no SHA-1 (a broken install).
#pragma once

#include <random>
#include <string>
#include <string_view>

#include "orderflow/events/types.h"

namespace orderflow::events {

// The namespace of every orderflow v5 UUID: uuid5(NAMESPACE_URL, "urn:orderflow:events")
// (Python: uuid.uuid5(uuid.NAMESPACE_URL, "urn:orderflow:events")). Changing it changes every derived id:
// it is part of the contract.
inline constexpr std::string_view kOrderflowNamespaceUuid = "2d5da835-253b-563a-8efd-43564007abdb";

// Random version-4 UUID drawn from `rng` (reproducible for a given seed), lower-case canonical text.
[[nodiscard]] std::string uuid_v4(std::mt19937_64& rng);

// Name-based version-5 UUID of the UTF-8 bytes of `name` in kOrderflowNamespaceUuid, lower-case canonical
// text. Equals Python's uuid.uuid5(uuid.UUID(kOrderflowNamespaceUuid), name).
[[nodiscard]] std::string uuid_v5(std::string_view name);

// payment_id (and event_id) of the PaymentProcessed derived from the order whose event_id is given:
// uuid_v5("payment:" + order_event_id), the id text taken as is.
[[nodiscard]] std::string payment_id_for(std::string_view order_event_id);

// notification_id (and event_id) of a NotificationSent:
// uuid_v5("notification:" + order_id + ":" + to_string(kind)), e.g. "notification:o-1:ORDER_RECEIVED".
[[nodiscard]] std::string notification_id_for(std::string_view order_id, NotificationKind kind);

}  // namespace orderflow::events
