// /healthz and /readyz around a broker that is not there yet: /readyz is 503 while payment-service
// waits for the brokers and 200 once it has joined its group; /healthz is 200 throughout.
#include <gtest/gtest.h>

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
  auto pay = Process::start(bin_path("payment-service"),
                            {"--brokers", bootstrap, "--metrics-address", "127.0.0.1:" + std::to_string(metrics_port),
                             "--startup-timeout-s", "60", "-X", "session.timeout.ms=6000", "-X",
                             "heartbeat.interval.ms=1000", "-X", "reconnect.backoff.max.ms=1000"});
  ASSERT_TRUE(wait_until([&] { return http_get(metrics_port, "/healthz").first == 200; }, 30s)) << pay.output();

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
  EXPECT_EQ(healthz_failures, 0);

  EXPECT_EQ(pay.stop(30s), 0) << pay.output();
  EXPECT_EQ(broker.stop(10s), 0) << broker.output();
}

}  // namespace
}  // namespace orderflow::testing
