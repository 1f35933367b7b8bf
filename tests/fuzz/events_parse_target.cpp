// Fuzz target: the three parse_* functions of orderflow::events on arbitrary bytes. Properties:
// - no crash, no sanitizer report, no hang (libFuzzer -timeout);
// - an accepted event passes its validate_* function, and parse(to_json(x)) == x (round trip), and
//   to_json(x) is valid UTF-8;
// - a rejection names a field and a reason, and its message is valid UTF-8 (it becomes the
//   x-error-message header, whose value the contract says is UTF-8) and survives bounded_message().
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "fuzz_targets.h"
#include "orderflow/events/codec.h"
#include "orderflow/messaging/retry_policy.h"
#include "utf8.h"

namespace orderflow::fuzz {
namespace {

template <class Event, class Parse, class Validate>
void check(std::string_view input, Parse parse, Validate validate, const char* what) {
  const auto parsed = parse(input);
  if (!parsed) {
    const auto& e = parsed.error();
    ORDERFLOW_FUZZ_CHECK(!e.reason.empty(), std::string(what) + ": an error without a reason");
    const std::string message = e.message();
    ORDERFLOW_FUZZ_CHECK(valid_utf8(message), std::string(what) + ": error message is not UTF-8: " + message);
    const std::string bounded = messaging::bounded_message(message);
    ORDERFLOW_FUZZ_CHECK(bounded.size() <= 1024, std::string(what) + ": bounded_message longer than 1024");
    return;
  }
  const Event& event = parsed.value();
  const auto valid = validate(event);
  ORDERFLOW_FUZZ_CHECK(valid.has_value(), std::string(what) + ": parsed but validate_* rejects it: " +
                                              (valid ? std::string() : valid.error().message()));
  const std::string json = events::to_json(event);
  ORDERFLOW_FUZZ_CHECK(valid_utf8(json), std::string(what) + ": to_json is not UTF-8");
  const auto again = parse(json);
  ORDERFLOW_FUZZ_CHECK(again.has_value(), std::string(what) + ": to_json output does not parse: " +
                                              (again ? std::string() : again.error().message()) + " in " +
                                              json);
  ORDERFLOW_FUZZ_CHECK(again.value() == event, std::string(what) + ": parse(to_json(x)) != x for " + json);
  ORDERFLOW_FUZZ_CHECK(events::to_json(again.value()) == json, std::string(what) + ": to_json not stable");
}

}  // namespace

int events_parse_one(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  check<events::OrderCreated>(
      input, [](std::string_view b) { return events::parse_order_created(b); },
      [](const events::OrderCreated& e) { return events::validate_order_created(e); }, "OrderCreated");
  check<events::PaymentProcessed>(
      input, [](std::string_view b) { return events::parse_payment_processed(b); },
      [](const events::PaymentProcessed& e) { return events::validate_payment_processed(e); },
      "PaymentProcessed");
  check<events::NotificationSent>(
      input, [](std::string_view b) { return events::parse_notification_sent(b); },
      [](const events::NotificationSent& e) { return events::validate_notification_sent(e); },
      "NotificationSent");
  return 0;
}

}  // namespace orderflow::fuzz

#ifdef ORDERFLOW_LIBFUZZER
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return orderflow::fuzz::events_parse_one(data, size);
}
#endif
