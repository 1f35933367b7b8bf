// GatewaySimulator: failure rate extremes, the observed rate over many draws, and determinism per
// (seed, order event id, attempt).
#include "orderflow/payment/gateway_simulator.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

namespace {

using namespace std::chrono_literals;
using orderflow::payment::GatewaySimulator;

std::string id_of(int i) {
  return "00000000-0000-4000-8000-" + std::to_string(100000000000 + i);
}

TEST(GatewaySimulatorTest, RateZeroNeverFails) {
  const GatewaySimulator g(0.0, 0ms, 42);
  for (int i = 0; i < 10000; ++i) ASSERT_TRUE(g.call(id_of(i), 1 + i % 4)) << i;
}

TEST(GatewaySimulatorTest, RateOneAlwaysFails) {
  const GatewaySimulator g(1.0, 0ms, 42);
  for (int i = 0; i < 10000; ++i) ASSERT_FALSE(g.call(id_of(i), 1 + i % 4)) << i;
}

TEST(GatewaySimulatorTest, DrawsAreInTheUnitInterval) {
  const GatewaySimulator g(0.5, 0ms, 7);
  for (int i = 0; i < 10000; ++i) {
    const double d = g.draw(id_of(i), 1);
    ASSERT_GE(d, 0.0);
    ASSERT_LT(d, 1.0);
  }
  EXPECT_GE(g.draw("", 0), 0.0);
}

TEST(GatewaySimulatorTest, ThirtyPercentFailsAboutThirtyPercentOfCalls) {
  for (std::uint64_t seed : {1ULL, 42ULL, 123456789ULL}) {
    const GatewaySimulator g(0.3, 0ms, seed);
    int failures = 0;
    for (int i = 0; i < 10000; ++i) failures += g.call(id_of(i), 1) ? 0 : 1;
    // Binomial(10000, 0.3) has sd ≈ 46: ±300 is > 6 sd.
    EXPECT_NEAR(failures, 3000, 300) << "seed " << seed;
  }
}

TEST(GatewaySimulatorTest, AttemptsAreIndependentSoRetriesCanSucceed) {
  const GatewaySimulator g(0.3, 0ms, 42);
  int both = 0;
  for (int i = 0; i < 10000; ++i) both += (!g.call(id_of(i), 1) && !g.call(id_of(i), 2)) ? 1 : 0;
  EXPECT_NEAR(both, 900, 200) << "P(fail twice) should be about 0.3 × 0.3";
}

TEST(GatewaySimulatorTest, DeterministicPerSeedIdAndAttempt) {
  const GatewaySimulator a(0.3, 0ms, 42);
  const GatewaySimulator b(0.3, 0ms, 42);
  const GatewaySimulator other_seed(0.3, 0ms, 43);
  int differs_by_seed = 0;
  int differs_by_attempt = 0;
  for (int i = 0; i < 1000; ++i) {
    const auto id = id_of(i);
    ASSERT_EQ(a.draw(id, 1), b.draw(id, 1));
    ASSERT_EQ(a.draw(id, 3), a.draw(id, 3)) << "no hidden state";
    ASSERT_EQ(a.call(id, 2), b.call(id, 2));
    differs_by_seed += a.draw(id, 1) != other_seed.draw(id, 1) ? 1 : 0;
    differs_by_attempt += a.draw(id, 1) != a.draw(id, 2) ? 1 : 0;
  }
  EXPECT_EQ(differs_by_seed, 1000);
  EXPECT_EQ(differs_by_attempt, 1000);
}

TEST(GatewaySimulatorTest, OrderOfCallsDoesNotMatter) {
  const GatewaySimulator g(0.3, 0ms, 42);
  std::vector<bool> forward;
  for (int i = 0; i < 200; ++i) forward.push_back(g.call(id_of(i), 1));
  for (int i = 199; i >= 0; --i) ASSERT_EQ(g.call(id_of(i), 1), forward[static_cast<std::size_t>(i)]) << i;
}

TEST(GatewaySimulatorTest, CallTakesAtLeastTheConfiguredLatency) {
  const GatewaySimulator g(0.0, 20ms, 42);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(g.call(id_of(1), 1));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 20ms);
}

}  // namespace
