// /healthz and /readyz around a broker that is not there yet, then goes away and comes back: /readyz is
// 503 while payment-service waits for the brokers, 200 once it has joined its group, 503 again once its
// librdkafka statistics show no working broker connection (the broker was killed), and 200 when a
// broker is back on the port; /healthz is 200 throughout.
#include <gtest/gtest.h>

#include <csignal>

#include "orderflow/testing/paths.h"
#include "orderflow/testing/wait.h"
#include "pipeline_fixture.h"

namespace orderflow::testing {
namespace {

using namespace std::chrono_literals;

TEST(ReadinessTest, ReadyzFollowsTheBrokerHealthzStaysUp) {
  const int broker_port = free_port();
  const int metrics_port = free_port();
  const std::string bootstrap = "localhost:" + std::to_string(broker_port);
  auto pay = Process::start(
      bin_path("payment-service"),
      {"--brokers", bootstrap, "--metrics-address", "127.0.0.1:" + std::to_string(metrics_port),
       "--startup-timeout-s", "60", "-X", "session.timeout.ms=6000", "-X", "heartbeat.interval.ms=1000", "-X",
       "reconnect.backoff.max.ms=1000", "-X", "statistics.interval.ms=1000"});
  ASSERT_TRUE(wait_until([&] { return http_get(metrics_port, "/healthz").first == 200; }, 30s))
      << pay.output();

  // Nothing listens on the broker port: several probes over ~1 s all say "not ready".
  int healthz_failures = 0;
  for (int i = 0; i < 5; ++i) {
    const auto [status, body] = http_get(metrics_port, "/readyz");
    EXPECT_EQ(status, 503) << body;
    EXPECT_NE(body.find("not ready"), std::string::npos) << body;
    if (http_get(metrics_port, "/healthz").first != 200) ++healthz_failures;
    wait_until([] { return false; }, 200ms);
  }
  ASSERT_TRUE(pay.running()) << pay.output();

  auto broker = Process::start(bin_path("kafka-dev-broker"), {"--port", std::to_string(broker_port)});
  ASSERT_TRUE(broker.wait_for_output("ready", 30s)) << broker.output();

  const bool ready = wait_until(
      [&] {
        if (http_get(metrics_port, "/healthz").first != 200) ++healthz_failures;
        return http_get(metrics_port, "/readyz").first == 200;
      },
      60s, 100ms);
  EXPECT_TRUE(ready) << pay.output();
  EXPECT_EQ(http_get(metrics_port, "/readyz"), std::make_pair(200, std::string("ready\n")));
  EXPECT_EQ(http_get(metrics_port, "/healthz").first, 200);

  // The broker dies: within a statistics interval (1 s here) or two, /readyz says why.
  broker.signal(SIGKILL);
  ASSERT_TRUE(broker.wait(10s).has_value());
  std::string body;
  const bool unready = wait_until(
      [&] {
        if (http_get(metrics_port, "/healthz").first != 200) ++healthz_failures;
        const auto r = http_get(metrics_port, "/readyz");
        body = r.second;
        return r.first == 503;
      },
      30s, 100ms);
  EXPECT_TRUE(unready) << pay.output();
  EXPECT_NE(body.find("no working connection to any broker"), std::string::npos) << body;
  ASSERT_TRUE(pay.running()) << pay.output();

  // A broker is back on the port (the mock keeps nothing, so the group is joined anew): ready again.
  auto again = Process::start(bin_path("kafka-dev-broker"), {"--port", std::to_string(broker_port)});
  ASSERT_TRUE(again.wait_for_output("ready", 30s)) << again.output();
  EXPECT_TRUE(wait_until(
      [&] {
        if (http_get(metrics_port, "/healthz").first != 200) ++healthz_failures;
        return http_get(metrics_port, "/readyz").first == 200;
      },
      90s, 100ms))
      << http_get(metrics_port, "/readyz").second << pay.output();
  EXPECT_EQ(healthz_failures, 0);

  EXPECT_EQ(pay.stop(30s), 0) << pay.output();
  EXPECT_EQ(again.stop(10s), 0) << again.output();
}

}  // namespace
}  // namespace orderflow::testing
