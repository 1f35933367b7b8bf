// KeyGate (--retry-ordering key): per-key hold counts and the bound on distinct keys.
#include <gtest/gtest.h>

#include <string>

#include "orderflow/messaging/key_gate.h"

namespace {

using orderflow::messaging::KeyGate;

TEST(KeyGateTest, NothingHeldInitially) {
  const KeyGate g;
  EXPECT_FALSE(g.held("cust-1"));
  EXPECT_FALSE(g.held(""));
  EXPECT_EQ(g.size(), 0U);
  EXPECT_EQ(g.overflowed(), 0U);
}

TEST(KeyGateTest, HoldThenReleaseFreesTheKey) {
  KeyGate g;
  EXPECT_TRUE(g.hold("cust-1"));
  EXPECT_TRUE(g.held("cust-1"));
  EXPECT_FALSE(g.held("cust-2"));
  EXPECT_EQ(g.size(), 1U);
  g.release("cust-1");
  EXPECT_FALSE(g.held("cust-1"));
  EXPECT_EQ(g.size(), 0U);
}

TEST(KeyGateTest, HoldsAreCountedPerKey) {
  KeyGate g;
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(g.hold("cust-1"));
  ASSERT_TRUE(g.hold("cust-2"));
  EXPECT_EQ(g.size(), 2U);
  g.release("cust-1");
  EXPECT_TRUE(g.held("cust-1")) << "two records of the key are still on the retry path";
  g.release("cust-1");
  EXPECT_TRUE(g.held("cust-1"));
  g.release("cust-1");
  EXPECT_FALSE(g.held("cust-1"));
  EXPECT_TRUE(g.held("cust-2"));
  EXPECT_EQ(g.size(), 1U);
}

TEST(KeyGateTest, ReleaseOfUnknownOrAlreadyFreedKeyIsANoOp) {
  KeyGate g;
  g.release("never-held");
  EXPECT_EQ(g.size(), 0U);
  ASSERT_TRUE(g.hold("k"));
  g.release("k");
  g.release("k");  // one release too many must not underflow or resurrect the key
  EXPECT_FALSE(g.held("k"));
  ASSERT_TRUE(g.hold("k"));
  g.release("k");
  EXPECT_FALSE(g.held("k")) << "a single hold needs a single release";
}

TEST(KeyGateTest, KeysAreExactBytes) {
  KeyGate g;
  ASSERT_TRUE(g.hold(std::string("a\0b", 3)));
  EXPECT_TRUE(g.held(std::string("a\0b", 3)));
  EXPECT_FALSE(g.held("a"));
  EXPECT_FALSE(g.held("A\0b"));
  ASSERT_TRUE(g.hold(""));
  EXPECT_TRUE(g.held(""));
}

TEST(KeyGateTest, BoundRefusesNewKeysAndCountsOverflow) {
  KeyGate g(2);
  EXPECT_TRUE(g.hold("a"));
  EXPECT_TRUE(g.hold("b"));
  EXPECT_FALSE(g.hold("c"));
  EXPECT_FALSE(g.held("c")) << "a refused key is not gated";
  EXPECT_EQ(g.overflowed(), 1U);
  EXPECT_FALSE(g.hold("d"));
  EXPECT_FALSE(g.hold("c"));
  EXPECT_EQ(g.overflowed(), 3U);
  EXPECT_EQ(g.size(), 2U);

  EXPECT_TRUE(g.hold("a")) << "an already held key is still counted at the bound";
  EXPECT_EQ(g.overflowed(), 3U);

  g.release("b");
  EXPECT_TRUE(g.hold("c")) << "room again once a key is freed";
  EXPECT_TRUE(g.held("c"));
  EXPECT_EQ(g.overflowed(), 3U);
}

TEST(KeyGateTest, ZeroBoundGatesNothing) {
  KeyGate g(0);
  EXPECT_FALSE(g.hold("a"));
  EXPECT_FALSE(g.held("a"));
  EXPECT_EQ(g.overflowed(), 1U);
  EXPECT_EQ(g.size(), 0U);
}

TEST(KeyGateTest, ClearForgetsKeysButKeepsTheOverflowCount) {
  KeyGate g(1);
  ASSERT_TRUE(g.hold("a"));
  ASSERT_FALSE(g.hold("b"));
  g.clear();
  EXPECT_EQ(g.size(), 0U);
  EXPECT_FALSE(g.held("a"));
  EXPECT_EQ(g.overflowed(), 1U) << "overflowed() is a monotonic counter (exported as a metric)";
  EXPECT_TRUE(g.hold("b"));
}

TEST(KeyGateTest, ManyKeys) {
  KeyGate g(1000);
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(g.hold("cust-" + std::to_string(i)));
  EXPECT_FALSE(g.hold("cust-1000"));
  for (int i = 0; i < 1000; i += 2) g.release("cust-" + std::to_string(i));
  EXPECT_EQ(g.size(), 500U);
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(g.held("cust-" + std::to_string(i)), i % 2 == 1) << i;
}

}  // namespace
