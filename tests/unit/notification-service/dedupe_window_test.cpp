// DedupeWindow: bounded LRU over notification ids — eviction order, eviction count, refresh on re-insert,
// and key_of (canonical UUID text → 16 bytes).
#include "orderflow/notification/dedupe_window.h"

#include <gtest/gtest.h>

#include <cctype>
#include <list>
#include <random>
#include <stdexcept>
#include <string>
#include <unordered_map>

#include "orderflow/events/identity.h"

namespace {

namespace ev = orderflow::events;
using orderflow::notification::DedupeWindow;

// A distinct key per name, as the service derives them (name-based UUIDs).
DedupeWindow::Key k(const std::string& name) {
  return DedupeWindow::key_of(ev::uuid_v5(name));
}

TEST(DedupeWindowTest, RemembersInsertedKeys) {
  DedupeWindow w(10);
  EXPECT_FALSE(w.contains(k("a")));
  EXPECT_EQ(w.insert(k("a")), 0U);
  EXPECT_TRUE(w.contains(k("a")));
  EXPECT_FALSE(w.contains(k("b")));
  EXPECT_EQ(w.size(), 1U);
  EXPECT_EQ(w.evictions(), 0U);
}

TEST(DedupeWindowTest, EvictsTheLeastRecentlyInserted) {
  DedupeWindow w(3);
  EXPECT_EQ(w.insert(k("a")), 0U);
  EXPECT_EQ(w.insert(k("b")), 0U);
  EXPECT_EQ(w.insert(k("c")), 0U);
  EXPECT_EQ(w.insert(k("d")), 1U);
  EXPECT_FALSE(w.contains(k("a")));
  EXPECT_TRUE(w.contains(k("b")));
  EXPECT_TRUE(w.contains(k("c")));
  EXPECT_TRUE(w.contains(k("d")));
  EXPECT_EQ(w.size(), 3U);
  EXPECT_EQ(w.evictions(), 1U);
  EXPECT_EQ(w.insert(k("e")), 1U);
  EXPECT_FALSE(w.contains(k("b")));
  EXPECT_EQ(w.evictions(), 2U);
}

TEST(DedupeWindowTest, ReinsertingAKeyRefreshesItWithoutEvicting) {
  DedupeWindow w(3);
  w.insert(k("a"));
  w.insert(k("b"));
  w.insert(k("c"));
  EXPECT_EQ(w.insert(k("a")), 0U) << "already present: nothing evicted";
  EXPECT_EQ(w.size(), 3U);
  EXPECT_EQ(w.evictions(), 0U);
  EXPECT_EQ(w.insert(k("d")), 1U);
  EXPECT_TRUE(w.contains(k("a"))) << "a was refreshed, so b is now the oldest";
  EXPECT_FALSE(w.contains(k("b")));
  EXPECT_TRUE(w.contains(k("c")));
  EXPECT_EQ(w.insert(k("e")), 1U);
  EXPECT_FALSE(w.contains(k("c")));
  EXPECT_TRUE(w.contains(k("a")));
}

TEST(DedupeWindowTest, ZeroCapacityActsAsOne) {
  DedupeWindow w(0);
  EXPECT_EQ(w.insert(k("a")), 0U);
  EXPECT_TRUE(w.contains(k("a")));
  EXPECT_EQ(w.insert(k("b")), 1U);
  EXPECT_FALSE(w.contains(k("a")));
  EXPECT_TRUE(w.contains(k("b")));
  EXPECT_EQ(w.size(), 1U);
}

TEST(DedupeWindowTest, ClearForgetsEverything) {
  DedupeWindow w(2);
  w.insert(k("a"));
  w.insert(k("b"));
  w.insert(k("c"));
  ASSERT_EQ(w.evictions(), 1U);
  w.clear();
  EXPECT_EQ(w.size(), 0U);
  EXPECT_FALSE(w.contains(k("b")));
  EXPECT_FALSE(w.contains(k("c")));
  EXPECT_EQ(w.insert(k("b")), 0U);
  EXPECT_EQ(w.insert(k("c")), 0U) << "capacity is intact after clear";
  EXPECT_EQ(w.insert(k("d")), 1U);
}

TEST(DedupeWindowTest, KeysOfDerivedIdsSeparateOrderIdAndKind) {
  const auto key = [](const char* order_id, ev::NotificationKind kind) {
    return DedupeWindow::key_of(ev::notification_id_for(order_id, kind));
  };
  EXPECT_EQ(key("o-1", ev::NotificationKind::OrderReceived), key("o-1", ev::NotificationKind::OrderReceived));
  EXPECT_NE(key("o-1", ev::NotificationKind::OrderReceived),
            key("o-1", ev::NotificationKind::PaymentDeclined));
  EXPECT_NE(key("o-1", ev::NotificationKind::OrderReceived), key("o-2", ev::NotificationKind::OrderReceived));
}

TEST(DedupeWindowTest, KeyOfIsTheUuidsBytes) {
  const DedupeWindow::Key expected{0x0e, 0x9b, 0x5b, 0x41, 0xee, 0x1f, 0x5a, 0xfc,
                                   0x85, 0x14, 0x86, 0x17, 0x26, 0x9b, 0xdd, 0x00};
  EXPECT_EQ(DedupeWindow::key_of("0e9b5b41-ee1f-5afc-8514-8617269bdd00"), expected);
  EXPECT_EQ(DedupeWindow::key_of("0E9B5B41-EE1F-5AFC-8514-8617269BDD00"), expected) << "either case";
}

TEST(DedupeWindowTest, KeyOfRejectsNonUuids) {
  for (const char* bad : {"", "o-1", "0e9b5b41-ee1f-5afc-8514-8617269bdd0",
                          "0e9b5b41-ee1f-5afc-8514-8617269bdd000", "0e9b5b41_ee1f-5afc-8514-8617269bdd00",
                          "0e9b5b41-ee1f-5afc-8514-8617269bdd0g", "0e9b5b41ee1f-5afc-8514-8617269bdd00-"}) {
    EXPECT_THROW(DedupeWindow::key_of(bad), std::invalid_argument) << bad;
  }
  // Every byte that is not a hex digit, at the first and the last digit's place (the neighbours of the
  // digit ranges '/', ':', '@', 'G', '`', 'g' among them, and bytes above 0x7f).
  const std::string good = "0e9b5b41-ee1f-5afc-8514-8617269bdd00";
  for (int c = 0; c < 256; ++c) {
    if (std::isxdigit(c) != 0) continue;
    for (const std::size_t at : {std::size_t{0}, good.size() - 1}) {
      auto bad = good;
      bad[at] = static_cast<char>(c);
      EXPECT_THROW(DedupeWindow::key_of(bad), std::invalid_argument) << "byte " << c << " at " << at;
    }
  }
}

TEST(DedupeWindowTest, LargeStreamKeepsTheNewestCapacityKeys) {
  DedupeWindow w(1000);
  std::size_t evicted = 0;
  for (int i = 0; i < 5000; ++i) evicted += w.insert(k("order-" + std::to_string(i)));
  EXPECT_EQ(evicted, 4000U);
  EXPECT_EQ(w.evictions(), 4000U);
  EXPECT_EQ(w.size(), 1000U);
  for (int i = 0; i < 4000; ++i) ASSERT_FALSE(w.contains(k("order-" + std::to_string(i)))) << i;
  for (int i = 4000; i < 5000; ++i) ASSERT_TRUE(w.contains(k("order-" + std::to_string(i)))) << i;
}

TEST(DedupeWindowTest, AgreesWithAReferenceLruUnderRandomInsertsAndRefreshes) {
  // Small windows over a small key space: the open-addressing index sees long probe runs, wrap-around
  // and many deletions (evictions), and every answer must match a plain list + map LRU.
  std::mt19937 rng(7);
  for (const std::size_t capacity : {1U, 2U, 7U, 50U, 300U}) {
    DedupeWindow w(capacity);
    std::list<int> order;  // front = newest
    std::unordered_map<int, std::list<int>::iterator> where;
    std::uint64_t evictions = 0;
    const int key_space = static_cast<int>(capacity) * 3 + 5;
    for (int step = 0; step < 20000; ++step) {
      const int id = static_cast<int>(rng() % static_cast<unsigned>(key_space));
      const auto key = k("key-" + std::to_string(id));
      w.prefetch(key);  // a hint: never changes an answer
      ASSERT_EQ(w.contains(key), where.count(id) == 1) << "capacity " << capacity << " step " << step;
      std::size_t expect_evicted = 0;
      if (auto it = where.find(id); it != where.end()) {
        order.erase(it->second);
      } else if (where.size() == capacity) {
        where.erase(order.back());
        order.pop_back();
        expect_evicted = 1;
        ++evictions;
      }
      order.push_front(id);
      where[id] = order.begin();
      ASSERT_EQ(w.insert(key), expect_evicted) << "capacity " << capacity << " step " << step;
      ASSERT_EQ(w.size(), where.size());
      if (step % 997 == 0) {
        for (int other = 0; other < key_space; ++other) {
          ASSERT_EQ(w.contains(k("key-" + std::to_string(other))), where.count(other) == 1)
              << "capacity " << capacity << " step " << step << " key " << other;
        }
      }
    }
    EXPECT_EQ(w.evictions(), evictions);
  }
}

}  // namespace
