// wait_for_broker: a broker that never answers is reported with the client's own connection error, once,
// in the final line and through on_problem (for /readyz), not only as "cannot reach Kafka".
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "orderflow/runtime/stage_service.h"
#include "orderflow/testing/held_port.h"

namespace {

using orderflow::messaging::KafkaProperties;
using orderflow::runtime::wait_for_broker;

TEST(WaitForBrokerTest, TimeoutNamesTheAddressAndTheConnectionError) {
  int closed_port = 0;
  {
    orderflow::testing::HeldPort p;  // free a moment ago, closed now: every connection is refused
    closed_port = p.port();
  }
  const std::string address = "127.0.0.1:" + std::to_string(closed_port);
  KafkaProperties props;
  props.set("bootstrap.servers", address);
  std::vector<std::string> problems;
  std::string failure;
  const auto started = std::chrono::steady_clock::now();
  EXPECT_FALSE(wait_for_broker(
      props, std::chrono::seconds(3), [&](const std::string& p) { problems.push_back(p); }, &failure));
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  EXPECT_GE(seconds, 2.5);
  EXPECT_LT(seconds, 10.0);
  const std::string head =
      "cannot reach Kafka at " + address + " within 3 s: Local: Broker transport failure: ";
  EXPECT_EQ(failure.rfind(head, 0), 0U) << failure;
  EXPECT_NE(failure.find("Connection refused"), std::string::npos) << failure;
  EXPECT_EQ(failure.find("(after "), std::string::npos) << "the variable suffix is dropped: " << failure;
  EXPECT_EQ(failure.find('\n'), std::string::npos) << failure;
  ASSERT_FALSE(problems.empty());
  // Reported when it changes, not at every attempt: the same refusal reads the same each time.
  EXPECT_EQ(problems.size(), 1U) << problems.back();
  EXPECT_EQ(failure, "cannot reach Kafka at " + address + " within 3 s: " + problems.back());
}

}  // namespace
