#include "hostile_cases.h"

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>
#include <stdexcept>

#include "orderflow/events/events.h"
#include "orderflow/testing/paths.h"

namespace orderflow::testing {
namespace {

namespace fs = std::filesystem;

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + p.string());
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string base_order(const std::string& order_id, const std::string& customer_id) {
  return R"({"event_id":"6f1c2b9e-3d4a-4e5f-8a7b-9c0d1e2f3a4b","event_type":"OrderCreated","schema_version":1,)"
         R"("occurred_at":"2026-11-23T12:00:00.123Z","order_id":")" +
         order_id + R"(","customer_id":")" + customer_id +
         R"(","items":[{"sku":"SKU-1","quantity":2,"unit_price_cents":1500}],"amount_cents":3000,"currency":"EUR"})";
}

HostileCase make(std::string name, std::optional<std::string> value, std::string on_orders,
                 std::string on_payments) {
  HostileCase c;
  c.key = "hostile:" + name;
  c.name = std::move(name);
  c.value = std::move(value);
  c.on_orders = std::move(on_orders);
  c.on_payments = std::move(on_payments);
  return c;
}

constexpr const char* kNotPayment = R"(event_type: must be "PaymentProcessed", got "OrderCreated")";

}  // namespace

std::vector<HostileCase> stored_cases() {
  const fs::path dir = source_path("tests/data/hostile");
  std::istringstream manifest(read_file(dir / "cases.tsv"));
  std::vector<HostileCase> out;
  std::set<std::string> listed;
  std::string line;
  while (std::getline(manifest, line)) {
    if (line.empty() || line[0] == '#') continue;
    const auto t1 = line.find('\t');
    const auto t2 = line.find('\t', t1 + 1);
    if (t1 == std::string::npos || t2 == std::string::npos)
      throw std::runtime_error("cases.tsv: bad line: " + line);
    const std::string file = line.substr(0, t1);
    listed.insert(file);
    const std::string on_orders = line.substr(t1 + 1, t2 - t1 - 1);
    const bool processed = on_orders == "processed";
    out.push_back(make(file, read_file(dir / file), processed ? "" : on_orders, line.substr(t2 + 1)));
    out.back().processed_on_orders = processed;
  }
  for (const auto& e : fs::directory_iterator(dir)) {
    const auto name = e.path().filename().string();
    if (name != "cases.tsv" && name != "README.md" && listed.count(name) == 0) {
      throw std::runtime_error("tests/data/hostile/" + name + " is not listed in cases.tsv");
    }
  }
  return out;
}

std::vector<HostileCase> generated_cases() {
  std::vector<HostileCase> out;
  const std::string deep = "$: nesting deeper than 64 levels";
  out.push_back(
      make("nesting_100000_arrays", std::string(100000, '[') + std::string(100000, ']'), deep, deep));
  std::string objects;
  for (int i = 0; i < 100000; ++i) objects += R"({"a":)";
  objects += "1" + std::string(100000, '}');
  out.push_back(make("nesting_100000_objects", objects, deep, deep));

  // Over --max-record-bytes: dead-lettered before parsing, with the size in the message.
  const std::string huge = base_order(std::string(10U << 20U, 'x'), "c-huge");
  const std::string too_big = "$: record of " + std::to_string(huge.size()) +
                              " bytes exceeds --max-record-bytes " + std::to_string(kDefaultMaxRecordBytes);
  out.push_back(make("string_10MiB", huge, too_big, too_big));
  out.back().big = true;

  // Under it: parsed, and the length rule names the field and counts code points.
  out.push_back(make("string_512KiB_customer_id", base_order("o-1", std::string(512U << 10U, 'c')),
                     "customer_id: must be between 1 and 64 characters long, got 524288", kNotPayment));

  auto many = make("headers_1000", std::string("{}"), "event_type: is required", "event_type: is required");
  many.headers = thousand_hostile_headers();
  out.push_back(std::move(many));

  const std::string empty = "$: not valid JSON at byte 0: unexpected end of input";
  out.push_back(make("null_value", std::nullopt, empty, empty));

  const std::string bad = "$: not valid JSON at byte 0: unexpected character";
  auto no_key = make("null_key", std::string("garbage with a null key"), bad, bad);
  no_key.key = std::nullopt;
  out.push_back(std::move(no_key));
  return out;
}

int murmur2_partition(const std::string& key, int partitions) {
  // Kafka's murmur2 (Java client DefaultPartitioner; librdkafka's "murmur2" partitioners).
  constexpr std::uint32_t kSeed = 0x9747b28c;
  constexpr std::uint32_t kM = 0x5bd1e995;
  const auto* data = reinterpret_cast<const unsigned char*>(key.data());
  const std::size_t length = key.size();
  std::uint32_t h = kSeed ^ static_cast<std::uint32_t>(length);
  for (std::size_t i = 0; i + 4 <= length; i += 4) {
    std::uint32_t k = data[i] | (data[i + 1] << 8U) | (data[i + 2] << 16U) |
                      (static_cast<std::uint32_t>(data[i + 3]) << 24U);
    k *= kM;
    k ^= k >> 24U;
    k *= kM;
    h *= kM;
    h ^= k;
  }
  const std::size_t tail = length & ~std::size_t{3};
  switch (length % 4) {
    case 3:
      h ^= static_cast<std::uint32_t>(data[tail + 2]) << 16U;
      [[fallthrough]];
    case 2:
      h ^= static_cast<std::uint32_t>(data[tail + 1]) << 8U;
      [[fallthrough]];
    case 1:
      h ^= data[tail];
      h *= kM;
      break;
    default:
      break;
  }
  h ^= h >> 13U;
  h *= kM;
  h ^= h >> 15U;
  return static_cast<int>((h & 0x7fffffffU) % static_cast<std::uint32_t>(partitions));
}

events::OrderCreated valid_order(std::mt19937_64& rng, int index) {
  events::OrderCreated o;
  o.event_id = events::uuid_v4(rng);
  o.occurred_at = events::format_timestamp(std::chrono::system_clock::now());
  o.order_id = "valid-" + std::to_string(index) + "-" + events::uuid_v4(rng).substr(0, 8);
  o.customer_id = "customer-" + std::to_string(index % 23);
  const int lines = 1 + index % 3;
  for (int i = 0; i < lines; ++i) {
    events::Item item;
    item.sku = "SKU-" + std::to_string((index + i) % 7);
    item.quantity = 1 + (index + i) % 5;
    item.unit_price_cents = 199 + 100 * ((index * 7 + i) % 40);
    o.amount_cents += item.quantity * item.unit_price_cents;
    o.items.push_back(std::move(item));
  }
  o.currency = "EUR";
  if (!events::validate_order_created(o)) throw std::runtime_error("valid_order built an invalid order");
  return o;
}

std::vector<std::pair<std::string, std::optional<std::string>>> thousand_hostile_headers() {
  std::vector<std::pair<std::string, std::optional<std::string>>> h;
  h.emplace_back("traceparent", std::string("00-ZZZZ-not-a-trace-\xff\xfe"));
  h.emplace_back("traceparent", std::string(4096, 'f'));
  h.emplace_back("x-attempt", std::string("99999999999999999999999"));
  h.emplace_back("x-original-topic", std::string("payments"));
  h.emplace_back("x-error-class", std::string("transient"));
  h.emplace_back("x-not-before", std::string("-1"));
  h.emplace_back("x-order-occurred-at", std::string("not a time"));
  h.emplace_back("", std::string("empty name"));
  h.emplace_back("null-value", std::nullopt);
  h.emplace_back("binary", std::string("\x00\x01\xff\xfe", 4));
  while (h.size() < 1000) h.emplace_back("h-" + std::to_string(h.size()), std::string(h.size() % 50, 'v'));
  return h;
}

}  // namespace orderflow::testing
