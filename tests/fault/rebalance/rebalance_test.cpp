// Two payment-service instances share the group; one is SIGKILLed mid-stream, the survivor takes its
// partitions after the session timeout, then a third instance joins (a cooperative rebalance that
// moves partitions off the survivor). No order may be lost, and duplicates may only come from what
// was processed past the group's last commit:
//   kill window = orders at offsets >= the group's committed offset read by an admin client right after
//                 the kill, whose payment was produced before the kill (timestamp);
//   rebalance window = orders at offsets >= what was committed when the third started, paid before it
//                 got its partitions;
// and no order may be paid more often than the owner changes the test caused allow (each assignment
// starts at the committed offset). With --commit-interval-ms 200 the kill window is ~0.2-0.5 s of orders.
#include <gtest/gtest.h>
#include <sys/time.h>

#include "fault_fixture.h"
#include "orderflow/events/events.h"
#include "orderflow/testing/wait.h"

namespace orderflow::testing::fault {
namespace {

using namespace std::chrono_literals;

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

TEST(RebalanceTest, KillOneOfTwoThenAddAThirdLosesNothingAndDuplicatesOnlyTheKilledWindow) {
  const auto started = std::chrono::steady_clock::now();
  constexpr int kOrders = 10000;
  TestBroker broker{6};
  Pipeline pipe{broker};
  const auto svc = Services::of(pipe);

  const int a_port = free_port();
  const int b_port = free_port();
  const int c_port = free_port();
  auto a = svc.start_payment(a_port);
  ASSERT_TRUE(wait_ready(a_port, 60s)) << tail(a.output());
  auto b = svc.start_payment(b_port);
  ASSERT_TRUE(wait_ready(b_port, 60s)) << tail(b.output());
  // The assignment settles with all of `orders` held between the two. cooperative-sticky balances the
  // partition *count* over both topics (orders + retry), so one instance may hold every `orders`
  // partition and the other only the retry topic: the victim is whichever holds most of `orders`.
  const auto orders_held = [&](Process& p) { return held_partitions(p.output(), svc.orders); };
  ASSERT_TRUE(wait_until(
      [&] {
        auto all = orders_held(a);
        const auto other = orders_held(b);
        all.insert(other.begin(), other.end());
        return all.size() == 6;
      },
      60s, 100ms))
      << tail(a.output()) << tail(b.output());
  const bool kill_a = orders_held(a).size() >= orders_held(b).size();
  Process& victim = kill_a ? a : b;
  Process& survivor = kill_a ? b : a;
  const int survivor_port = kill_a ? b_port : a_port;
  std::cout << "orders partitions held: a=" << orders_held(a).size() << " b=" << orders_held(b).size()
            << "; killing " << (kill_a ? "a" : "b") << std::endl;

  auto producer = svc.start_producer({"--count", std::to_string(kOrders), "--rate", "500", "--seed", "21"});
  TopicReader payments(broker.bootstrap(), svc.payments);
  ASSERT_TRUE(payments.wait_for_count(1500, 60s)) << tail(victim.output());

  const auto killed_partitions = orders_held(victim);
  const auto kill_ms = wall_ms();
  EXPECT_EQ(kill9(victim), 128 + SIGKILL);
  const auto committed_at_kill = committed_offsets(svc.bootstrap, svc.payment_group, svc.orders, 10s);
  ASSERT_FALSE(committed_at_kill.empty()) << "cannot read the group's committed offsets";

  // The survivor takes over after the session timeout; then a third joins while orders still flow.
  ASSERT_TRUE(wait_until([&] { return orders_held(survivor).size() == 6; }, 60s, 100ms))
      << tail(survivor.output());
  ASSERT_EQ(http_get(survivor_port, "/readyz").first, 200);
  // What the survivor has committed when the third joins: the rebalance that follows may fail its
  // commits (on the mock: ILLEGAL_GENERATION for the ~5 s the join waits, then "partitions lost"), so
  // what it processed after this point may be processed again.
  // Let the survivor work off the backlog of the outage and commit it before the third joins.
  const auto backlog = high_watermarks(svc.bootstrap, svc.orders, 10s);
  ASSERT_TRUE(wait_until(
      [&] {
        const auto c = committed_offsets(svc.bootstrap, svc.payment_group, svc.orders, 5s);
        for (const auto& [p, high] : backlog) {
          const auto it = c.find(p);
          if (it == c.end() || it->second < high) return false;
        }
        return !backlog.empty();
      },
      60s, 200ms))
      << tail(survivor.output());
  const auto committed_before_join = committed_offsets(svc.bootstrap, svc.payment_group, svc.orders, 10s);
  ASSERT_FALSE(committed_before_join.empty());
  auto c = svc.start_payment(c_port);
  ASSERT_TRUE(wait_ready(c_port, 60s)) << tail(c.output());
  ASSERT_TRUE(wait_until([&] { return !held_partitions(c.output(), svc.orders).empty(); }, 60s, 100ms))
      << tail(c.output());
  const auto joined_ms = wall_ms();

  const auto rc = producer.wait(120s);
  ASSERT_TRUE(rc.has_value());
  ASSERT_EQ(*rc, 0) << tail(producer.output());
  const auto order_records = read_all(svc.bootstrap, svc.orders, kOrders, 60s);
  ASSERT_EQ(order_records.size(), static_cast<std::size_t>(kOrders));
  const auto orders = index_orders(order_records);
  payments.poll_until([&](const std::vector<Record>& r) { return tally_payments(orders, r).lost == 0; },
                      120s);
  payments.drain_to_end(30s);
  const auto pt = tally_payments(orders, payments.records());

  // The kill window: which orders the killed instance had paid but not committed.
  std::map<std::string, std::pair<int32_t, int64_t>> position;  // order event_id → (partition, offset)
  for (const auto& r : order_records) {
    if (auto o = events::parse_order_created(r.value)) position[o.value().event_id] = {r.partition, r.offset};
  }
  // Kill window S: paid (by either instance) before the kill, at or past the committed offset read right
  // after the kill — a superset of what the victim left uncommitted, taken from the broker, not its log.
  // Rebalance window R: paid (by anyone) before the third instance got its partitions, at or past what the
  // group had committed when it started.
  std::set<std::string> window;
  std::set<std::string> rebalance_window;
  for (const auto& r : payments.records()) {
    auto p = events::parse_payment_processed(r.value);
    if (!p) continue;
    const auto [partition, offset] = position[p.value().order_event_id];
    const auto at = [&](const std::map<int32_t, int64_t>& m) {
      const auto it = m.find(partition);
      return it == m.end() ? int64_t{-1} : it->second;
    };
    if (r.timestamp_ms <= kill_ms && offset >= at(committed_at_kill)) {
      window.insert(p.value().order_event_id);
    } else if (r.timestamp_ms <= joined_ms && offset >= at(committed_before_join)) {
      rebalance_window.insert(p.value().order_event_id);
    }
  }
  std::size_t in_kill = 0;
  std::size_t in_rebalance = 0;
  std::size_t outside = 0;
  for (const auto& id : pt.duplicated) {
    if (window.count(id) != 0) {
      ++in_kill;
    } else if (rebalance_window.count(id) != 0) {
      ++in_rebalance;
    } else {
      ++outside;
    }
  }

  EXPECT_EQ(pt.lost, 0U);
  EXPECT_EQ(pt.unknown, 0U);
  EXPECT_EQ(pt.wrong, 0U);
  EXPECT_EQ(outside, 0U) << "duplicated orders outside the kill and rebalance windows";
  // How many copies, from what the test did rather than from the services' logs: every assignment of a
  // partition starts at the group's committed offset, so an uncommitted order is processed again once per
  // change of its partition's owner. A kill-window order: by the victim, then by the survivor (the
  // survivor's backlog was committed before the join, so the join cannot repeat it): 2. A rebalance-window
  // order: by the survivor, then by the third: 2; on the mock the join also fails the survivor's commits
  // (ILLEGAL_GENERATION) and may end in "partitions lost" and a re-assignment to the survivor before the
  // cooperative second phase moves the partition on: 3 (seen in CI: 3,788 copies over 2,677 windowed orders).
  std::size_t over_bound = 0;
  int max_copies = 1;
  for (const auto& id : pt.duplicated) {
    const int copies = pt.per_order.at(id);
    const int allowed = window.count(id) != 0 ? 2 : broker.is_real() ? 2 : 3;
    max_copies = std::max(max_copies, copies);
    if (copies > allowed) {
      ++over_bound;
      ADD_FAILURE() << "order " << id << " (partition " << position[id].first << ", offset "
                    << position[id].second << ") paid " << copies << " times; allowed " << allowed;
      if (over_bound >= 5) break;
    }
  }
  EXPECT_EQ(over_bound, 0U) << tail(survivor.output()) << tail(c.output());

  EXPECT_EQ(survivor.stop(30s), 0) << tail(survivor.output());
  EXPECT_EQ(c.stop(30s), 0) << tail(c.output());
  const auto secs =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started);
  std::string killed;
  for (const auto p : killed_partitions) killed += (killed.empty() ? "" : ",") + std::to_string(p);
  summary(broker.is_real() ? "rebalance_kill_one_of_two_kafka" : "rebalance_kill_one_of_two",
          "SIGKILL 1 of 2 instances + 3rd joins", kOrders, pt.lost, pt.duplicates,
          "kill_window=" + std::to_string(window.size()) + " dup_in_kill_window=" + std::to_string(in_kill) +
              " rebalance_window=" + std::to_string(rebalance_window.size()) +
              " dup_in_rebalance_window=" + std::to_string(in_rebalance) +
              " outside=" + std::to_string(outside) + " max_copies=" + std::to_string(max_copies) +
              " killed_partitions=" + killed + " duration_s=" + std::to_string(secs.count()));
}

}  // namespace
}  // namespace orderflow::testing::fault
