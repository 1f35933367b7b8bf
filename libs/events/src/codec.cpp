#include "orderflow/events/codec.h"

#include <array>

#include "capture.h"
#include "rules.h"
#include "text.h"

namespace orderflow::events {
namespace {

using detail::Captured;
using detail::Check;
using detail::error;
using detail::Field;
using detail::Layout;

// Every layout starts with the common fields, at these indexes.
enum Common : std::size_t { kEventIdAt = 0, kEventTypeAt = 1, kSchemaVersionAt = 2, kOccurredAtAt = 3 };

constexpr std::array<std::string_view, 9> kOrderFields = {"event_id",    "event_type",   "schema_version",
                                                          "occurred_at", "order_id",     "customer_id",
                                                          "items",       "amount_cents", "currency"};
constexpr std::array<std::string_view, 12> kPaymentFields = {
    "event_id",    "event_type",     "schema_version", "occurred_at",  "payment_id", "order_id",
    "customer_id", "order_event_id", "status",         "amount_cents", "currency",   "decline_reason"};
constexpr std::array<std::string_view, 10> kNotificationFields = {
    "event_id", "event_type",  "schema_version",  "occurred_at", "notification_id",
    "order_id", "customer_id", "source_event_id", "kind",        "channel"};

const Layout kOrderLayout{kOrderFields, 6};
const Layout kPaymentLayout{kPaymentFields, -1};
const Layout kNotificationLayout{kNotificationFields, -1};

// PaymentProcessed and NotificationSent are derived events with the same first fields at the same indexes:
// after the envelope, an id of their own (a UUID), the order's two ids, the event_id of the event they
// derive from (a UUID), and a field whose value is one of an enum's names. Parsing, validating and writing
// those fields is one piece of code for both, told apart by this description.
enum DerivedAt : std::size_t {
  kOwnIdAt = 4,
  kOrderIdAt = 5,
  kCustomerIdAt = 6,
  kSourceIdAt = 7,
  kEnumAt = 8
};

template <class Event, class Enum>
struct Derived {
  const Layout& layout;  // its field names are the paths of the errors
  std::string_view type;
  std::string Event::*own_id;
  std::string Event::*source_id;
  Enum Event::*enum_field;
  std::optional<Enum> (*parse_enum)(std::string_view) noexcept;  // the inverse of to_string
  std::string_view enum_names;                                   // the allowed values, for the error
  std::array<std::string_view, 3> keys;  // own id, source id, enum: serialised as put_string takes them
};

const Derived<PaymentProcessed, PaymentStatus> kPaymentDerived{
    kPaymentLayout,
    kPaymentProcessedType,
    &PaymentProcessed::payment_id,
    &PaymentProcessed::order_event_id,
    &PaymentProcessed::status,
    payment_status_from_string,
    "AUTHORIZED, DECLINED",
    {R"(,"payment_id":)", R"(,"order_event_id":)", R"(,"status":)"}};
const Derived<NotificationSent, NotificationKind> kNotificationDerived{
    kNotificationLayout,
    kNotificationSentType,
    &NotificationSent::notification_id,
    &NotificationSent::source_event_id,
    &NotificationSent::kind,
    notification_kind_from_string,
    "ORDER_RECEIVED, PAYMENT_AUTHORIZED, PAYMENT_DECLINED",
    {R"(,"notification_id":)", R"(,"source_event_id":)", R"(,"kind":)"}};

// Document, event_type, schema_version: what says whether this is the record we expect at all. Members the
// contract does not name were skipped by capture() and play no part in the verdict.
Check check_envelope(Captured& c, std::string_view expected_type) {
  if (c.document_error) return std::move(c.document_error);
  std::string type;
  if (auto e = detail::take_string(c.fields[kEventTypeAt], "event_type", type)) return e;
  if (type != expected_type) {
    std::string expected;
    detail::append_json_string(expected, expected_type);
    return error("event_type", "must be " + expected + ", got " + detail::describe_string(type));
  }
  std::int64_t version = 0;
  if (auto e = detail::take_integer(c.fields[kSchemaVersionAt], "schema_version", version)) return e;
  if (version != kSchemaVersion) {
    return error("schema_version", "unsupported schema version, must be 1, got " + std::to_string(version));
  }
  return std::nullopt;
}

Check take_uuid(Field& f, std::string_view path, std::string& out) {
  if (auto e = detail::take_string(f, path, out)) return e;
  return detail::rule_uuid(path, out);
}

Check take_id(Field& f, std::string_view path, std::string& out,
              std::size_t max_chars = detail::kIdMaxChars) {
  if (auto e = detail::take_string(f, path, out)) return e;
  return detail::rule_length(path, out, 1, max_chars);
}

Check take_timestamp(Field& f, std::string_view path, std::string& out) {
  if (auto e = detail::take_string(f, path, out)) return e;
  return detail::rule_timestamp(path, out);
}

Check take_amount(const Field& f, std::string_view path, std::int64_t& out) {
  if (auto e = detail::take_integer(f, path, out)) return e;
  return detail::rule_positive(path, out);
}

Check take_currency(Field& f, std::string_view path, std::string& out) {
  if (auto e = detail::take_string(f, path, out)) return e;
  return detail::rule_currency(path, out);
}

// Captures `bytes` into `c` and takes the fields of a derived event up to its enum field.
template <class Event, class Enum>
Check take_derived(std::string_view bytes, const Derived<Event, Enum>& d, Captured& c, Event& out) {
  detail::capture(bytes, d.layout, c);
  auto& f = c.fields;
  const auto& names = d.layout.fields;
  if (auto e = check_envelope(c, d.type)) return e;
  if (auto e = take_uuid(f[kEventIdAt], "event_id", out.event_id)) return e;
  if (auto e = take_timestamp(f[kOccurredAtAt], "occurred_at", out.occurred_at)) return e;
  if (auto e = take_uuid(f[kOwnIdAt], names[kOwnIdAt], out.*d.own_id)) return e;
  if (auto e = take_id(f[kOrderIdAt], "order_id", out.order_id)) return e;
  if (auto e = take_id(f[kCustomerIdAt], "customer_id", out.customer_id)) return e;
  if (auto e = take_uuid(f[kSourceIdAt], names[kSourceIdAt], out.*d.source_id)) return e;
  std::string text;
  if (auto e = detail::take_string(f[kEnumAt], names[kEnumAt], text)) return e;
  const auto parsed = d.parse_enum(text);
  if (!parsed) {
    return error(names[kEnumAt],
                 "must be one of " + std::string(d.enum_names) + ", got " + detail::describe_string(text));
  }
  out.*d.enum_field = *parsed;
  return std::nullopt;
}

Check parse_order(std::string_view bytes, OrderCreated& out) {
  Captured c;
  detail::capture(bytes, kOrderLayout, c);
  auto& f = c.fields;
  if (auto e = check_envelope(c, kOrderCreatedType)) return e;
  if (auto e = take_uuid(f[kEventIdAt], "event_id", out.event_id)) return e;
  if (auto e = take_timestamp(f[kOccurredAtAt], "occurred_at", out.occurred_at)) return e;
  if (auto e = take_id(f[4], "order_id", out.order_id)) return e;
  if (auto e = take_id(f[5], "customer_id", out.customer_id)) return e;
  const Field& items = f[6];
  if (items.kind == detail::Kind::Missing) return error("items", "is required");
  if (items.kind != detail::Kind::Array)
    return error("items", "must be an array, got " + detail::describe(items));
  if (c.item_count < 1 || c.item_count > detail::kMaxItems) {
    return error("items", "must contain between 1 and " + std::to_string(detail::kMaxItems) + " items, got " +
                              std::to_string(c.item_count));
  }
  if (c.item_error) return std::move(c.item_error);
  out.items = std::move(c.items);
  if (auto e = take_amount(f[7], "amount_cents", out.amount_cents)) return e;
  if (auto e = take_currency(f[8], "currency", out.currency)) return e;
  return detail::rule_amount_sum(out);
}

Check parse_payment(std::string_view bytes, PaymentProcessed& out) {
  Captured c;
  if (auto e = take_derived(bytes, kPaymentDerived, c, out)) return e;
  auto& f = c.fields;
  if (auto e = take_amount(f[9], "amount_cents", out.amount_cents)) return e;
  if (auto e = take_currency(f[10], "currency", out.currency)) return e;
  if (f[11].kind != detail::Kind::Missing) {
    out.decline_reason.emplace();
    if (auto e = detail::take_string(f[11], "decline_reason", *out.decline_reason)) return e;
  }
  return detail::rule_decline_reason(out.status, out.decline_reason);
}

Check parse_notification(std::string_view bytes, NotificationSent& out) {
  Captured c;
  if (auto e = take_derived(bytes, kNotificationDerived, c, out)) return e;
  return take_id(c.fields[9], "channel", out.channel, detail::kChannelMaxChars);
}

template <class T>
Result<T> to_result(Check check, T&& value) {
  if (check) return std::move(*check);
  return std::forward<T>(value);
}

Result<void> to_result(Check check) {
  if (check) return std::move(*check);
  return boost::outcome_v2::success();
}

// --- serialisation ---------------------------------------------------------------------------------

void put_key(std::string& out, std::string_view quoted_key_colon) {
  out.append(quoted_key_colon);
}

void put_string(std::string& out, std::string_view key, std::string_view value) {
  out.append(key);
  detail::append_json_string(out, value);
}

void put_int(std::string& out, std::string_view key, std::int64_t value) {
  out.append(key);
  detail::append_int(out, value);
}

// The rules of a built derived event's fields up to its enum field.
template <class Event, class Enum>
Check check_derived(const Event& e, const Derived<Event, Enum>& d) {
  const auto& names = d.layout.fields;
  if (auto r = detail::rule_uuid("event_id", e.event_id)) return r;
  if (auto r = detail::rule_timestamp("occurred_at", e.occurred_at)) return r;
  if (auto r = detail::rule_uuid(names[kOwnIdAt], e.*d.own_id)) return r;
  if (auto r = detail::rule_length("order_id", e.order_id, 1, detail::kIdMaxChars)) return r;
  if (auto r = detail::rule_length("customer_id", e.customer_id, 1, detail::kIdMaxChars)) return r;
  if (auto r = detail::rule_uuid(names[kSourceIdAt], e.*d.source_id)) return r;
  // to_string names every enumerator and nothing else is a name, so this holds exactly for enumerators.
  if (!d.parse_enum(to_string(e.*d.enum_field))) {
    return error(names[kEnumAt], "must be one of " + std::string(d.enum_names));
  }
  return std::nullopt;
}

void put_envelope(std::string& out, std::string_view event_id, std::string_view type,
                  std::string_view occurred_at) {
  put_string(out, R"({"event_id":)", event_id);
  put_string(out, R"(,"event_type":)", type);
  put_key(out, R"(,"schema_version":1)");
  put_string(out, R"(,"occurred_at":)", occurred_at);
}

// A derived event's fields up to its enum field.
template <class Event, class Enum>
void put_derived(std::string& out, const Event& e, const Derived<Event, Enum>& d) {
  put_envelope(out, e.event_id, d.type, e.occurred_at);
  put_string(out, d.keys[0], e.*d.own_id);
  put_string(out, R"(,"order_id":)", e.order_id);
  put_string(out, R"(,"customer_id":)", e.customer_id);
  put_string(out, d.keys[1], e.*d.source_id);
  put_string(out, d.keys[2], to_string(e.*d.enum_field));
}

}  // namespace

Result<OrderCreated> parse_order_created(std::string_view bytes) {
  OrderCreated out;
  return to_result(parse_order(bytes, out), std::move(out));
}

Result<PaymentProcessed> parse_payment_processed(std::string_view bytes) {
  PaymentProcessed out;
  return to_result(parse_payment(bytes, out), std::move(out));
}

Result<NotificationSent> parse_notification_sent(std::string_view bytes) {
  NotificationSent out;
  return to_result(parse_notification(bytes, out), std::move(out));
}

Result<void> validate_order_created(const OrderCreated& e) {
  return to_result([&]() -> Check {
    if (auto r = detail::rule_uuid("event_id", e.event_id)) return r;
    if (auto r = detail::rule_timestamp("occurred_at", e.occurred_at)) return r;
    if (auto r = detail::rule_length("order_id", e.order_id, 1, detail::kIdMaxChars)) return r;
    if (auto r = detail::rule_length("customer_id", e.customer_id, 1, detail::kIdMaxChars)) return r;
    if (e.items.empty() || e.items.size() > detail::kMaxItems) {
      return error("items", "must contain between 1 and " + std::to_string(detail::kMaxItems) +
                                " items, got " + std::to_string(e.items.size()));
    }
    for (std::size_t i = 0; i < e.items.size(); ++i) {
      if (auto r = detail::rule_item(i, e.items[i])) return r;
    }
    if (auto r = detail::rule_positive("amount_cents", e.amount_cents)) return r;
    if (auto r = detail::rule_currency("currency", e.currency)) return r;
    return detail::rule_amount_sum(e);
  }());
}

Result<void> validate_payment_processed(const PaymentProcessed& e) {
  return to_result([&]() -> Check {
    if (auto r = check_derived(e, kPaymentDerived)) return r;
    if (auto r = detail::rule_positive("amount_cents", e.amount_cents)) return r;
    if (auto r = detail::rule_currency("currency", e.currency)) return r;
    return detail::rule_decline_reason(e.status, e.decline_reason);
  }());
}

Result<void> validate_notification_sent(const NotificationSent& e) {
  return to_result([&]() -> Check {
    if (auto r = check_derived(e, kNotificationDerived)) return r;
    return detail::rule_length("channel", e.channel, 1, detail::kChannelMaxChars);
  }());
}

std::string to_json(const OrderCreated& e) {
  std::string out;
  out.reserve(256 + e.items.size() * 64 + e.order_id.size() + e.customer_id.size());
  put_envelope(out, e.event_id, kOrderCreatedType, e.occurred_at);
  put_string(out, R"(,"order_id":)", e.order_id);
  put_string(out, R"(,"customer_id":)", e.customer_id);
  out.append(R"(,"items":[)");
  for (std::size_t i = 0; i < e.items.size(); ++i) {
    const Item& item = e.items[i];
    put_string(out, i == 0 ? R"({"sku":)" : R"(,{"sku":)", item.sku);
    put_int(out, R"(,"quantity":)", item.quantity);
    put_int(out, R"(,"unit_price_cents":)", item.unit_price_cents);
    out.push_back('}');
  }
  out.push_back(']');
  put_int(out, R"(,"amount_cents":)", e.amount_cents);
  put_string(out, R"(,"currency":)", e.currency);
  out.push_back('}');
  return out;
}

std::string to_json(const PaymentProcessed& e) {
  std::string out;
  out.reserve(384 + e.order_id.size() + e.customer_id.size());
  put_derived(out, e, kPaymentDerived);
  put_int(out, R"(,"amount_cents":)", e.amount_cents);
  put_string(out, R"(,"currency":)", e.currency);
  if (e.decline_reason) put_string(out, R"(,"decline_reason":)", *e.decline_reason);
  out.push_back('}');
  return out;
}

std::string to_json(const NotificationSent& e) {
  std::string out;
  out.reserve(384 + e.order_id.size() + e.customer_id.size() + e.channel.size());
  put_derived(out, e, kNotificationDerived);
  put_string(out, R"(,"channel":)", e.channel);
  out.push_back('}');
  return out;
}

}  // namespace orderflow::events
