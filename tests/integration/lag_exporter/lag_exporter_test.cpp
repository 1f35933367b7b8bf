// lag-exporter with the real binaries: payment-service drains `orders` (the exporter reads lag 0 from the
// group's committed offsets), then stops; orders sent while no consumer runs show up as exactly that lag
// (the services' own orderflow_consumer_lag is gone by then), and a restarted consumer brings it back to 0.
// Bad flags exit 2; an unreachable broker keeps /readyz at 503 with the reason.
#include <gtest/gtest.h>

#include <optional>

#include "orderflow/testing/paths.h"
#include "orderflow/testing/wait.h"
#include "pipeline_fixture.h"

namespace orderflow::testing {
namespace {

using namespace std::chrono_literals;

struct GroupLag {
  double sum = 0;
  int series = 0;
};

// The exporter's orderflow_group_lag series of `group`; nullopt when /metrics did not answer.
std::optional<GroupLag> scrape_lag(int port, const std::string& group) {
  const auto [status, body] = http_get(port, "/metrics");
  if (status != 200) return std::nullopt;
  GroupLag out;
  const std::string prefix = "orderflow_group_lag{";
  const std::string label = "group=\"" + group + "\"";
  std::size_t pos = 0;
  while ((pos = body.find(prefix, pos)) != std::string::npos) {
    const auto end = body.find('\n', pos);
    const auto line = body.substr(pos, end - pos);
    pos = end;
    if (line.find(label) == std::string::npos) continue;
    out.sum += std::stod(line.substr(line.rfind(' ') + 1));
    ++out.series;
  }
  return out;
}

TEST(LagExporterTest, LagStaysExactWhileTheConsumersAreDown) {
  TestBroker broker;
  Pipeline p(broker);
  const int pay_port = free_port();
  const int lag_port = free_port();
  auto pay = p.start_payment(pay_port);
  ASSERT_TRUE(wait_ready(pay_port, 60s)) << pay.output();
  auto [rc, out] = p.produce_orders({"--count", "300", "--seed", "11"});
  ASSERT_EQ(rc, 0) << out;
  TopicReader payments(broker.bootstrap(), p.payments);
  ASSERT_TRUE(payments.wait_for_count(300, 60s)) << pay.output();

  const std::string groups = p.payment_group + ":" + p.orders + "+" + p.payment_retry();
  auto exporter =
      Process::start(bin_path("lag-exporter"),
                     {"--brokers", broker.bootstrap(), "--metrics-address",
                      "127.0.0.1:" + std::to_string(lag_port), "--interval-ms", "200", "--groups", groups});
  ASSERT_TRUE(wait_ready(lag_port, 30s)) << exporter.output();
  // Every partition of both topics has a series (6 + 6), and the drained group has no lag once its
  // commits (every 200 ms here) caught up.
  std::optional<GroupLag> lag;
  EXPECT_TRUE(wait_until(
      [&] {
        lag = scrape_lag(lag_port, p.payment_group);
        return lag && lag->series == 12 && lag->sum == 0;
      },
      30s, 100ms))
      << (lag ? std::to_string(lag->series) + " series, lag " + std::to_string(lag->sum) : "no /metrics")
      << exporter.output();

  // No consumer left: 200 orders arrive and wait.
  ASSERT_EQ(pay.stop(), 0) << pay.output();
  std::tie(rc, out) = p.produce_orders({"--count", "200", "--seed", "12"});
  ASSERT_EQ(rc, 0) << out;
  EXPECT_TRUE(wait_until(
      [&] {
        lag = scrape_lag(lag_port, p.payment_group);
        return lag && lag->series == 12 && lag->sum == 200;
      },
      30s, 100ms))
      << (lag ? std::to_string(lag->series) + " series, lag " + std::to_string(lag->sum) : "no /metrics")
      << exporter.output();
  EXPECT_EQ(http_get(lag_port, "/readyz").first, 200);

  if (broker.is_real()) {
    // A group named without topics: the topics it has committed on, as the broker lists them (the mock
    // cluster lists none).
    const int found_port = free_port();
    auto found =
        Process::start(bin_path("lag-exporter"), {"--brokers", broker.bootstrap(), "--metrics-address",
                                                  "127.0.0.1:" + std::to_string(found_port), "--interval-ms",
                                                  "200", "--groups", p.payment_group});
    ASSERT_TRUE(wait_ready(found_port, 30s)) << found.output();
    const auto discovered = scrape_lag(found_port, p.payment_group);
    ASSERT_TRUE(discovered.has_value());
    EXPECT_EQ(discovered->sum, 200);
    EXPECT_GE(discovered->series, 6);  // orders; the retry topic only where the group committed on it
    EXPECT_EQ(found.stop(), 0) << found.output();
  }

  // A consumer again: the backlog is drained and the lag returns to 0.
  auto again = p.start_payment(pay_port);
  EXPECT_TRUE(payments.wait_for_count(500, 90s)) << again.output();
  EXPECT_TRUE(wait_until(
      [&] {
        lag = scrape_lag(lag_port, p.payment_group);
        return lag && lag->sum == 0;
      },
      60s, 100ms))
      << (lag ? "lag " + std::to_string(lag->sum) : "no /metrics") << again.output();
  EXPECT_EQ(again.stop(), 0) << again.output();
  EXPECT_EQ(exporter.stop(), 0) << exporter.output();
}

TEST(LagExporterTest, UnreachableBrokerKeepsReadyzAt503WithTheReason) {
  const int lag_port = free_port();
  auto exporter = Process::start(
      bin_path("lag-exporter"), {"--brokers", "127.0.0.1:" + std::to_string(free_port()), "--metrics-address",
                                 "127.0.0.1:" + std::to_string(lag_port), "--interval-ms", "500"});
  std::pair<int, std::string> readyz;
  // First "first read pending", then, once a read timed out, the reason naming what failed.
  ASSERT_TRUE(wait_until(
      [&] {
        readyz = http_get(lag_port, "/readyz");
        return readyz.first == 503 && readyz.second.find("metadata") != std::string::npos;
      },
      30s, 100ms))
      << readyz.first << " " << readyz.second << exporter.output();
  EXPECT_EQ(http_get(lag_port, "/healthz").first, 200);
  EXPECT_EQ(exporter.stop(), 0) << exporter.output();
}

TEST(LagExporterTest, MalformedGroupsAndIntervalExitTwoNamingTheFlag) {
  for (const std::vector<std::string>& args : {std::vector<std::string>{"--groups", ""},
                                               {"--groups", "payment-service:"},
                                               {"--groups", ":orders"},
                                               {"--groups", "g:orders++retry"},
                                               {"--interval-ms", "5"}}) {
    auto p = Process::start(bin_path("lag-exporter"), args);
    const auto rc = p.wait(10s);
    ASSERT_TRUE(rc.has_value());
    EXPECT_EQ(*rc, 2) << args[1] << ": " << p.output();
    EXPECT_NE(p.output().find(args[0]), std::string::npos) << p.output();
  }
}

}  // namespace
}  // namespace orderflow::testing
