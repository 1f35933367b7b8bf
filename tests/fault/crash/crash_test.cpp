// SIGKILL of payment-service at random points of a 12,000-order stream, restarted at once each time,
// while notification-service runs throughout: at-least-once means every valid order still gets a
// payment, duplicates only for orders that lay beyond the group's committed offset at a kill (read from
// the broker, not the service), and notification-service's de-duplication keeps exactly two
// notifications per order. Then the same with notification-service killed instead: nothing lost, and its
// duplicates (its de-duplication window is in memory) bounded by what was uncommitted at each kill.
// Runs on the dev broker (label fault) and on the real Kafka (`kafka`).
#include <gtest/gtest.h>

#include <algorithm>
#include <iomanip>
#include <map>
#include <random>
#include <set>

#include "fault_fixture.h"
#include "orderflow/testing/wait.h"

namespace orderflow::testing::fault {
namespace {

using namespace std::chrono_literals;

constexpr int kOrders = 12000;
constexpr int kKills = 5;

// The group timing of the service that is killed. On the dev broker a re-join after a SIGKILL waits for the
// dead member's session to expire and then for the rebalance delay the mock derives from session.timeout.ms
// (that less 1 s): about 11 s a kill at the fixture's 6 s, most of the test's time. 3 s, with heartbeats
// every 500 ms (the fixture's ratio), halves that. Real Kafka refuses less than its
// group.min.session.timeout.ms (6 s) and keeps the fixture's.
std::vector<std::string> killed_group_timing(const TestBroker& broker) {
  if (broker.is_real()) return {};
  return {"-X", "session.timeout.ms=3000", "-X", "heartbeat.interval.ms=500"};
}

// "PHASE test=T at_s=S WHAT": where a run's time goes (the paced stream, each kill's re-join, the final
// reads), for whoever wants to make it shorter without weakening it.
void phase(std::string_view test, std::chrono::steady_clock::time_point started, std::string_view what) {
  const std::chrono::duration<double> at = std::chrono::steady_clock::now() - started;
  std::cout << "PHASE test=" << test << " at_s=" << std::fixed << std::setprecision(1) << at.count() << " "
            << what << std::endl;
}

TEST(CrashTest, SigkillPaymentServiceRepeatedlyLosesNothingAndNotificationsStayExact) {
  const auto started = std::chrono::steady_clock::now();
  TestBroker broker{6};
  Pipeline pipe{broker};
  const auto svc = Services::of(pipe);
  std::mt19937_64 rng(test_seed("crash_sigkill_payment"));
  // Kill points in payment records, all below the number of valid orders so every one is reached.
  const auto points = kill_points("crash_sigkill_payment", rng, kKills, 1500, kOrders - 1500, 1000);

  const int pay_port = free_port();
  const int note_port = free_port();
  auto note = svc.start_notification(note_port);
  auto pay = svc.start_payment(pay_port, killed_group_timing(broker));
  ASSERT_TRUE(wait_ready(pay_port, 60s)) << tail(pay.output());
  ASSERT_TRUE(wait_ready(note_port, 60s)) << tail(note.output());
  phase("crash_sigkill_payment", started, "services ready");

  // Paced so that the kills (and the re-joins after them) land while orders still arrive.
  std::uniform_int_distribution<int> order_seed(1, 1000000);
  auto producer = svc.start_producer({"--count", std::to_string(kOrders), "--rate", "300", "--seed",
                                      std::to_string(order_seed(rng)), "--invalid-ratio", "0.005"});

  struct Kill {
    std::set<std::string> paid;            // order_ids with a payment in the topic at the kill
    std::set<std::string> dead;            // values of the dead letters in the DLQ at the kill
    std::map<int32_t, int64_t> committed;  // the group's committed offsets of `orders` after the kill
  };
  std::vector<Kill> kills;
  TopicReader payments(broker.bootstrap(), pipe.payments);
  TopicReader dead_letters(broker.bootstrap(), pipe.payment_dlq());
  std::size_t last_kill_at = 0;
  std::string kills_at;
  for (const auto point : points) {
    // Kill at (or just past) the point an instance that holds partitions, produces, and has committed
    // at least once: otherwise a restarted instance catching up its backlog is killed before its
    // first commit, and the run measures nothing but re-reading that backlog.
    const bool reached = payments.poll_until(
        [&](const std::vector<Record>& r) {
          return r.size() >= point && r.size() > last_kill_at + 50 &&
                 metric_value(http_get(pay_port, "/metrics").second, "orderflow_offset_commits_total",
                              {{"result", "ok"}}) >= 1;
        },
        150s);
    phase("crash_sigkill_payment", started, "kill point " + std::to_string(point) + " reached");
    ASSERT_TRUE(reached) << "payments stalled at " << payments.records().size() << " waiting for " << point
                         << "\n"
                         << tail(pay.output());
    std::string before_kill;
    if (std::getenv("ORDERFLOW_FAULT_DEBUG") != nullptr) {
      const auto m = http_get(pay_port, "/metrics").second;
      before_kill = "consumed=" + std::to_string(metric_value(m, "orderflow_messages_consumed_total")) +
                    " commits_ok=" +
                    std::to_string(metric_value(m, "orderflow_offset_commits_total", {{"result", "ok"}})) +
                    " commits_failed=" +
                    std::to_string(metric_value(m, "orderflow_offset_commits_total", {{"result", "failed"}}));
    }
    EXPECT_EQ(kill9(pay), 128 + SIGKILL);
    Kill k;
    k.committed = committed_offsets(svc.bootstrap, svc.payment_group, svc.orders, 10s);
    ASSERT_FALSE(k.committed.empty()) << "cannot read the group's committed offsets after the kill";
    // The killed instance's last requests land within moments, and the restarted one cannot produce before
    // the group has noticed the death (session.timeout.ms): reading to the end now sees exactly what
    // was paid when it died.
    ASSERT_TRUE(payments.drain_to_end(30s));
    for (const auto& r : payments.records()) {
      if (auto p = events::parse_payment_processed(r.value)) k.paid.insert(p.value().order_id);
    }
    ASSERT_TRUE(dead_letters.drain_to_end(30s));
    for (const auto& r : dead_letters.records()) k.dead.insert(r.value);
    last_kill_at = payments.records().size();
    kills_at += (kills_at.empty() ? "" : ",") + std::to_string(last_kill_at);
    if (std::getenv("ORDERFLOW_FAULT_DEBUG") != nullptr) {
      int64_t sum = 0;
      for (const auto& [p, o] : k.committed) sum += o;
      std::cout << "kill at payments=" << last_kill_at << " committed sum=" << sum << " " << before_kill
                << " log=" << pay.log_file() << std::endl;
    }
    kills.push_back(std::move(k));
    pay = svc.start_payment(pay_port,
                            killed_group_timing(broker));  // at once: the group re-join is what takes time
    phase("crash_sigkill_payment", started, "killed, state read, restarted");
  }
  std::cout << "kills at payment counts: " << kills_at << std::endl;

  const auto rc = producer.wait(180s);
  ASSERT_TRUE(rc.has_value()) << "order-producer did not finish";
  ASSERT_EQ(*rc, 0) << tail(producer.output());
  phase("crash_sigkill_payment", started, "order-producer done");
  EXPECT_NE(producer.output().find("sent=" + std::to_string(kOrders) +
                                   " delivered=" + std::to_string(kOrders) + " failed=0"),
            std::string::npos)
      << tail(producer.output());

  const auto order_records = read_all(broker.bootstrap(), pipe.orders, kOrders, 60s);
  ASSERT_EQ(order_records.size(), static_cast<std::size_t>(kOrders));
  const auto orders = index_orders(order_records);
  const auto valid = orders.valid_by_event_id.size();

  // Everything processed: every valid order paid at least once, two notifications each.
  payments.poll_until([&](const std::vector<Record>& r) { return tally_payments(orders, r).lost == 0; },
                      180s);
  payments.drain_to_end(30s);
  const auto pt = tally_payments(orders, payments.records());
  phase("crash_sigkill_payment", started, "every order paid");
  const auto notes = read_all(broker.bootstrap(), pipe.notifications, 2 * valid, 120s);
  phase("crash_sigkill_payment", started, "every notification read");
  const auto nt = tally_notifications(orders, notes);
  // The payment DLQ: every invalid order at least once (a crash may dead-letter one again).
  const auto dlq = read_all(broker.bootstrap(), pipe.payment_dlq(), orders.invalid.size(), 60s);
  std::multiset<std::string> dlq_values;
  for (const auto& r : dlq) dlq_values.insert(r.value);
  std::size_t invalid_missing = 0;
  std::size_t dlq_duplicates = 0;
  for (const auto& r : orders.invalid) {
    const auto n = dlq_values.count(r.value);
    invalid_missing += n == 0 ? 1 : 0;
    dlq_duplicates += n > 1 ? n - 1 : 0;
  }

  // The bound, from the broker: at each kill, the payments already in the topic whose order lies at or
  // beyond its partition's committed offset — those orders are consumed again by the next instance.
  std::map<std::string, std::pair<int32_t, int64_t>> order_at;  // order_id → orders record
  for (const auto& r : order_records) {
    if (auto o = events::parse_order_created(r.value))
      order_at.emplace(o.value().order_id, std::make_pair(r.partition, r.offset));
  }
  std::size_t bound = 0;
  for (const auto& k : kills) {
    for (const auto& order_id : k.paid) {
      const auto it = order_at.find(order_id);
      if (it == order_at.end()) continue;
      const auto c = k.committed.find(it->second.first);
      if (c == k.committed.end() || it->second.second >= c->second) ++bound;
    }
  }
  // The same for dead letters (an invalid order's dead letter carries the order's bytes).
  std::size_t dlq_bound = 0;
  for (const auto& k : kills) {
    for (const auto& r : orders.invalid) {
      if (k.dead.count(r.value) == 0) continue;
      const auto c = k.committed.find(r.partition);
      if (c == k.committed.end() || r.offset >= c->second) ++dlq_bound;
    }
  }

  EXPECT_EQ(pt.lost, 0U) << "valid orders without a payment";
  EXPECT_LE(pt.duplicates, bound) << "duplicate payments beyond the orders that were uncommitted at a kill";
  EXPECT_LE(dlq_duplicates, dlq_bound) << "duplicate dead letters beyond the orders uncommitted at a kill";
  EXPECT_EQ(pt.unknown, 0U);
  EXPECT_EQ(pt.wrong, 0U);
  EXPECT_EQ(nt.lost, 0U) << "missing notifications";
  EXPECT_EQ(nt.duplicates, 0U) << "notification-service's de-duplication let a re-delivery through";
  EXPECT_EQ(nt.unexpected, 0U);
  EXPECT_EQ(notes.size(), 2 * valid);
  EXPECT_EQ(invalid_missing, 0U) << "invalid orders missing from the payment DLQ";

  EXPECT_EQ(pay.stop(30s), 0) << tail(pay.output());
  EXPECT_EQ(note.stop(30s), 0) << tail(note.output());
  const auto secs =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started);
  summary(broker.is_real() ? "crash_sigkill_payment_kafka" : "crash_sigkill_payment",
          std::to_string(kKills) + "xSIGKILL(payment-service)", kOrders, pt.lost, pt.duplicates,
          "valid=" + std::to_string(valid) + " duplicate_bound=" + std::to_string(bound) +
              " notification_duplicates=" + std::to_string(nt.duplicates) +
              " dlq=" + std::to_string(dlq.size()) + "/" + std::to_string(orders.invalid.size()) +
              " dlq_duplicates=" + std::to_string(dlq_duplicates) + " dlq_duplicate_bound=" +
              std::to_string(dlq_bound) + " duration_s=" + std::to_string(secs.count()));
}

// SIGKILL of notification-service at random points, restarted at once each time, while payment-service runs
// throughout. Its de-duplication window lives in memory, so nothing of it survives a restart: after a kill,
// the records beyond the group's committed offsets are consumed again and their notifications sent again.
// Nothing may be lost, and the duplicates are bounded by a figure taken outside the service: for each kill,
// the notifications already in the topic whose source record (the order, or the payment) lies at or beyond
// the committed offset of its partition, read from the broker right after the kill.
TEST(CrashTest, SigkillNotificationServiceLosesNothingAndDuplicatesStayWithinTheUncommittedTail) {
  constexpr int kNoteOrders = 6000;
  constexpr int kNoteKills = 3;
  const auto started = std::chrono::steady_clock::now();
  TestBroker broker{6};
  Pipeline pipe{broker};
  const auto svc = Services::of(pipe);
  std::mt19937_64 rng(test_seed("crash_sigkill_notification"));
  // Kill points in notifications (two per valid order).
  const auto points =
      kill_points("crash_sigkill_notification", rng, kNoteKills, 2000, 2 * kNoteOrders - 3000, 1500);

  const int pay_port = free_port();
  const int note_port = free_port();
  auto pay = svc.start_payment(pay_port);
  auto note = svc.start_notification(note_port, killed_group_timing(broker));
  ASSERT_TRUE(wait_ready(pay_port, 60s)) << tail(pay.output());
  ASSERT_TRUE(wait_ready(note_port, 60s)) << tail(note.output());
  phase("crash_sigkill_notification", started, "services ready");
  std::uniform_int_distribution<int> order_seed(1, 1000000);
  auto producer = svc.start_producer({"--count", std::to_string(kNoteOrders), "--rate", "300", "--seed",
                                      std::to_string(order_seed(rng)), "--invalid-ratio", "0"});

  struct Kill {
    std::set<std::pair<std::string, std::string>> delivered;  // (order_id, kind) in the topic at the kill
    std::map<int32_t, int64_t> orders_committed;
    std::map<int32_t, int64_t> payments_committed;
  };
  std::vector<Kill> kills;
  TopicReader notes(broker.bootstrap(), pipe.notifications);
  std::size_t last_kill_at = 0;
  std::string kills_at;
  for (const auto point : points) {
    const bool reached = notes.poll_until(
        [&](const std::vector<Record>& r) {
          return r.size() >= point && r.size() > last_kill_at + 100 &&
                 scrape_metric(note_port, "orderflow_offset_commits_total", {{"result", "ok"}}).value_or(0) >=
                     1;
        },
        150s);
    phase("crash_sigkill_notification", started, "kill point " + std::to_string(point) + " reached");
    ASSERT_TRUE(reached) << "notifications stalled at " << notes.records().size() << " waiting for " << point
                         << "\n"
                         << tail(note.output());
    EXPECT_EQ(kill9(note), 128 + SIGKILL);
    Kill k;
    k.orders_committed = committed_offsets(svc.bootstrap, svc.notification_group, svc.orders, 10s);
    k.payments_committed = committed_offsets(svc.bootstrap, svc.notification_group, svc.payments, 10s);
    // Whatever the killed instance had on the wire lands within moments; the restarted one cannot produce
    // before the group has noticed the death (session.timeout.ms), so reading to the end now sees
    // exactly the killed instance's notifications.
    ASSERT_TRUE(notes.drain_to_end(30s));
    for (const auto& r : notes.records()) {
      if (auto n = events::parse_notification_sent(r.value)) {
        k.delivered.emplace(n.value().order_id, std::string(events::to_string(n.value().kind)));
      }
    }
    last_kill_at = notes.records().size();
    kills_at += (kills_at.empty() ? "" : ",") + std::to_string(last_kill_at);
    kills.push_back(std::move(k));
    note = svc.start_notification(note_port, killed_group_timing(broker));
    phase("crash_sigkill_notification", started, "killed, state read, restarted");
  }
  std::cout << "kills at notification counts: " << kills_at << std::endl;

  const auto rc = producer.wait(180s);
  ASSERT_TRUE(rc.has_value()) << "order-producer did not finish";
  ASSERT_EQ(*rc, 0) << tail(producer.output());
  phase("crash_sigkill_notification", started, "order-producer done");
  const auto order_records = read_all(broker.bootstrap(), pipe.orders, kNoteOrders, 60s);
  ASSERT_EQ(order_records.size(), static_cast<std::size_t>(kNoteOrders));
  const auto orders = index_orders(order_records);
  const auto valid = orders.valid_by_event_id.size();
  const auto payment_records = read_all(broker.bootstrap(), pipe.payments, valid, 120s);
  notes.poll_until([&](const std::vector<Record>& r) { return tally_notifications(orders, r).lost == 0; },
                   180s);
  notes.drain_to_end(30s);
  const auto nt = tally_notifications(orders, notes.records());
  phase("crash_sigkill_notification", started, "every notification read");

  // Where each notification's source record lies: (topic, partition, offset) by (order_id, kind).
  std::map<std::string, std::pair<int32_t, int64_t>> order_at;    // order_id → orders record
  std::map<std::string, std::pair<int32_t, int64_t>> payment_at;  // order_id → its (first) payment record
  for (const auto& r : order_records) {
    if (auto o = events::parse_order_created(r.value))
      order_at.emplace(o.value().order_id, std::make_pair(r.partition, r.offset));
  }
  for (const auto& r : payment_records) {
    if (auto p = events::parse_payment_processed(r.value)) {
      payment_at.emplace(p.value().order_id, std::make_pair(r.partition, r.offset));
    }
  }
  std::size_t bound = 0;
  for (const auto& k : kills) {
    for (const auto& [order_id, kind] : k.delivered) {
      const bool from_order = kind == "ORDER_RECEIVED";
      const auto& where = from_order ? order_at : payment_at;
      const auto& committed = from_order ? k.orders_committed : k.payments_committed;
      const auto it = where.find(order_id);
      if (it == where.end()) continue;
      const auto c = committed.find(it->second.first);
      if (c == committed.end() || it->second.second >= c->second) ++bound;  // not committed at the kill
    }
  }

  EXPECT_EQ(nt.lost, 0U) << "missing notifications";
  EXPECT_EQ(nt.unexpected, 0U);
  EXPECT_LE(nt.duplicates, bound)
      << "duplicates beyond the notifications whose source was uncommitted at a kill";
  EXPECT_EQ(pay.stop(30s), 0) << tail(pay.output());
  EXPECT_EQ(note.stop(30s), 0) << tail(note.output());
  const auto secs =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started);
  summary(broker.is_real() ? "crash_sigkill_notification_kafka" : "crash_sigkill_notification",
          std::to_string(kNoteKills) + "xSIGKILL(notification-service)", kNoteOrders, nt.lost, nt.duplicates,
          "valid=" + std::to_string(valid) + " duplicate_bound=" + std::to_string(bound) +
              " duration_s=" + std::to_string(secs.count()));
}

}  // namespace
}  // namespace orderflow::testing::fault
