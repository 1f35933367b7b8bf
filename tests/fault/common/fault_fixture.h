// Shared pieces of the fault tests: a launcher for the service binaries that works against any
// bootstrap (the dev broker, an in-process MockCluster or the real Kafka), tallies of what landed in
// `payments` / `notifications` per order (lost, duplicated), group offset probes, the seeded
// randomness every fault test prints, and the one-line FAULT-SUMMARY each test reports.
// Not thread-safe; one per test. Probes never throw; launchers throw std::runtime_error like Process.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "orderflow/testing/process.h"
#include "orderflow/testing/topic_reader.h"
#include "pipeline_fixture.h"

namespace orderflow::testing::fault {

// $ORDERFLOW_FAULT_SEED when set (to replay a run), otherwise random; printed as `FAULT-SEED`.
std::uint64_t test_seed(std::string_view test);

// `kills` kill points (counts of records seen in the topic a test watches), one drawn from each of
// `kills` equal slots of [lo, hi), every slot's last `gap` excluded so consecutive points stay at least
// `gap` apart. $ORDERFLOW_FAULT_KILL_POINTS ("1700,5200,…") replaces them (replay one test with
// --gtest_filter; a malformed list throws std::invalid_argument); either way they are printed as
// `FAULT-KILL-POINTS`.
std::vector<std::size_t> kill_points(std::string_view test, std::mt19937_64& rng, int kills, std::size_t lo,
                                     std::size_t hi, std::size_t gap);

// Topic and group names plus the common flags of the services, for one bootstrap.
struct Services {
  std::string bootstrap;
  std::string orders = "orders";
  std::string payments = "payments";
  std::string notifications = "notifications";
  std::string payment_group = "payment-service";
  std::string notification_group = "notification-service";

  static Services of(const Pipeline& p);
  [[nodiscard]] std::string payment_dlq() const { return payment_group + ".dlq"; }

  // Fast group timing for restarts (the mock waits session.timeout.ms - 1 s on every re-join) and
  // 200 ms commits, as the Pipeline fixture does.
  Process start_payment(int metrics_port, const std::vector<std::string>& extra = {}) const;
  Process start_notification(int metrics_port, const std::vector<std::string>& extra = {}) const;
  // order-producer in the background (`--count`, `--rate`, ... in `args`).
  Process start_producer(const std::vector<std::string>& args) const;
};

// SIGKILL and reap (bounded); returns the exit code (137 expected).
int kill9(Process& p);

// Per-order counts of the payments seen, against the orders topic.
struct PaymentTally {
  std::size_t valid_orders = 0;
  std::size_t invalid_orders = 0;
  std::size_t payments = 0;              // records read
  std::size_t lost = 0;                  // valid orders without a payment
  std::size_t duplicates = 0;            // payments beyond the first of an order
  std::size_t unknown = 0;               // payments that match no order, or that do not parse
  std::size_t wrong = 0;                 // payments whose content does not match the order
  std::map<std::string, int> per_order;  // order event_id → payments
  std::set<std::string> duplicated;      // order event_ids with more than one payment
};
PaymentTally tally_payments(const OrderIndex& orders, const std::vector<Record>& payments);

struct NotificationTally {
  std::size_t notifications = 0;
  std::size_t lost = 0;        // (order, expected kind) pairs never notified
  std::size_t duplicates = 0;  // notifications beyond the first per (order, kind)
  std::size_t unexpected = 0;  // unknown order, unexpected kind, or unparsable
};
NotificationTally tally_notifications(const OrderIndex& orders, const std::vector<Record>& notes);

// Reads `topic` until it holds at least `at_least` records (bounded), then to its end.
std::vector<Record> read_all(const std::string& bootstrap, const std::string& topic, std::size_t at_least,
                             std::chrono::milliseconds timeout, bool read_committed = false);

// The group's committed offsets for every partition of `topic` (−1 = none), read with the library's Admin
// client (ListConsumerGroupOffsets: it does not join the group); empty on failure.
std::map<int32_t, int64_t> committed_offsets(const std::string& bootstrap, const std::string& group,
                                             const std::string& topic, std::chrono::milliseconds timeout);
// High watermarks of every partition of `topic`; empty on failure.
std::map<int32_t, int64_t> high_watermarks(const std::string& bootstrap, const std::string& topic,
                                           std::chrono::milliseconds timeout);

// The partitions of `topic` a service held when its log ends ("partitions assigned/revoked/lost"); used
// to wait for an assignment to settle, never as the bound of an assertion.
std::set<int32_t> held_partitions(const std::string& log, const std::string& topic);

// Prints `FAULT-SUMMARY test=<name> injected=<what> records=<n> lost=<n> duplicates=<n> [extra]`.
void summary(std::string_view test, std::string_view injected, std::size_t records, std::size_t lost,
             std::size_t duplicates, std::string_view extra = {});

// The last `max_bytes` of a process log, for failure messages.
std::string tail(const std::string& text, std::size_t max_bytes = 4000);

}  // namespace orderflow::testing::fault
