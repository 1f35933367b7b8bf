// Exactly-once (`--guarantee exactly-once`): consume–process–produce in Kafka transactions with the
// input offsets sent to the transaction. SIGKILLs of a service mid-stream, restarted with the same
// --instance-id (so its transactional.id fences the dead instance and aborts its open transaction):
// a read_committed reader sees exactly one payment per valid order, exactly one dead letter per
// invalid order, and exactly two notifications per valid order — zero duplicates, zero loss. With a
// failing gateway as well, every order ends in one payment or one dead letter, never both, and every
// failed attempt but the last leaves exactly one committed retry record.
// Real Kafka ONLY: the librdkafka 2.0.2 mock writes no transaction markers and does not store offsets
// sent to a transaction (docs/dev-broker.md), so the tests skip themselves on the dev broker.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <sstream>

#include "fault_fixture.h"
#include "orderflow/payment/gateway_simulator.h"
#include "orderflow/testing/wait.h"

namespace orderflow::testing::fault {
namespace {

using namespace std::chrono_literals;

// The defaults must start in exactly-once mode: librdkafka refuses a transactional producer whose
// message.timeout.ms exceeds transaction.timeout.ms, and ours is long (StartsWithDefaultSettings).
const std::vector<std::string> kExactlyOnceDefaults = {"--guarantee", "exactly-once", "--instance-id",
                                                       "fault-0"};
const std::vector<std::string> kExactlyOnce = kExactlyOnceDefaults;

// wait_ready, but gives up at once when the service has exited.
bool ready_or_exited(Process& p, int port, std::chrono::milliseconds timeout) {
  return wait_until([&] { return !p.running() || http_get(port, "/readyz").first == 200; }, timeout, 100ms) &&
         p.running();
}

class ExactlyOnceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!broker.is_real()) {
      GTEST_SKIP() << "real Kafka only: the librdkafka 2.0.2 mock has no transaction markers "
                      "(see docs/dev-broker.md); run the fault_exactly_once_test_kafka variant";
    }
    pipe = std::make_unique<Pipeline>(broker);
    svc = Services::of(*pipe);
  }

  // Kills `victim` (restarting it with `restart`) each time the uncommitted view of `watched` passes
  // the next point; the restarted instance must be ready and producing before it is killed again.
  void kill_at(Process& victim, int port, const std::function<Process()>& restart, const std::string& watched,
               const std::vector<std::size_t>& points) {
    TopicReader reader(svc.bootstrap, watched);
    std::size_t last = 0;
    for (const auto point : points) {
      const bool reached = reader.poll_until(
          [&](const std::vector<Record>& r) {
            return r.size() >= point && r.size() > last + 50 && http_get(port, "/readyz").first == 200;
          },
          180s);
      ASSERT_TRUE(reached) << watched << " stalled at " << reader.records().size() << " waiting for " << point
                           << "\n"
                           << tail(victim.output());
      last = reader.records().size();
      EXPECT_EQ(kill9(victim), 128 + SIGKILL);
      victim = restart();
    }
    uncommitted_seen = reader.records().size();
  }

  TestBroker broker{6};
  std::unique_ptr<Pipeline> pipe;
  Services svc;
  std::size_t uncommitted_seen = 0;
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();

  std::string duration() const {
    return "duration_s=" + std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                              std::chrono::steady_clock::now() - started)
                                              .count());
  }
};

TEST_F(ExactlyOnceTest, StartsWithDefaultSettings) {
  const int pay_port = free_port();
  auto pay = svc.start_payment(pay_port, kExactlyOnceDefaults);
  EXPECT_TRUE(ready_or_exited(pay, pay_port, 60s)) << tail(pay.output());
  EXPECT_EQ(pay.stop(30s), 0) << tail(pay.output());
}

TEST_F(ExactlyOnceTest, FiveSigkillsOfPaymentServiceYieldExactlyOnePaymentPerOrder) {
  constexpr int kOrders = 12000;
  constexpr int kKills = 5;
  std::mt19937_64 rng(test_seed("exactly_once_sigkill_payment"));
  const auto points = kill_points("exactly_once_sigkill_payment", rng, kKills, 1500, kOrders - 1500, 500);

  const int pay_port = free_port();
  const int note_port = free_port();
  // notification-service runs throughout in exactly-once mode too (reads payments read_committed).
  auto note = svc.start_notification(note_port, kExactlyOnce);
  auto pay = svc.start_payment(pay_port, kExactlyOnce);
  ASSERT_TRUE(ready_or_exited(pay, pay_port, 90s)) << tail(pay.output());
  ASSERT_TRUE(ready_or_exited(note, note_port, 90s)) << tail(note.output());

  std::uniform_int_distribution<int> order_seed(1, 1000000);
  auto producer = svc.start_producer({"--count", std::to_string(kOrders), "--rate", "500", "--seed",
                                      std::to_string(order_seed(rng)), "--invalid-ratio", "0.005"});
  kill_at(
      pay, pay_port, [&] { return svc.start_payment(pay_port, kExactlyOnce); }, svc.payments, points);
  if (HasFatalFailure()) return;

  ASSERT_EQ(producer.wait(180s).value_or(-1), 0) << tail(producer.output());
  const auto order_records = read_all(svc.bootstrap, svc.orders, kOrders, 60s);
  ASSERT_EQ(order_records.size(), static_cast<std::size_t>(kOrders));
  const auto orders = index_orders(order_records);
  const auto valid = orders.valid_by_event_id.size();

  TopicReader payments(svc.bootstrap, svc.payments, /*read_committed=*/true);
  payments.poll_until([&](const std::vector<Record>& r) { return tally_payments(orders, r).lost == 0; },
                      180s);
  payments.drain_to_end(30s);
  const auto pt = tally_payments(orders, payments.records());
  const auto notes = read_all(svc.bootstrap, svc.notifications, 2 * valid, 120s, /*read_committed=*/true);
  const auto nt = tally_notifications(orders, notes);
  const auto dlq =
      read_all(svc.bootstrap, svc.payment_dlq(), orders.invalid.size(), 60s, /*read_committed=*/true);
  // What the kills left behind uncommitted (aborted transactions), for the record.
  const auto raw = read_all(svc.bootstrap, svc.payments, valid, 30s, /*read_committed=*/false);
  const auto raw_tally = tally_payments(orders, raw);

  EXPECT_EQ(pt.lost, 0U) << "valid orders without a committed payment";
  EXPECT_EQ(pt.duplicates, 0U) << "duplicate committed payments";
  EXPECT_EQ(pt.unknown, 0U);
  EXPECT_EQ(pt.wrong, 0U);
  EXPECT_EQ(payments.records().size(), valid);
  EXPECT_EQ(dlq.size(), orders.invalid.size()) << "dead letters: exactly one per invalid order";
  EXPECT_EQ(nt.lost, 0U);
  EXPECT_EQ(nt.duplicates, 0U);
  EXPECT_EQ(nt.unexpected, 0U);
  EXPECT_EQ(notes.size(), 2 * valid);

  EXPECT_EQ(pay.stop(30s), 0) << tail(pay.output());
  EXPECT_EQ(note.stop(30s), 0) << tail(note.output());
  summary("exactly_once_sigkill_payment_kafka",
          std::to_string(kKills) + "xSIGKILL(payment-service, exactly-once)", kOrders, pt.lost, pt.duplicates,
          "valid=" + std::to_string(valid) + " dlq=" + std::to_string(dlq.size()) + "/" +
              std::to_string(orders.invalid.size()) +
              " notification_duplicates=" + std::to_string(nt.duplicates) +
              " aborted_duplicates_read_uncommitted=" + std::to_string(raw_tally.duplicates) + " " +
              duration());
}

TEST_F(ExactlyOnceTest, ThreeSigkillsOfNotificationServiceYieldExactlyTwoNotificationsPerOrder) {
  constexpr int kOrders = 5000;
  constexpr int kKills = 3;
  std::mt19937_64 rng(test_seed("exactly_once_sigkill_notification"));
  const auto points = kill_points("exactly_once_sigkill_notification", rng, kKills, 1000, 8500,
                                  500);  // notifications: two per order

  const int pay_port = free_port();
  const int note_port = free_port();
  auto pay = svc.start_payment(pay_port, kExactlyOnce);
  auto note = svc.start_notification(note_port, kExactlyOnce);
  ASSERT_TRUE(ready_or_exited(pay, pay_port, 90s)) << tail(pay.output());
  ASSERT_TRUE(ready_or_exited(note, note_port, 90s)) << tail(note.output());

  auto producer = svc.start_producer({"--count", std::to_string(kOrders), "--rate", "250", "--seed", "51"});
  kill_at(
      note, note_port, [&] { return svc.start_notification(note_port, kExactlyOnce); }, svc.notifications,
      points);
  if (HasFatalFailure()) return;

  ASSERT_EQ(producer.wait(120s).value_or(-1), 0) << tail(producer.output());
  const auto order_records = read_all(svc.bootstrap, svc.orders, kOrders, 60s);
  const auto orders = index_orders(order_records);
  const auto valid = orders.valid_by_event_id.size();
  TopicReader notes(svc.bootstrap, svc.notifications, /*read_committed=*/true);
  notes.poll_until([&](const std::vector<Record>& r) { return tally_notifications(orders, r).lost == 0; },
                   180s);
  notes.drain_to_end(30s);
  const auto nt = tally_notifications(orders, notes.records());
  const auto raw = read_all(svc.bootstrap, svc.notifications, 2 * valid, 30s, /*read_committed=*/false);
  const auto raw_tally = tally_notifications(orders, raw);

  EXPECT_EQ(nt.lost, 0U);
  EXPECT_EQ(nt.duplicates, 0U) << "duplicate committed notifications";
  EXPECT_EQ(nt.unexpected, 0U);
  EXPECT_EQ(notes.records().size(), 2 * valid);

  EXPECT_EQ(pay.stop(30s), 0) << tail(pay.output());
  EXPECT_EQ(note.stop(30s), 0) << tail(note.output());
  summary("exactly_once_sigkill_notification_kafka",
          std::to_string(kKills) + "xSIGKILL(notification-service, exactly-once)", kOrders, nt.lost,
          nt.duplicates,
          "notifications=" + std::to_string(notes.records().size()) +
              " aborted_duplicates_read_uncommitted=" + std::to_string(raw_tally.duplicates) + " " +
              duration());
}

// --- Gateway failures, retries and dead letters under SIGKILL ---------------------------------------

// An order's place in the orders topic. Its retry records and dead letters name it in
// x-original-partition / x-original-offset; its payment names it by the order's event id.
using OrderPos = std::pair<int32_t, int64_t>;

std::optional<std::int64_t> int_header(const Record& r, const std::string& name) {
  const auto v = header(r, name);
  if (!v) return std::nullopt;
  try {
    std::size_t used = 0;
    const auto n = std::stoll(*v, &used);
    return used == v->size() ? std::optional<std::int64_t>(n) : std::nullopt;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

// What a record from the orders topic became, in one view of payments, retry and dead-letter topics.
struct OrderFate {
  bool valid = false;
  std::string event_id;
  std::string order_id;
  int payments = 0;
  std::vector<std::string> dead_letters;       // x-error-class of each, with its x-attempt: "exhausted@3"
  std::multiset<std::int64_t> retry_attempts;  // x-attempt of each retry record
  [[nodiscard]] bool resolved() const { return payments + static_cast<int>(dead_letters.size()) > 0; }
};

struct Fates {
  std::map<OrderPos, OrderFate> by_pos;
  std::map<std::string, OrderPos> pos_by_event_id;
  std::size_t unmatched_payments = 0;  // do not parse or name no order
  std::size_t unmatched_failures = 0;  // retry / dead-letter records without a known origin
  std::size_t resolved = 0;

  explicit Fates(const std::vector<Record>& orders) {
    for (const auto& r : orders) {
      OrderFate f;
      if (auto o = events::parse_order_created(r.value)) {
        f.valid = true;
        f.event_id = o.value().event_id;
        f.order_id = o.value().order_id;
        pos_by_event_id[f.event_id] = {r.partition, r.offset};
      }
      by_pos[{r.partition, r.offset}] = f;
    }
  }

  void add_payments(const std::vector<Record>& payments) {
    for (const auto& r : payments) {
      auto p = events::parse_payment_processed(r.value);
      auto it = p ? pos_by_event_id.find(p.value().order_event_id) : pos_by_event_id.end();
      if (it == pos_by_event_id.end()) {
        ++unmatched_payments;
        continue;
      }
      count_resolution(by_pos[it->second], [](OrderFate& f) { ++f.payments; });
    }
  }

  // `orders_topic`: retry and dead-letter records must come from there.
  void add_failures(const std::vector<Record>& records, const std::string& orders_topic, bool dead_letters) {
    for (const auto& r : records) {
      const auto partition = int_header(r, "x-original-partition");
      const auto offset = int_header(r, "x-original-offset");
      auto it =
          header(r, "x-original-topic") == std::optional<std::string>(orders_topic) && partition && offset
              ? by_pos.find({static_cast<int32_t>(*partition), *offset})
              : by_pos.end();
      if (it == by_pos.end()) {
        ++unmatched_failures;
        continue;
      }
      const auto attempt = int_header(r, "x-attempt").value_or(-1);
      if (dead_letters) {
        const auto cls = header(r, "x-error-class").value_or("?");
        count_resolution(
            it->second, [&](OrderFate& f) { f.dead_letters.push_back(cls + "@" + std::to_string(attempt)); });
      } else {
        it->second.retry_attempts.insert(attempt);
      }
    }
  }

 private:
  template <typename Add>
  void count_resolution(OrderFate& f, Add add) {
    const bool was = f.resolved();
    add(f);
    if (!was) ++resolved;
  }
};

// The failed attempts of a valid order, from the same deterministic draw payment-service makes (seed,
// event id, attempt): those before its first success, or max_attempts when every attempt fails.
int failed_attempts(const payment::GatewaySimulator& gateway, const std::string& event_id, int max_attempts) {
  int failed = 0;
  while (failed < max_attempts && !gateway.call(event_id, failed + 1)) ++failed;
  return failed;
}

// Orders that break one rule: how many, and the first few as `orders[p]@o <fate>` for the failure message.
struct Violations {
  std::size_t count = 0;
  std::string examples;
  void add(const std::string& topic, const OrderPos& pos, const OrderFate& f,
           const std::string& detail = "") {
    if (++count > 5) return;
    std::ostringstream out;
    out << "\n  " << topic << "[" << pos.first << "]@" << pos.second << detail << ": payments=" << f.payments
        << " dead_letters={";
    for (const auto& d : f.dead_letters) out << ' ' << d;
    out << " } retry x-attempts={";
    for (const auto a : f.retry_attempts) out << ' ' << a;
    out << " }";
    examples += out.str();
  }
};

// Every order ends in exactly one payment or exactly one dead letter; retries are visible only for the
// attempts that failed, each once. payment-service runs in exactly-once mode with a gateway that fails
// half the calls (3 attempts: about 1/8 of the valid orders are dead-lettered `exhausted`), orders with
// invalid ones among them (dead-lettered `poison` at once), and is SIGKILLed at several points and
// restarted with the same --instance-id. notification-service runs throughout, also exactly-once.
TEST_F(ExactlyOnceTest, SigkillsWithGatewayFailuresYieldOnePaymentOrOneDeadLetterPerOrder) {
  constexpr int kOrders = 8000;
  constexpr int kKills = 4;
  constexpr int kMaxAttempts = 3;
  const std::string failure_rate = "0.5";
  const std::string test = "exactly_once_sigkill_payment_retries";
  std::mt19937_64 rng(test_seed(test));
  // In payments: about 8000 × 0.98 valid × 7/8 paid ≈ 6860 in all.
  const auto points = kill_points(test, rng, kKills, 800, 6000, 500);
  std::uniform_int_distribution<std::uint64_t> seed_of(1, 1000000);
  const auto gateway_seed = seed_of(rng);
  const auto order_seed = seed_of(rng);

  auto pay_args = kExactlyOnce;
  pay_args.insert(pay_args.end(),
                  {"--gateway-failure-rate", failure_rate, "--max-attempts", std::to_string(kMaxAttempts),
                   "--retry-backoff-ms", "150", "--seed", std::to_string(gateway_seed)});
  const int pay_port = free_port();
  const int note_port = free_port();
  auto note = svc.start_notification(note_port, kExactlyOnce);
  auto pay = svc.start_payment(pay_port, pay_args);
  ASSERT_TRUE(ready_or_exited(pay, pay_port, 90s)) << tail(pay.output());
  ASSERT_TRUE(ready_or_exited(note, note_port, 90s)) << tail(note.output());

  auto producer = svc.start_producer({"--count", std::to_string(kOrders), "--rate", "300", "--seed",
                                      std::to_string(order_seed), "--invalid-ratio", "0.02"});
  kill_at(
      pay, pay_port, [&] { return svc.start_payment(pay_port, pay_args); }, svc.payments, points);
  if (HasFatalFailure()) return;

  ASSERT_EQ(producer.wait(180s).value_or(-1), 0) << tail(producer.output());
  const auto order_records = read_all(svc.bootstrap, svc.orders, kOrders, 60s);
  ASSERT_EQ(order_records.size(), static_cast<std::size_t>(kOrders));

  // The committed view. Wait until every order has a payment or a dead letter (each retry record is
  // committed before its next attempt is read, so the retry topic is complete then too) and the
  // notifications are there, stop both services, and read every topic to its end: nothing more can come.
  TopicReader payments(svc.bootstrap, svc.payments, /*read_committed=*/true);
  TopicReader dead(svc.bootstrap, svc.payment_dlq(), /*read_committed=*/true);
  TopicReader retry(svc.bootstrap, pipe->payment_retry(), /*read_committed=*/true);
  TopicReader notes(svc.bootstrap, svc.notifications, /*read_committed=*/true);
  const auto nothing = [](const std::vector<Record>&) { return false; };
  // (every order resolved, notifications expected: one per valid order plus one per payment)
  const auto progress = [&] {
    Fates f(order_records);
    f.add_payments(payments.records());
    f.add_failures(dead.records(), svc.orders, /*dead_letters=*/true);
    std::size_t paid = 0;
    for (const auto& [pos, fate] : f.by_pos) paid += fate.payments > 0 ? 1 : 0;
    return std::make_pair(f.resolved == f.by_pos.size(), f.pos_by_event_id.size() + paid);
  };
  const bool settled = wait_until(
      [&] {
        payments.poll_until(nothing, 200ms);
        dead.poll_until(nothing, 200ms);
        notes.poll_until(nothing, 200ms);
        const auto [all_resolved, notifications] = progress();
        return all_resolved && notes.records().size() >= notifications;
      },
      180s, 1ms);
  EXPECT_TRUE(settled) << "payments " << payments.records().size() << ", dead letters "
                       << dead.records().size() << ", notifications " << notes.records().size()
                       << " after 180 s";
  EXPECT_EQ(pay.stop(30s), 0) << tail(pay.output());
  EXPECT_EQ(note.stop(30s), 0) << tail(note.output());
  for (auto* reader : {&payments, &dead, &retry, &notes}) {
    EXPECT_TRUE(reader->drain_to_end(60s)) << reader->topic() << " not read to its end";
  }
  const auto& retries = retry.records();

  Fates fates(order_records);
  fates.add_payments(payments.records());
  fates.add_failures(dead.records(), svc.orders, /*dead_letters=*/true);
  fates.add_failures(retries, svc.orders, /*dead_letters=*/false);

  const payment::GatewaySimulator gateway(std::stod(failure_rate), 0ms, gateway_seed);
  Violations lost, both, duplicates, wrong_class, not_as_drawn, retry_duplicates, retry_gaps,
      retry_unexpected;
  std::size_t invalid = 0, paid = 0, poison = 0, exhausted = 0, orders_retried = 0;
  for (const auto& [pos, f] : fates.by_pos) {
    const auto dl = f.dead_letters.size();
    if (!f.valid) ++invalid;
    if (f.payments > 0) ++paid;
    if (!f.retry_attempts.empty()) ++orders_retried;
    if (f.payments == 0 && dl == 0) lost.add(svc.orders, pos, f);
    if (f.payments > 0 && dl > 0) both.add(svc.orders, pos, f);
    if (f.payments > 1 || dl > 1) duplicates.add(svc.orders, pos, f);

    // The outcome this order must have, from the gateway's draws: a payment, or the one dead letter.
    const int failed = f.valid ? failed_attempts(gateway, f.event_id, kMaxAttempts) : 0;
    const std::string expected_dead_letter = !f.valid ? "poison@1"
                                             : failed == kMaxAttempts
                                                 ? "exhausted@" + std::to_string(kMaxAttempts)
                                                 : "";
    const auto why = " (" + std::to_string(failed) + " failed gateway calls drawn)";
    for (const auto& d : f.dead_letters) {
      if (d == "poison@1") ++poison;
      if (d == "exhausted@" + std::to_string(kMaxAttempts)) ++exhausted;
      if (d != expected_dead_letter) wrong_class.add(svc.orders, pos, f, why);
    }
    if (f.resolved() && (expected_dead_letter.empty() ? f.payments == 0 : dl == 0)) {
      not_as_drawn.add(svc.orders, pos, f, why);
    }

    // Retry records: one per failed attempt but the last, x-attempt 1, 2, …, each exactly once.
    const int retried = f.valid ? std::min(failed, kMaxAttempts - 1) : 0;
    const std::set<std::int64_t> distinct(f.retry_attempts.begin(), f.retry_attempts.end());
    std::set<std::int64_t> want;
    for (int a = 1; a <= retried; ++a) want.insert(a);
    if (distinct.size() != f.retry_attempts.size()) retry_duplicates.add(svc.orders, pos, f);
    if (distinct != want) {
      auto& v = std::includes(want.begin(), want.end(), distinct.begin(), distinct.end()) ? retry_gaps
                                                                                          : retry_unexpected;
      v.add(svc.orders, pos, f, why);
    }
  }
  const auto valid = fates.pos_by_event_id.size();
  const auto pt = tally_payments(index_orders(order_records), payments.records());

  // Notifications: ORDER_RECEIVED for every valid order, the payment's kind for every paid one.
  std::map<std::string, bool> paid_by_order_id;  // valid order_id → paid
  for (const auto& [pos, f] : fates.by_pos) {
    if (f.valid) paid_by_order_id[f.order_id] = f.payments > 0;
  }
  std::map<std::pair<std::string, std::string>, int> note_count;
  std::size_t note_unexpected = 0;
  for (const auto& r : notes.records()) {
    auto n = events::parse_notification_sent(r.value);
    auto it = n ? paid_by_order_id.find(n.value().order_id) : paid_by_order_id.end();
    const std::string kind = n ? std::string(events::to_string(n.value().kind)) : "";
    if (it == paid_by_order_id.end() || (kind != "ORDER_RECEIVED" && !it->second)) {
      ++note_unexpected;
      continue;
    }
    ++note_count[{it->first, kind == "ORDER_RECEIVED" ? kind : "PAYMENT"}];
  }
  std::size_t note_duplicates = 0;
  for (const auto& [k, n] : note_count) note_duplicates += static_cast<std::size_t>(n - 1);

  // For the record: what the kills left uncommitted (aborted) in the payments and retry topics.
  const auto raw_payments = read_all(svc.bootstrap, svc.payments, payments.records().size(), 30s);
  const auto raw_retries = read_all(svc.bootstrap, pipe->payment_retry(), retries.size(), 30s);

  EXPECT_EQ(lost.count, 0U) << "orders with neither a committed payment nor a committed dead letter"
                            << lost.examples;
  EXPECT_EQ(both.count, 0U) << "orders with a committed payment and a committed dead letter" << both.examples;
  EXPECT_EQ(duplicates.count, 0U) << "orders with two committed payments or dead letters"
                                  << duplicates.examples;
  EXPECT_EQ(wrong_class.count, 0U) << "dead letters other than poison@1 (invalid order) or exhausted@"
                                   << kMaxAttempts << " (every gateway call failed)" << wrong_class.examples;
  EXPECT_EQ(not_as_drawn.count, 0U) << "outcomes unlike the gateway's draws" << not_as_drawn.examples;
  EXPECT_EQ(retry_duplicates.count, 0U) << "a retry record committed twice" << retry_duplicates.examples;
  EXPECT_EQ(retry_unexpected.count, 0U)
      << "committed retry records of attempts that did not fail" << retry_unexpected.examples;
  EXPECT_EQ(retry_gaps.count, 0U) << "failed attempts without their committed retry record"
                                  << retry_gaps.examples;
  EXPECT_EQ(fates.unmatched_payments, 0U);
  EXPECT_EQ(fates.unmatched_failures, 0U) << "retry / dead-letter records that name no order";
  EXPECT_EQ(pt.wrong, 0U) << "payments whose content does not match the order";
  EXPECT_EQ(payments.records().size(), paid);
  EXPECT_EQ(dead.records().size(), poison + exhausted);
  EXPECT_EQ(poison, invalid);
  EXPECT_EQ(note_unexpected, 0U);
  EXPECT_EQ(note_duplicates, 0U) << "duplicate committed notifications";
  EXPECT_EQ(note_count.size(), valid + paid) << "notifications lost";
  // The faults happened: retries, exhausted orders, invalid orders, and the kills (kill_at checks each).
  EXPECT_GT(retries.size(), 0U);
  EXPECT_GT(exhausted, 0U);
  EXPECT_GT(invalid, 0U);

  summary(
      test + "_kafka",
      std::to_string(points.size()) + "xSIGKILL(payment-service, exactly-once, gateway-failure-rate " +
          failure_rate + ")",
      kOrders, lost.count, duplicates.count + both.count,
      "valid=" + std::to_string(valid) + " payments=" + std::to_string(payments.records().size()) +
          " dlq_poison=" + std::to_string(poison) + " dlq_exhausted=" + std::to_string(exhausted) +
          " retries=" + std::to_string(retries.size()) + " orders_retried=" + std::to_string(orders_retried) +
          " kills=" + std::to_string(points.size()) +
          " notifications=" + std::to_string(notes.records().size()) + " aborted_payments_read_uncommitted=" +
          std::to_string(raw_payments.size() - payments.records().size()) +
          " aborted_retries_read_uncommitted=" + std::to_string(raw_retries.size() - retries.size()) + " " +
          duration());
}

}  // namespace
}  // namespace orderflow::testing::fault
