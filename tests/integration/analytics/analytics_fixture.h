// What the analytics-service tests share: the service's command line for a test's broker and names, the
// test's own aggregation of `orders` and `payments` by event time (independent of the service's code), and
// what `order-stats` holds, read back and compared window by window. Small windows (2 s) so that they
// close within seconds. Not thread-safe; one fixture per test.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "orderflow/testing/process.h"
#include "orderflow/testing/test_broker.h"
#include "orderflow/testing/topic_reader.h"
#include "pipeline_fixture.h"

namespace orderflow::testing::analytics {

constexpr std::int64_t kWindowMs = 2000;

// Milliseconds since the epoch of an `occurred_at` (a failure when it does not parse).
std::int64_t ms_of(const std::string& ts);
// The start of the window holding `ms`.
std::int64_t window_of(std::int64_t ms);

// The mock creates a topic that a metadata request names; a real broker gets it through the Admin API.
void ensure_topic(TestBroker& broker, const std::string& topic);

// The test's own aggregation of the topics, by window start (ms). Every record counts (as the service
// counts them); the id sets are what a de-duplicating query (uniqExact on event_id) counts.
struct Expected {
  struct Window {
    std::int64_t orders = 0, authorized = 0, declined = 0;
    std::map<std::string, std::int64_t> amount, authorized_amount, by_reason;
    std::set<std::string> customers;
  };
  std::map<std::int64_t, Window> windows;
  std::map<std::string, std::int64_t> amount_by_currency;
  std::set<std::string> order_ids, payment_ids;
  std::int64_t orders = 0, payments = 0;  // valid records
};
Expected aggregate(const std::vector<Record>& orders, const std::vector<Record>& payments);

// What `order-stats` holds: the first copy of every window and every copy's value.
struct Published {
  struct Window {
    std::int64_t orders = 0, authorized = 0, declined = 0, distinct_customers = 0;
    std::map<std::string, std::int64_t> amount, authorized_amount, by_reason;
  };
  std::map<std::int64_t, Window> windows;                   // by start, first copy
  std::map<std::int64_t, std::vector<std::string>> copies;  // by start, every record value read
  std::int64_t orders = 0, payments = 0;                    // over the first copies
  std::size_t records = 0;
};
// Also checks each record's derived id, key and window length.
Published read_stats(const std::vector<Record>& stats);

// Every expected window published with the expected contents, and no other window. Copies are the
// caller's business (at-least-once and exactly-once allow different ones).
void expect_windows_equal(const Expected& want, const Published& got);

class AnalyticsFixture : public ::testing::Test {
 protected:
  TestBroker broker;
  Pipeline p{broker};
  std::string stats_topic = broker.is_real() ? "order-stats-" + broker.unique_suffix() : "order-stats";
  std::string group = "analytics-service" + (broker.is_real() ? "-" + broker.unique_suffix() : std::string());

  void SetUp() override { ensure_topic(broker, stats_topic); }

  // The common flags (the names above, 2 s windows, fast group timing for restarts), then `extra`.
  [[nodiscard]] std::vector<std::string> analytics_args(int port,
                                                        const std::vector<std::string>& extra) const;
  [[nodiscard]] Process start_analytics(int port, const std::vector<std::string>& extra = {}) const;
  // payment-service started and ready (a failure otherwise); its metrics port in `port`.
  Process start_payment_ready(int& port, const std::vector<std::string>& extra = {}) const;
  // order-producer in the background: `count` orders at `rate`/s.
  [[nodiscard]] Process start_order_load(int count, int rate, int customers, int seed) const;

  // Reads the inputs once they hold `expected_orders` orders and as many payments (bounded) and
  // aggregates them (read_committed: what a transactional producer aborted is not there).
  Expected expected_from_topics(std::size_t expected_orders);
  // Reads `order-stats` (read_committed or not) until its first copies account for every order and
  // payment of `want` (bounded); a failure when they do not.
  Published wait_for_stats(const Expected& want, bool read_committed, std::chrono::seconds timeout);
};

}  // namespace orderflow::testing::analytics
