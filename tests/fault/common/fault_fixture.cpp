#include "fault_fixture.h"

#include <fmt/core.h>
#include <fmt/format.h>
#include <signal.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <random>
#include <sstream>
#include <stdexcept>

#include "orderflow/events/events.h"
#include "orderflow/messaging/topic_admin.h"
#include "orderflow/testing/paths.h"

namespace orderflow::testing::fault {

using namespace std::chrono_literals;

std::uint64_t test_seed(std::string_view test) {
  std::uint64_t seed = 0;
  if (const char* s = std::getenv("ORDERFLOW_FAULT_SEED"); s != nullptr && *s != '\0') {
    seed = std::strtoull(s, nullptr, 10);
  } else {
    seed = (static_cast<std::uint64_t>(std::random_device{}()) << 32) ^ std::random_device{}();
  }
  std::cout << "FAULT-SEED test=" << test << " seed=" << seed << " (replay: ORDERFLOW_FAULT_SEED=" << seed
            << ")" << std::endl;
  return seed;
}

std::vector<std::size_t> kill_points(std::string_view test, std::mt19937_64& rng, int kills, std::size_t lo,
                                     std::size_t hi, std::size_t gap) {
  std::vector<std::size_t> points;
  const std::size_t slot = (hi - lo) / static_cast<std::size_t>(kills);
  for (int i = 0; i < kills; ++i) {
    const std::size_t from = lo + static_cast<std::size_t>(i) * slot;
    std::uniform_int_distribution<std::size_t> d(from, from + slot - std::min(gap, slot));
    points.push_back(d(rng));
  }
  if (const char* s = std::getenv("ORDERFLOW_FAULT_KILL_POINTS"); s != nullptr && *s != '\0') {
    points.clear();
    std::istringstream in(s);
    for (std::string item; std::getline(in, item, ',');) {
      std::size_t used = 0;
      const auto point = std::stoull(item, &used);  // throws std::invalid_argument on a non-number
      if (used != item.size())
        throw std::invalid_argument("ORDERFLOW_FAULT_KILL_POINTS: not a number: " + item);
      points.push_back(point);
    }
    std::sort(points.begin(), points.end());
  }
  std::string list;
  for (const auto p : points) list += (list.empty() ? "" : ",") + std::to_string(p);
  std::cout << "FAULT-KILL-POINTS test=" << test << " points=" << list
            << " (replay: ORDERFLOW_FAULT_KILL_POINTS=" << list << ")" << std::endl;
  return points;
}

Services Services::of(const Pipeline& p) {
  Services s;
  s.bootstrap = p.broker.bootstrap();
  s.orders = p.orders;
  s.payments = p.payments;
  s.notifications = p.notifications;
  s.payment_group = p.payment_group;
  s.notification_group = p.notification_group;
  return s;
}

namespace {
std::vector<std::string> with(std::vector<std::string> base, const std::vector<std::string>& extra) {
  base.insert(base.end(), extra.begin(), extra.end());
  return base;
}
}  // namespace

Process Services::start_payment(int port, const std::vector<std::string>& extra) const {
  return Process::start(bin_path("payment-service"),
                        payment_service_args(bootstrap, payment_group, orders, payments, port, extra));
}

Process Services::start_notification(int port, const std::vector<std::string>& extra) const {
  return Process::start(
      bin_path("notification-service"),
      notification_service_args(bootstrap, notification_group, orders, payments, notifications, port, extra));
}

Process Services::start_producer(const std::vector<std::string>& args) const {
  return Process::start(
      bin_path("order-producer"),
      with({"--brokers", bootstrap, "--topic", orders, "--metrics-address", "127.0.0.1:0"}, args));
}

int kill9(Process& p) {
  p.signal(SIGKILL);
  return p.wait(10s).value_or(-1);
}

PaymentTally tally_payments(const OrderIndex& orders, const std::vector<Record>& payments) {
  PaymentTally t;
  t.valid_orders = orders.valid_by_event_id.size();
  t.invalid_orders = orders.invalid.size();
  t.payments = payments.size();
  for (const auto& r : payments) {
    auto parsed = events::parse_payment_processed(r.value);
    if (!parsed) {
      ++t.unknown;
      continue;
    }
    const auto& pay = parsed.value();
    auto it = orders.valid_by_event_id.find(pay.order_event_id);
    if (it == orders.valid_by_event_id.end()) {
      ++t.unknown;
      continue;
    }
    const bool over = it->second.amount_cents > 500000;
    if (pay.order_id != it->second.order_id || pay.payment_id != events::payment_id_for(pay.order_event_id) ||
        pay.amount_cents != it->second.amount_cents ||
        pay.status != (over ? events::PaymentStatus::Declined : events::PaymentStatus::Authorized) ||
        r.key != std::optional<std::string>(it->second.customer_id)) {
      ++t.wrong;
    }
    if (++t.per_order[pay.order_event_id] > 1) {
      ++t.duplicates;
      t.duplicated.insert(pay.order_event_id);
    }
  }
  t.lost = t.valid_orders - std::min(t.valid_orders, t.per_order.size());
  return t;
}

NotificationTally tally_notifications(const OrderIndex& orders, const std::vector<Record>& notes) {
  NotificationTally t;
  t.notifications = notes.size();
  std::map<std::string, std::string> expected_outcome;  // order_id → payment kind
  for (const auto& [eid, o] : orders.valid_by_event_id) {
    expected_outcome[o.order_id] = o.amount_cents > 500000 ? "PAYMENT_DECLINED" : "PAYMENT_AUTHORIZED";
  }
  std::map<std::pair<std::string, std::string>, int> seen;
  for (const auto& r : notes) {
    auto n = events::parse_notification_sent(r.value);
    if (!n) {
      ++t.unexpected;
      continue;
    }
    const std::string kind(events::to_string(n.value().kind));
    auto it = expected_outcome.find(n.value().order_id);
    if (it == expected_outcome.end() || (kind != "ORDER_RECEIVED" && kind != it->second)) {
      ++t.unexpected;
      continue;
    }
    if (++seen[{n.value().order_id, kind}] > 1) ++t.duplicates;
  }
  const std::size_t expected = 2 * expected_outcome.size();
  t.lost = expected - std::min(expected, seen.size());
  return t;
}

std::vector<Record> read_all(const std::string& bootstrap, const std::string& topic, std::size_t at_least,
                             std::chrono::milliseconds timeout, bool read_committed) {
  TopicReader reader(bootstrap, topic, read_committed);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  reader.wait_for_count(at_least, timeout);
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
  reader.drain_to_end(std::max<std::chrono::milliseconds>(left, 10s));
  return reader.records();
}

namespace {

messaging::TopicAdmin admin_client(const std::string& bootstrap) {
  messaging::KafkaProperties props;
  props.set("bootstrap.servers", bootstrap);
  return messaging::TopicAdmin(props);
}

// Partitions of `topic` from all-topics metadata (naming the topic would auto-create it); 0 when unknown.
int partition_count(messaging::TopicAdmin& admin, const std::string& topic,
                    std::chrono::milliseconds timeout) {
  std::string error;
  const auto counts = admin.partition_counts(timeout, &error);
  return counts && counts->count(topic) != 0 ? counts->at(topic) : 0;
}

}  // namespace

std::map<int32_t, int64_t> committed_offsets(const std::string& bootstrap, const std::string& group,
                                             const std::string& topic, std::chrono::milliseconds timeout) {
  try {
    auto admin = admin_client(bootstrap);
    std::string error;
    const int n = partition_count(admin, topic, timeout);
    if (n == 0) return {};
    const auto committed = admin.committed_offsets(group, {{topic, n}}, timeout, &error);
    if (!committed) return {};
    std::map<int32_t, int64_t> out;
    for (int32_t p = 0; p < n; ++p) {
      const auto it = committed->find({topic, p});
      out[p] = it == committed->end() ? -1 : it->second;
    }
    return out;
  } catch (const std::exception&) {
    return {};
  }
}

std::map<int32_t, int64_t> high_watermarks(const std::string& bootstrap, const std::string& topic,
                                           std::chrono::milliseconds timeout) {
  try {
    auto admin = admin_client(bootstrap);
    std::string error;
    const int n = partition_count(admin, topic, timeout);
    if (n == 0) return {};
    std::map<int32_t, int64_t> out;
    for (int32_t p = 0; p < n; ++p) {
      const auto w = admin.watermarks(topic, p, timeout, &error);
      if (!w) return {};
      out[p] = w->second;
    }
    return out;
  } catch (const std::exception&) {
    return {};
  }
}

namespace {

// Calls on_event(assigned, partition) for each partition of `topic` in the consumer's "partitions
// assigned: …" (assigned = true) and "partitions revoked|lost: …" (false) log lines, in log order.
template <typename OnEvent>
void partition_events(const std::string& log, const std::string& topic, OnEvent on_event) {
  std::istringstream in(log);
  const std::string prefix = topic + "[";
  for (std::string line; std::getline(in, line);) {
    bool assigned = false;
    std::size_t at = std::string::npos;
    if ((at = line.find("partitions assigned: ")) != std::string::npos) {
      assigned = true;
    } else if ((at = line.find("partitions revoked: ")) == std::string::npos &&
               (at = line.find("partitions lost: ")) == std::string::npos) {
      continue;
    }
    std::istringstream items(line.substr(line.find(": ", at) + 2));
    for (std::string item; std::getline(items, item, ',');) {
      if (item.find(prefix) != 0) continue;  // another topic (the retry topic) or the "(… protocol)" tail
      on_event(assigned, static_cast<int32_t>(std::atoi(item.c_str() + prefix.size())));
    }
  }
}

}  // namespace

std::set<int32_t> held_partitions(const std::string& log, const std::string& topic) {
  std::set<int32_t> held;
  partition_events(log, topic, [&](bool assigned, int32_t p) {
    if (assigned) {
      held.insert(p);
    } else {
      held.erase(p);
    }
  });
  return held;
}

void summary(std::string_view test, std::string_view injected, std::size_t records, std::size_t lost,
             std::size_t duplicates, std::string_view extra) {
  std::cout << "FAULT-SUMMARY test=" << test << " injected=" << injected << " records=" << records
            << " lost=" << lost << " duplicates=" << duplicates;
  if (!extra.empty()) std::cout << ' ' << extra;
  std::cout << std::endl;
}

std::string tail(const std::string& text, std::size_t max_bytes) {
  return text.size() <= max_bytes ? text : "…" + text.substr(text.size() - max_bytes);
}

}  // namespace orderflow::testing::fault
