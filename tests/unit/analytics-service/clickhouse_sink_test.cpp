// The ClickHouse sink of analytics-service without a server: batching, the held offsets of the commit
// rule, bisecting a refused batch down to its row, backoff while ClickHouse is unavailable, the rows
// and the error classification.
#include "orderflow/analytics/clickhouse_sink.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "orderflow/analytics/window.h"

using orderflow::analytics::ClickHouseSink;
using orderflow::analytics::Inserter;
using orderflow::analytics::InsertResult;
using orderflow::analytics::SinkConfig;
using orderflow::analytics::SinkHooks;
using orderflow::analytics::SinkRow;
using orderflow::analytics::Table;
using orderflow::messaging::TopicPartitionKey;

namespace {

const TopicPartitionKey kOrders0{"orders", 0};

// Refuses any batch that holds a row containing "bad"; answers Unavailable while `down`.
struct FakeInserter final : Inserter {
  bool down = false;
  std::vector<std::string> queries;
  std::vector<std::size_t> batch_sizes;
  std::vector<std::string> stored;
  InsertResult insert(const std::string& query, const std::string& body) override {
    queries.push_back(query);
    if (down) return {InsertResult::Kind::Unavailable, "connection refused"};
    std::size_t rows = 0;
    for (const char c : body) rows += c == '\n' ? 1 : 0;
    batch_sizes.push_back(rows);
    if (body.find("bad") != std::string::npos) return {InsertResult::Kind::Refused, "Code: 27, bad row"};
    std::size_t at = 0;
    while (at < body.size()) {
      const auto nl = body.find('\n', at);
      stored.push_back(body.substr(at, nl - at));
      at = nl + 1;
    }
    return {InsertResult::Kind::Ok, {}};
  }
};

SinkRow input_row(std::int64_t offset, const std::string& json) {
  SinkRow r;
  r.json = json;
  r.tp = kOrders0;
  r.offset = offset;
  r.holds_offset = true;
  r.value = json;
  return r;
}

struct Fixture {
  FakeInserter* fake = nullptr;
  std::vector<std::pair<std::int64_t, std::string>> refused;
  std::unique_ptr<ClickHouseSink> sink;
  explicit Fixture(std::size_t batch_rows, std::int64_t batch_ms = 1000) {
    auto f = std::make_unique<FakeInserter>();
    fake = f.get();
    SinkHooks hooks;
    hooks.refused = [this](Table, const SinkRow& row, const std::string& reason) {
      refused.emplace_back(row.offset, reason);
    };
    SinkConfig cfg;
    cfg.batch_rows = batch_rows;
    cfg.batch_ms = batch_ms;
    sink = std::make_unique<ClickHouseSink>(cfg, std::move(f), std::move(hooks));
  }
};

}  // namespace

TEST(ClickHouseSink, SendsFullBatchesAndOldRowsAndHoldsOffsetsUntilWritten) {
  Fixture f(3, 500);
  for (int i = 0; i < 4; ++i)
    f.sink->add(Table::Orders, input_row(10 + i, "{\"n\":" + std::to_string(i) + "}"), 0);
  EXPECT_EQ(f.sink->min_pending(kOrders0), 10);
  EXPECT_TRUE(f.sink->service(0));
  ASSERT_EQ(f.fake->batch_sizes, std::vector<std::size_t>({3}));
  EXPECT_EQ(f.fake->queries[0], "INSERT INTO orderflow.orders FORMAT JSONEachRow");
  EXPECT_EQ(f.sink->min_pending(kOrders0), 13);  // the fourth waits for its batch
  f.sink->service(499);
  EXPECT_EQ(f.fake->batch_sizes.size(), 1u);
  f.sink->service(500);
  EXPECT_EQ(f.fake->batch_sizes.size(), 2u);
  EXPECT_FALSE(f.sink->min_pending(kOrders0).has_value());
  EXPECT_EQ(f.sink->buffered(), 0u);
}

TEST(ClickHouseSink, BisectsARefusedBatchDownToTheRow) {
  Fixture f(8);
  for (int i = 0; i < 8; ++i) {
    f.sink->add(Table::Payments, input_row(i, i == 5 ? "{\"bad\":1}" : "{\"ok\":" + std::to_string(i) + "}"),
                0);
  }
  EXPECT_TRUE(f.sink->service(0));
  ASSERT_EQ(f.refused.size(), 1u);
  EXPECT_EQ(f.refused[0].first, 5);
  EXPECT_NE(f.refused[0].second.find("bad row"), std::string::npos);
  EXPECT_EQ(f.fake->stored.size(), 7u);
  // The refused row's offset is held until its dead letter is acknowledged.
  EXPECT_EQ(f.sink->min_pending(kOrders0), 5);
  f.sink->release(kOrders0, 5);
  EXPECT_FALSE(f.sink->min_pending(kOrders0).has_value());
}

TEST(ClickHouseSink, KeepsEverythingWhileUnavailableAndRetriesWithBackoff) {
  Fixture f(2, 0);
  f.fake->down = true;
  f.sink->add(Table::Orders, input_row(0, "{}"), 0);
  f.sink->add(Table::Orders, input_row(1, "{}"), 0);
  EXPECT_FALSE(f.sink->service(0));
  EXPECT_FALSE(f.sink->up());
  EXPECT_EQ(f.sink->problem(), "connection refused");
  EXPECT_EQ(f.sink->retry_at_ms(), 200);
  f.sink->service(100);  // before the backoff: nothing sent
  EXPECT_EQ(f.fake->queries.size(), 1u);
  f.sink->service(200);
  EXPECT_EQ(f.fake->queries.size(), 2u);
  EXPECT_EQ(f.sink->retry_at_ms(), 600);  // doubled
  f.fake->down = false;
  EXPECT_TRUE(f.sink->service(600));
  EXPECT_TRUE(f.sink->up());
  EXPECT_EQ(f.fake->stored.size(), 2u);
  EXPECT_FALSE(f.sink->min_pending(kOrders0).has_value());
}

TEST(ClickHouseSink, DropInputRowsKeepsWindowRows) {
  Fixture f(100);
  f.sink->add(Table::Orders, input_row(0, "{}"), 0);
  SinkRow w;
  w.json = "{\"w\":1}";
  f.sink->add(Table::OrderStats, w, 0);
  f.sink->drop_input_rows();
  EXPECT_EQ(f.sink->buffered(), 1u);
  EXPECT_FALSE(f.sink->min_pending(kOrders0).has_value());
}

TEST(ClickHouseSink, RefusalIsDecidedByTheErrorCode) {
  // 18.16 answers 500 to a row it cannot parse; current releases 400 or 500 depending on the error.
  EXPECT_TRUE(orderflow::analytics::is_refusal(
      500, "Code: 27, e.displayText() = DB::Exception: Cannot parse input: expected , at row 3"));
  EXPECT_TRUE(orderflow::analytics::is_refusal(400, "Code: 691. DB::Exception: Unknown element 'GBP'"));
  EXPECT_FALSE(orderflow::analytics::is_refusal(404,
                                                "Code: 60, e.displayText() = DB::Exception: Table x "
                                                "doesn't exist"));
  EXPECT_FALSE(orderflow::analytics::is_refusal(503, "Service Unavailable"));
  EXPECT_TRUE(orderflow::analytics::is_refusal(
      500,
      "Code: 49, e.displayText() = DB::Exception: Unknown element 'GBP' for type Enum8('EUR' = 1): (while "
      "read the value of key currency), e.what() = DB::Exception"));
  EXPECT_FALSE(
      orderflow::analytics::is_refusal(500, "Code: 49, e.displayText() = DB::Exception: Logical error"));
  EXPECT_EQ(orderflow::analytics::clickhouse_error_code("Code: 241. DB::Exception: Memory limit"), 241);
}

TEST(ClickHouseUrl, AcceptsHostAndPortOnly) {
  const auto ep = orderflow::analytics::parse_clickhouse_url("http://127.0.0.1:18123/");
  EXPECT_EQ(ep.host, "127.0.0.1");
  EXPECT_EQ(ep.port, "18123");
  EXPECT_EQ(orderflow::analytics::parse_clickhouse_url("http://clickhouse").port, "8123");
  EXPECT_THROW((void)orderflow::analytics::parse_clickhouse_url("https://x:8443"), std::invalid_argument);
  EXPECT_THROW((void)orderflow::analytics::parse_clickhouse_url("http://x:8123/db"), std::invalid_argument);
  EXPECT_THROW((void)orderflow::analytics::parse_clickhouse_url("http://x:0"), std::invalid_argument);
}

TEST(ClickHouseRows, AWindowRowCarriesTheTableColumnsAndItsVersion) {
  orderflow::analytics::WindowStats s;
  s.start_ms = 1764900000000;
  s.end_ms = 1764900060000;
  s.orders = 3;
  s.order_amount_cents_by_currency = {{"EUR", 3500}, {"USD", 700}};
  s.orders_by_currency = {{"EUR", 2}, {"USD", 1}};
  s.payments_declined = 1;
  s.declined_by_reason = {{"CARD_EXPIRED", 1}};
  s.customers = {"a", "b"};
  const auto row = orderflow::analytics::window_row(orderflow::analytics::to_json(s, 60000), 42);
  ASSERT_TRUE(row.has_value());
  const auto j = nlohmann::json::parse(*row);
  EXPECT_EQ(j["window_start"], 1764900000);
  EXPECT_EQ(j["window_end"], 1764900060);
  EXPECT_EQ(j["by_currency.currency"], nlohmann::json({"EUR", "USD"}));
  EXPECT_EQ(j["by_currency.orders"], nlohmann::json({2, 1}));
  EXPECT_EQ(j["by_currency.amount_cents"], nlohmann::json({3500, 700}));
  EXPECT_EQ(j["declined_by_reason.reason"], nlohmann::json({"CARD_EXPIRED"}));
  EXPECT_EQ(j["distinct_customers"], 2);
  EXPECT_EQ(j["version"], 42);
  // A record without orders_by_currency (written before the sink existed) has no row.
  EXPECT_FALSE(orderflow::analytics::window_row(R"({"window_start_ms":0,"window_ms":1000})", 1).has_value());
}
