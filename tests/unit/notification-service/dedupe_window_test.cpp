// DedupeWindow: bounded LRU over (order_id, kind) keys — eviction order, eviction count, refresh on re-insert.
#include <gtest/gtest.h>

#include <string>

#include "dedupe_window.h"

namespace {

using orderflow::notification::DedupeWindow;

TEST(DedupeWindowTest, RemembersInsertedKeys) {
  DedupeWindow w(10);
  EXPECT_FALSE(w.contains("a"));
  EXPECT_EQ(w.insert("a"), 0U);
  EXPECT_TRUE(w.contains("a"));
  EXPECT_FALSE(w.contains("b"));
  EXPECT_EQ(w.size(), 1U);
  EXPECT_EQ(w.evictions(), 0U);
}

TEST(DedupeWindowTest, EvictsTheLeastRecentlyInserted) {
  DedupeWindow w(3);
  EXPECT_EQ(w.insert("a"), 0U);
  EXPECT_EQ(w.insert("b"), 0U);
  EXPECT_EQ(w.insert("c"), 0U);
  EXPECT_EQ(w.insert("d"), 1U);
  EXPECT_FALSE(w.contains("a"));
  EXPECT_TRUE(w.contains("b"));
  EXPECT_TRUE(w.contains("c"));
  EXPECT_TRUE(w.contains("d"));
  EXPECT_EQ(w.size(), 3U);
  EXPECT_EQ(w.evictions(), 1U);
  EXPECT_EQ(w.insert("e"), 1U);
  EXPECT_FALSE(w.contains("b"));
  EXPECT_EQ(w.evictions(), 2U);
}

TEST(DedupeWindowTest, ReinsertingAKeyRefreshesItWithoutEvicting) {
  DedupeWindow w(3);
  w.insert("a");
  w.insert("b");
  w.insert("c");
  EXPECT_EQ(w.insert("a"), 0U) << "already present: nothing evicted";
  EXPECT_EQ(w.size(), 3U);
  EXPECT_EQ(w.evictions(), 0U);
  EXPECT_EQ(w.insert("d"), 1U);
  EXPECT_TRUE(w.contains("a")) << "a was refreshed, so b is now the oldest";
  EXPECT_FALSE(w.contains("b"));
  EXPECT_TRUE(w.contains("c"));
  EXPECT_EQ(w.insert("e"), 1U);
  EXPECT_FALSE(w.contains("c"));
  EXPECT_TRUE(w.contains("a"));
}

TEST(DedupeWindowTest, ZeroCapacityActsAsOne) {
  DedupeWindow w(0);
  EXPECT_EQ(w.insert("a"), 0U);
  EXPECT_TRUE(w.contains("a"));
  EXPECT_EQ(w.insert("b"), 1U);
  EXPECT_FALSE(w.contains("a"));
  EXPECT_TRUE(w.contains("b"));
  EXPECT_EQ(w.size(), 1U);
}

TEST(DedupeWindowTest, ClearForgetsEverything) {
  DedupeWindow w(2);
  w.insert("a");
  w.insert("b");
  w.insert("c");
  ASSERT_EQ(w.evictions(), 1U);
  w.clear();
  EXPECT_EQ(w.size(), 0U);
  EXPECT_FALSE(w.contains("b"));
  EXPECT_FALSE(w.contains("c"));
  EXPECT_EQ(w.insert("b"), 0U);
  EXPECT_EQ(w.insert("c"), 0U) << "capacity is intact after clear";
  EXPECT_EQ(w.insert("d"), 1U);
}

TEST(DedupeWindowTest, KeyOfSeparatesOrderIdFromKind) {
  EXPECT_EQ(DedupeWindow::key_of("o-1", "ORDER_RECEIVED"), DedupeWindow::key_of("o-1", "ORDER_RECEIVED"));
  EXPECT_NE(DedupeWindow::key_of("o-1", "ORDER_RECEIVED"), DedupeWindow::key_of("o-1", "PAYMENT_DECLINED"));
  EXPECT_NE(DedupeWindow::key_of("o-1", "ORDER_RECEIVED"), DedupeWindow::key_of("o-2", "ORDER_RECEIVED"));
  EXPECT_NE(DedupeWindow::key_of("ab", "c"), DedupeWindow::key_of("a", "bc")) << "no ambiguity at the boundary";
}

TEST(DedupeWindowTest, LargeStreamKeepsTheNewestCapacityKeys) {
  DedupeWindow w(1000);
  std::size_t evicted = 0;
  for (int i = 0; i < 5000; ++i) evicted += w.insert("order-" + std::to_string(i));
  EXPECT_EQ(evicted, 4000U);
  EXPECT_EQ(w.evictions(), 4000U);
  EXPECT_EQ(w.size(), 1000U);
  for (int i = 0; i < 4000; ++i) ASSERT_FALSE(w.contains("order-" + std::to_string(i))) << i;
  for (int i = 4000; i < 5000; ++i) ASSERT_TRUE(w.contains("order-" + std::to_string(i))) << i;
}

}  // namespace
