#include "orderflow/producer/order_generator.h"

#include <array>
#include <cstdio>

namespace orderflow::producer {

namespace {

struct CatalogueItem {
  const char* sku;
  std::int64_t price_cents;
};

constexpr std::array<CatalogueItem, 16> kCatalogue = {{
    {"BOOK-0001", 1299},
    {"BOOK-0042", 2450},
    {"MUG-CLASSIC", 899},
    {"TEE-BLK-M", 1999},
    {"TEE-WHT-L", 1999},
    {"HEADPHONES-X", 12900},
    {"KEYBOARD-MX", 8999},
    {"MONITOR-27", 32900},
    {"LAPTOP-PRO-14", 189900},
    {"PHONE-CASE", 1499},
    {"USB-C-CABLE", 999},
    {"DESK-LAMP", 3499},
    {"CHAIR-ERGO", 45900},
    {"CAMERA-MIRRORLESS", 129900},
    {"COFFEE-BEANS-1KG", 2399},
    {"GIFT-CARD-50", 5000},
}};

constexpr std::array<const char*, 4> kCurrencies = {"EUR", "USD", "GBP", "EUR"};

}  // namespace

OrderGenerator::OrderGenerator(std::uint64_t seed, int customers, double invalid_ratio)
    : rng_(seed), customers_(customers < 1 ? 1 : customers), invalid_ratio_(invalid_ratio) {}

events::OrderCreated OrderGenerator::next_order(std::chrono::system_clock::time_point now) {
  ++sequence_;
  events::OrderCreated o;
  o.event_id = events::uuid_v4(rng_);
  o.occurred_at = events::format_timestamp(now);
  o.order_id = "ord-" + events::uuid_v4(rng_).substr(0, 18);
  char customer[32];
  std::snprintf(customer, sizeof customer, "cust-%05d",
                static_cast<int>(std::uniform_int_distribution<int>(1, customers_)(rng_)));
  o.customer_id = customer;
  const int lines = std::uniform_int_distribution<int>(1, 4)(rng_);
  o.items.reserve(static_cast<std::size_t>(lines));
  o.amount_cents = 0;
  for (int i = 0; i < lines; ++i) {
    const auto& c = kCatalogue[std::uniform_int_distribution<std::size_t>(0, kCatalogue.size() - 1)(rng_)];
    const std::int64_t qty = std::uniform_int_distribution<int>(1, 3)(rng_);
    o.items.push_back(events::Item{c.sku, qty, c.price_cents});
    o.amount_cents += qty * c.price_cents;
  }
  o.currency = kCurrencies[std::uniform_int_distribution<std::size_t>(0, kCurrencies.size() - 1)(rng_)];
  return o;
}

GeneratedRecord OrderGenerator::next(std::chrono::system_clock::time_point now) {
  auto order = next_order(now);
  if (invalid_ratio_ > 0.0 && std::uniform_real_distribution<double>(0.0, 1.0)(rng_) < invalid_ratio_) {
    return malformed(std::move(order));
  }
  GeneratedRecord r;
  r.key = order.customer_id;
  r.order_id = order.order_id;
  r.value = events::to_json(order);
  return r;
}

GeneratedRecord OrderGenerator::malformed(events::OrderCreated order) {
  GeneratedRecord r;
  r.key = order.customer_id;
  r.order_id = order.order_id;
  r.valid = false;
  const std::string json = events::to_json(order);
  switch (std::uniform_int_distribution<int>(0, 5)(rng_)) {
    case 0:
      r.malformation = "not JSON";
      r.value = "order " + order.order_id + " for " + order.customer_id;
      break;
    case 1:
      r.malformation = "truncated JSON";
      r.value = json.substr(0, json.size() / 2);
      break;
    case 2:
      r.malformation = "amount_cents does not match the items";
      order.amount_cents += 1;
      r.value = events::to_json(order);
      break;
    case 3:
      r.malformation = "lower-case currency";
      order.currency = "eur";
      r.value = events::to_json(order);
      break;
    case 4:
      r.malformation = "quantity 0";
      order.amount_cents -= order.items.front().quantity * order.items.front().unit_price_cents;
      order.items.front().quantity = 0;
      r.value = events::to_json(order);
      break;
    default: {
      r.malformation = "unknown schema_version";
      r.value = json;
      const auto pos = r.value.find("\"schema_version\":1");
      if (pos != std::string::npos) r.value.replace(pos, 18, "\"schema_version\":99");
      break;
    }
  }
  return r;
}

}  // namespace orderflow::producer
