// analytics-service's ClickHouse sink end to end, against a real ClickHouse (tools/clickhouse-local on free
// loopback ports, deploy/clickhouse/schema.sql) and the dev broker: order-producer → orders →
// payment-service → payments, both read by analytics-service with --clickhouse-url. What ClickHouse holds
// after de-duplication (the README's queries: FINAL, uniqExact on the event id) must equal the test's own
// aggregation of the topics: raw rows, sums by currency, authorised / declined, distinct customers per
// window, and the window rows. Also when the service is SIGKILLed under load (raw duplicates are allowed
// and reported), when ClickHouse is SIGKILLed and restarted mid-run (readiness 503 meanwhile, sink errors
// counted, nothing lost), and a row the table refuses goes to the service's DLQ with the reason.
// Skipped without a ClickHouse server binary (scripts/install-deps.sh installs clickhouse-server).
#include <gtest/gtest.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "analytics_fixture.h"
#include "orderflow/events/events.h"
#include "orderflow/testing/gtest_require.h"
#include "orderflow/testing/paths.h"
#include "orderflow/testing/wait.h"

namespace orderflow::testing::analytics {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// 18.16 writes 64-bit integers in JSON output as strings, current releases as numbers.
std::int64_t as_int(const nlohmann::json& v) {
  if (v.is_string()) return std::stoll(v.get<std::string>());
  return v.get<std::int64_t>();
}

// A server of tools/clickhouse-local in a temp dir of its own; stopped and wiped by the destructor.
class ClickHouse {
 public:
  ClickHouse() : tmp_(make_temp_dir("orderflow-ch-sink")), dir_(tmp_ + "/ch") {}
  ~ClickHouse() {
    (void)run({"stop", "--dir", dir_, "--wipe"}, 60s);
    std::error_code ignored;
    std::filesystem::remove_all(tmp_, ignored);
  }
  ClickHouse(const ClickHouse&) = delete;
  ClickHouse& operator=(const ClickHouse&) = delete;

  // Starts it (on `port_` again after kill()); --max-lifetime so an interrupted run leaves nothing.
  bool start() {
    std::vector<std::string> args{
        "start", "--dir", dir_, "--max-lifetime", "900", "--port", port_ ? std::to_string(port_) : "0"};
    const auto [rc, out] = run(args, 90s);
    if (rc != 0) {
      ADD_FAILURE() << "clickhouse-local start: " << out;
      return false;
    }
    std::ifstream in(dir_ + "/http");
    std::string addr;
    in >> addr;
    port_ = std::stoi(addr.substr(addr.rfind(':') + 1));
    return true;
  }
  void kill() {
    const auto [rc, out] = run({"kill", "--dir", dir_}, 30s);
    EXPECT_EQ(rc, 0) << out;
  }
  bool load_schema() {
    const auto [rc, out] =
        run({"query", "--dir", dir_, "--file", source_path("deploy/clickhouse/schema.sql")}, 60s);
    EXPECT_EQ(rc, 0) << out;
    return rc == 0;
  }
  // The result of a query (TabSeparated unless the SQL says otherwise); "" and a failure on error.
  std::string query(const std::string& sql) {
    const auto [rc, out] = run({"query", "--port", std::to_string(port_), sql}, 60s);
    EXPECT_EQ(rc, 0) << sql << "\n" << out;
    return rc == 0 ? out : std::string();
  }
  std::int64_t number(const std::string& sql) {
    const auto out = query(sql);
    try {
      return std::stoll(out);
    } catch (const std::exception&) {
      ADD_FAILURE() << sql << " gave '" << out << "'";
      return -1;
    }
  }
  [[nodiscard]] std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  static std::pair<int, std::string> run(const std::vector<std::string>& args, std::chrono::seconds timeout) {
    auto p = Process::start(source_path("tools/clickhouse-local/clickhouse-local.sh"), args);
    const auto rc = p.wait(timeout);
    return {rc.value_or(-1), p.output()};
  }
  std::string tmp_;
  std::string dir_;
  int port_ = 0;
};

class AnalyticsClickHouseTest : public AnalyticsFixture {
 protected:
  ClickHouse ch;

  void SetUp() override {
    ORDERFLOW_REQUIRE_TOOL(server, "clickhouse-server", "clickhouse-server");
    ORDERFLOW_REQUIRE_TOOL(curl, "curl", "curl");
    ASSERT_TRUE(ch.start());
    ASSERT_TRUE(ch.load_schema());
    AnalyticsFixture::SetUp();
  }

  // The sink's flags on top of the fixture's; $ORDERFLOW_ANALYTICS_GUARANTEE (the kafka variant:
  // exactly-once) as --guarantee.
  Process start_sink(int port) const {
    std::vector<std::string> extra{"--clickhouse-url",      ch.url(), "--clickhouse-batch-rows", "500",
                                   "--clickhouse-batch-ms", "200",    "--clickhouse-timeout-ms", "3000"};
    if (!guarantee().empty()) extra.insert(extra.end(), {"--guarantee", guarantee()});
    return start_analytics(port, extra);
  }
  static std::string guarantee() {
    const char* g = std::getenv("ORDERFLOW_ANALYTICS_GUARANTEE");
    return g != nullptr ? g : "";
  }
  // The service runs in the mode asked for (its start line says so).
  static void expect_mode(const Process& analytics) {
    if (guarantee() != "exactly-once") return;
    EXPECT_NE(analytics.output().find("exactly-once: transactional.id"), std::string::npos)
        << analytics.output();
  }

  // Waits until ClickHouse holds every order and payment of the topics (de-duplicated) and the windows
  // account for all of them, then compares everything with the topics. Returns the raw duplicates
  // (rows stored beyond one per event) of orders + payments.
  std::int64_t expect_clickhouse_matches_topics(std::size_t expected_orders) {
    const auto e = expected_from_topics(expected_orders);
    const auto n_orders = static_cast<std::int64_t>(e.order_ids.size());
    const auto n_payments = static_cast<std::int64_t>(e.payment_ids.size());

    // The README's de-duplicating counts.
    const std::string q_orders = "SELECT uniqExact(event_id) FROM orderflow.orders";
    const std::string q_payments = "SELECT uniqExact(event_id) FROM orderflow.payments";
    const std::string q_window_orders = "SELECT sum(orders) FROM orderflow.order_stats FINAL";
    const std::string q_window_payments =
        "SELECT sum(authorized + declined) FROM orderflow.order_stats FINAL";
    std::int64_t got_orders = 0, got_payments = 0, got_w_orders = 0, got_w_payments = 0;
    const bool complete = wait_until(
        [&] {
          got_orders = ch.number(q_orders);
          got_payments = ch.number(q_payments);
          got_w_orders = ch.number(q_window_orders);
          got_w_payments = ch.number(q_window_payments);
          return got_orders >= n_orders && got_payments >= n_payments && got_w_orders >= n_orders &&
                 got_w_payments >= n_payments;
        },
        60s, 300ms);
    EXPECT_TRUE(complete) << "ClickHouse: " << got_orders << "/" << n_orders << " orders, " << got_payments
                          << "/" << n_payments << " payments; windows: " << got_w_orders << " orders, "
                          << got_w_payments << " payments";
    EXPECT_EQ(got_orders, n_orders);
    EXPECT_EQ(got_payments, n_payments);
    EXPECT_EQ(got_w_orders, n_orders);
    EXPECT_EQ(got_w_payments, n_payments);

    // Raw rows: sums by currency and, per window, orders / payments / distinct customers, from the
    // de-duplicated raw tables.
    std::map<std::string, std::int64_t> by_currency;
    std::istringstream cur(
        ch.query("SELECT currency, sum(amount_cents) FROM orderflow.orders FINAL GROUP BY currency"));
    for (std::string c, v; cur >> c >> v;) by_currency[c] = std::stoll(v);
    EXPECT_EQ(by_currency, e.amount_by_currency);
    std::istringstream raw(
        ch.query("SELECT intDiv(occurred_at_ms, 2000) * 2, count(), uniqExact(customer_id) FROM "
                 "orderflow.orders FINAL "
                 "GROUP BY intDiv(occurred_at_ms, 2000) ORDER BY 1"));
    std::size_t raw_windows = 0;
    for (std::int64_t start = 0, n = 0, customers = 0; raw >> start >> n >> customers; ++raw_windows) {
      const auto it = e.windows.find(start * 1000);
      if (it == e.windows.end()) {
        ADD_FAILURE() << "raw orders in window " << start << " that the topics do not have";
        continue;
      }
      EXPECT_EQ(n, it->second.orders) << "window " << start;
      EXPECT_EQ(customers, static_cast<std::int64_t>(it->second.customers.size())) << "window " << start;
    }
    std::istringstream raw_pay(ch.query(
        "SELECT intDiv(occurred_at_ms, 2000) * 2, countIf(status = 'AUTHORIZED'), countIf(status = "
        "'DECLINED') FROM orderflow.payments FINAL GROUP BY intDiv(occurred_at_ms, 2000) ORDER BY 1"));
    for (std::int64_t start = 0, a = 0, d = 0; raw_pay >> start >> a >> d;) {
      const auto it = e.windows.find(start * 1000);
      if (it == e.windows.end()) continue;
      EXPECT_EQ(a, it->second.authorized) << "window " << start;
      EXPECT_EQ(d, it->second.declined) << "window " << start;
    }

    // Window rows (FINAL: one per window, the highest version).
    std::istringstream stats(ch.query(
        "SELECT toUInt32(window_start) AS start, orders, authorized, declined, distinct_customers, "
        "by_currency.currency AS cur, by_currency.amount_cents AS amount, declined_by_reason.reason AS "
        "reason, "
        "declined_by_reason.payments AS reason_n FROM orderflow.order_stats FINAL ORDER BY start FORMAT "
        "JSONEachRow"));
    std::size_t windows = 0;
    for (std::string line; std::getline(stats, line);) {
      if (line.empty()) continue;
      ++windows;
      const auto j = nlohmann::json::parse(line);
      const auto start = as_int(j["start"]);
      const auto it = e.windows.find(start * 1000);
      if (it == e.windows.end()) {
        ADD_FAILURE() << "window row " << start << " that the topics do not have";
        continue;
      }
      const auto& w = it->second;
      EXPECT_EQ(as_int(j["orders"]), w.orders) << "window " << start;
      EXPECT_EQ(as_int(j["authorized"]), w.authorized) << "window " << start;
      EXPECT_EQ(as_int(j["declined"]), w.declined) << "window " << start;
      EXPECT_EQ(as_int(j["distinct_customers"]), static_cast<std::int64_t>(w.customers.size()))
          << "window " << start;
      std::map<std::string, std::int64_t> amount, reasons;
      for (std::size_t i = 0; i < j["cur"].size(); ++i) amount[j["cur"][i]] = as_int(j["amount"][i]);
      for (std::size_t i = 0; i < j["reason"].size(); ++i) reasons[j["reason"][i]] = as_int(j["reason_n"][i]);
      EXPECT_EQ(amount, w.amount) << "window " << start;
      EXPECT_EQ(reasons, w.by_reason) << "window " << start;
    }
    EXPECT_EQ(windows, e.windows.size());
    const auto stored = ch.number("SELECT count() FROM orderflow.orders") +
                        ch.number("SELECT count() FROM orderflow.payments");
    const auto window_rows = ch.number("SELECT count() FROM orderflow.order_stats");
    std::printf(
        "clickhouse: %lld orders, %lld payments, %zu windows; raw rows stored %lld (%lld duplicates before "
        "de-duplication), window rows stored %lld\n",
        static_cast<long long>(n_orders), static_cast<long long>(n_payments), windows,
        static_cast<long long>(stored), static_cast<long long>(stored - n_orders - n_payments),
        static_cast<long long>(window_rows));
    return stored - n_orders - n_payments;
  }
};

TEST_F(AnalyticsClickHouseTest, RowsAndWindowsEqualTheTopics) {
  int pay_port = 0;
  auto payment = start_payment_ready(pay_port);
  const int port = free_port();
  auto analytics = start_sink(port);
  ASSERT_TRUE(wait_ready(port, 30s)) << analytics.output();
  expect_mode(analytics);

  const auto [rc, out] =
      p.produce_orders({"--count", "600", "--rate", "200", "--customers", "40", "--seed", "7"});
  ASSERT_EQ(rc, 0) << out;
  EXPECT_EQ(expect_clickhouse_matches_topics(600), 0);
  EXPECT_EQ(scrape_metric(port, "orderflow_analytics_clickhouse_up"), 1.0);
  EXPECT_EQ(scrape_metric(port, "orderflow_analytics_clickhouse_rows_written_total", {{"table", "orders"}}),
            600.0);
  EXPECT_EQ(scrape_metric(port, "orderflow_analytics_clickhouse_errors_total", {{"table", "orders"}}), 0.0);
  EXPECT_EQ(analytics.stop(), 0) << analytics.output();
  EXPECT_EQ(payment.stop(), 0);
}

TEST_F(AnalyticsClickHouseTest, ARowTheTableRefusesGoesToTheDeadLetterTopicWithTheReason) {
  // This table takes two currencies only: a GBP order is a row ClickHouse refuses.
  ch.query("ALTER TABLE orderflow.orders MODIFY COLUMN currency Enum8('EUR' = 1, 'USD' = 2)");
  const int port = free_port();
  auto analytics = start_sink(port);
  ASSERT_TRUE(wait_ready(port, 30s)) << analytics.output();
  expect_mode(analytics);

  std::mt19937_64 rng(5);
  const auto file = std::filesystem::temp_directory_path() / ("analytics-refused-" + random_hex() + ".jsonl");
  std::string refused_id;
  {
    std::ofstream f(file);
    for (int i = 0; i < 30; ++i) {
      events::OrderCreated o;
      o.event_id = events::uuid_v4(rng);
      o.occurred_at = events::format_timestamp(std::chrono::system_clock::now());
      o.order_id = "ord-" + std::to_string(i);
      o.customer_id = "cust-" + std::to_string(i % 7);
      o.items = {{"sku-1", 1, 1000 + i}};
      o.amount_cents = 1000 + i;
      o.currency = i == 17 ? "GBP" : (i % 2 ? "EUR" : "USD");
      if (i == 17) refused_id = o.event_id;
      f << events::to_json(o) << "\n";
    }
  }
  const auto [rc, out] = p.produce_orders({"--from-file", file.string()});
  std::filesystem::remove(file);
  ASSERT_EQ(rc, 0) << out;

  TopicReader dlq(broker.bootstrap(), group + ".dlq");
  ASSERT_TRUE(dlq.wait_for_count(1, 30s)) << analytics.output();
  EXPECT_TRUE(wait_until([&] { return ch.number("SELECT uniqExact(event_id) FROM orderflow.orders") == 29; },
                         30s, 200ms));
  dlq.drain_to_end(5s);
  ASSERT_EQ(dlq.records().size(), 1u);
  const auto& d = dlq.records().front();
  const auto order = events::parse_order_created(d.value);
  ASSERT_TRUE(order.has_value());
  EXPECT_EQ(order.value().event_id, refused_id);
  EXPECT_EQ(header(d, "x-original-topic"), std::optional<std::string>(p.orders));
  EXPECT_EQ(header(d, "x-error-class"), std::optional<std::string>("poison"));
  EXPECT_EQ(header(d, "x-failed-service"), std::optional<std::string>("analytics-service"));
  const auto reason = header(d, "x-error-message").value_or("");
  EXPECT_NE(reason.find("ClickHouse refused the row"), std::string::npos) << reason;
  EXPECT_NE(reason.find("GBP"), std::string::npos) << reason;
  std::printf("dead letter reason: %s\n", reason.c_str());
  EXPECT_EQ(scrape_metric(port, "orderflow_analytics_clickhouse_rows_refused_total", {{"table", "orders"}}),
            1.0);
  EXPECT_EQ(ch.number("SELECT count() FROM orderflow.orders WHERE event_id = '" + refused_id + "'"), 0);
  EXPECT_EQ(analytics.stop(), 0) << analytics.output();
}

TEST_F(AnalyticsClickHouseTest, ClickHouseKilledAndRestartedMidRunLosesNothing) {
  int pay_port = 0;
  auto payment = start_payment_ready(pay_port);
  const int port = free_port();
  auto analytics = start_sink(port);
  ASSERT_TRUE(wait_ready(port, 30s)) << analytics.output();
  expect_mode(analytics);

  // About 16 s of orders; ClickHouse is killed once rows are flowing and brought back a few seconds later.
  auto producer = start_order_load(2400, 150, 60, 13);
  ASSERT_TRUE(wait_until(
      [&] {
        return scrape_metric(port, "orderflow_analytics_clickhouse_rows_written_total", {{"table", "orders"}})
                   .value_or(0) >= 300;
      },
      30s, 100ms))
      << analytics.output();
  ch.kill();
  const auto down_at = Clock::now();
  // Readiness turns 503 with the reason once an INSERT fails; the sink errors are counted.
  std::string body;
  EXPECT_TRUE(wait_until(
      [&] {
        const auto [status, b] = http_get(port, "/readyz");
        body = b;
        return status == 503 && b.find("ClickHouse") != std::string::npos;
      },
      10s, 50ms))
      << body;
  std::printf("readyz while ClickHouse is down: %s\n", body.c_str());
  EXPECT_EQ(scrape_metric(port, "orderflow_analytics_clickhouse_up"), 0.0);
  EXPECT_EQ(scrape_metric(port, "orderflow_analytics_input_paused"), 1.0);
  // Down for a few seconds while orders keep coming (the lag grows).
  std::this_thread::sleep_until(down_at + 4s);  // the outage itself, not a wait for a condition
  const double errors = scrape_metric(port, "orderflow_analytics_clickhouse_errors_total").value_or(0);
  EXPECT_GE(errors, 2.0);
  ASSERT_TRUE(ch.start());
  const auto outage = std::chrono::duration<double>(Clock::now() - down_at).count();
  EXPECT_TRUE(wait_until([&] { return http_get(port, "/readyz").first == 200; }, 30s, 100ms))
      << http_get(port, "/readyz").second;
  EXPECT_EQ(scrape_metric(port, "orderflow_analytics_input_paused"), 0.0);
  std::printf("ClickHouse outage %.1f s, %.0f failed INSERTs, ready again %.1f s after the kill\n", outage,
              errors, std::chrono::duration<double>(Clock::now() - down_at).count());
  ASSERT_EQ(producer.wait(90s), std::optional<int>(0)) << producer.output();
  expect_clickhouse_matches_topics(2400);
  EXPECT_EQ(analytics.stop(), 0) << analytics.output();
  EXPECT_EQ(payment.stop(), 0);
}

TEST_F(AnalyticsClickHouseTest, SigkillOfTheServiceUnderLoadLeavesExactRowsAfterDeDuplication) {
  int pay_port = 0;
  auto payment = start_payment_ready(pay_port);
  int port = free_port();
  auto analytics = start_sink(port);
  ASSERT_TRUE(wait_ready(port, 30s)) << analytics.output();
  expect_mode(analytics);

  auto producer = start_order_load(2400, 150, 60, 17);
  int kills = 0;
  for (int kill = 1; kill <= 2; ++kill) {
    const auto written = scrape_metric(port, "orderflow_analytics_clickhouse_rows_written_total").value_or(0);
    ASSERT_TRUE(wait_until(
        [&] {
          return scrape_metric(port, "orderflow_analytics_clickhouse_rows_written_total").value_or(0) >
                 written + 100;
        },
        30s, 100ms))
        << analytics.output();
    analytics.signal(SIGKILL);
    analytics.wait(10s);
    ++kills;
    port = free_port();
    analytics = start_sink(port);
    ASSERT_TRUE(wait_ready(port, 60s)) << analytics.output();
    expect_mode(analytics);
  }
  ASSERT_EQ(producer.wait(90s), std::optional<int>(0)) << producer.output();
  const auto duplicates = expect_clickhouse_matches_topics(2400);
  std::printf(
      "%d SIGKILLs of analytics-service (%s); %lld raw duplicate rows left before de-duplication "
      "(background merges may already have removed some)\n",
      kills, guarantee().empty() ? "at-least-once" : guarantee().c_str(), static_cast<long long>(duplicates));
  EXPECT_EQ(analytics.stop(), 0) << analytics.output();
  EXPECT_EQ(payment.stop(), 0);
}

}  // namespace
}  // namespace orderflow::testing::analytics
