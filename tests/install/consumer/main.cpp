// parse-order JSON: parses one OrderCreated record with the installed orderflow::events and prints
// "<version> <order_id> <amount_cents> <currency>", or the validation error and exit 1.
#include <iostream>

#include "orderflow/events/codec.h"
#include "orderflow/messaging/trace_context.h"
#include "orderflow/runtime/logging.h"
#include "orderflow/version.h"

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  const auto order = orderflow::events::parse_order_created(argv[1]);
  if (!order.has_value()) {
    std::cout << order.error().message() << "\n";
    return 1;
  }
  const auto& o = order.value();
  // runtime and messaging code linked in too: a traceparent is 55 characters.
  const auto fields =
      orderflow::runtime::log_fields({{"tp", orderflow::messaging::new_traceparent().size()}});
  std::cout << orderflow::kVersion << " " << o.order_id << " " << o.amount_cents << " " << o.currency
            << fields << "\n";
  return 0;
}
