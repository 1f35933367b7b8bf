#include "analytics_fixture.h"

#include <librdkafka/rdkafkacpp.h>

#include <algorithm>
#include <memory>

#include <nlohmann/json.hpp>

#include "orderflow/events/events.h"
#include "orderflow/testing/paths.h"
#include "orderflow/testing/wait.h"

namespace orderflow::testing::analytics {

using namespace std::chrono_literals;

std::int64_t ms_of(const std::string& ts) {
  const auto t = events::parse_timestamp(ts);
  EXPECT_TRUE(t.has_value()) << ts;
  if (!t) return 0;
  return std::chrono::duration_cast<std::chrono::milliseconds>(t->time_since_epoch()).count();
}

std::int64_t window_of(std::int64_t ms) {
  return ms - (ms % kWindowMs);
}

void ensure_topic(TestBroker& broker, const std::string& topic) {
  if (broker.is_real()) {
    create_topics(broker.bootstrap(), {topic}, 6);
    return;
  }
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string err;
  conf->set("bootstrap.servers", broker.bootstrap(), err);
  std::unique_ptr<RdKafka::Producer> p(RdKafka::Producer::create(conf.get(), err));
  ASSERT_TRUE(p) << err;
  std::unique_ptr<RdKafka::Topic> t(RdKafka::Topic::create(p.get(), topic, nullptr, err));
  RdKafka::Metadata* md = nullptr;
  ASSERT_EQ(p->metadata(false, t.get(), &md, 10000), RdKafka::ERR_NO_ERROR);
  delete md;
}

namespace {

void add_order(Expected& e, const events::OrderCreated& o) {
  auto& w = e.windows[window_of(ms_of(o.occurred_at))];
  ++e.orders;
  ++w.orders;
  w.amount[o.currency] += o.amount_cents;
  w.customers.insert(o.customer_id);
  e.order_ids.insert(o.event_id);
  e.amount_by_currency[o.currency] += o.amount_cents;
}

void add_payment(Expected& e, const events::PaymentProcessed& p) {
  auto& w = e.windows[window_of(ms_of(p.occurred_at))];
  ++e.payments;
  e.payment_ids.insert(p.event_id);
  if (p.status == events::PaymentStatus::Authorized) {
    ++w.authorized;
    w.authorized_amount[p.currency] += p.amount_cents;
  } else {
    ++w.declined;
    ++w.by_reason[p.decline_reason.value_or("")];
  }
}

}  // namespace

Expected aggregate(const std::vector<Record>& orders, const std::vector<Record>& payments) {
  Expected e;
  for (const auto& r : orders) {
    if (const auto o = events::parse_order_created(r.value); o.has_value()) add_order(e, o.value());
  }
  for (const auto& r : payments) {
    if (const auto p = events::parse_payment_processed(r.value); p.has_value()) add_payment(e, p.value());
  }
  return e;
}

Published read_stats(const std::vector<Record>& stats) {
  using Amounts = std::map<std::string, std::int64_t>;
  Published out;
  for (const auto& r : stats) {
    const auto j = nlohmann::json::parse(r.value, nullptr, false);
    if (j.is_discarded() || !j.contains("window_start_ms")) {
      ADD_FAILURE() << "not a window record: " << r.value;
      continue;
    }
    const std::int64_t start = j.at("window_start_ms");
    EXPECT_EQ(j.at("window_ms").get<std::int64_t>(), kWindowMs);
    EXPECT_EQ(j.at("event_id").get<std::string>(),
              events::uuid_v5("order-stats:" + std::to_string(start) + ":" + std::to_string(kWindowMs)));
    EXPECT_EQ(r.key, std::optional<std::string>(j.at("window_start").get<std::string>()));
    ++out.records;
    auto& copies = out.copies[start];
    copies.push_back(r.value);
    if (copies.size() > 1) continue;
    Published::Window w;
    w.orders = j.at("orders");
    w.amount = j.at("order_amount_cents_by_currency").get<Amounts>();
    w.authorized = j.at("payments_authorized");
    w.declined = j.at("payments_declined");
    w.authorized_amount = j.at("authorized_amount_cents_by_currency").get<Amounts>();
    w.by_reason = j.at("declined_by_reason").get<Amounts>();
    w.distinct_customers = j.at("distinct_customers");
    out.orders += w.orders;
    out.payments += w.authorized + w.declined;
    out.windows[start] = w;
  }
  return out;
}

void expect_windows_equal(const Expected& want, const Published& got) {
  for (const auto& [start, w] : want.windows) {
    const auto it = got.windows.find(start);
    if (it == got.windows.end()) {
      ADD_FAILURE() << "window " << start << " (" << w.orders << " orders) not published";
      continue;
    }
    const auto& g = it->second;
    const bool same = g.orders == w.orders && g.amount == w.amount && g.authorized == w.authorized &&
                      g.declined == w.declined && g.authorized_amount == w.authorized_amount &&
                      g.by_reason == w.by_reason &&
                      g.distinct_customers == static_cast<std::int64_t>(w.customers.size());
    EXPECT_TRUE(same) << "window " << start << ": want " << w.orders << " orders, " << w.authorized << "/"
                      << w.declined << " payments, " << w.customers.size() << " customers; got " << g.orders
                      << ", " << g.authorized << "/" << g.declined << ", " << g.distinct_customers;
  }
  for (const auto& [start, g] : got.windows) {
    EXPECT_TRUE(want.windows.contains(start))
        << "window " << start << " (" << g.orders << " orders) published but the topics have no record of it";
  }
  EXPECT_EQ(got.orders, want.orders);
  EXPECT_EQ(got.payments, want.payments);
}

std::vector<std::string> AnalyticsFixture::analytics_args(int port,
                                                          const std::vector<std::string>& extra) const {
  std::vector<std::string> args{
      "--brokers", broker.bootstrap(), "--metrics-address", "127.0.0.1:" + std::to_string(port), "--group-id",
      group, "--orders-topic", p.orders, "--payments-topic", p.payments, "--stats-topic", stats_topic,
      "--window-ms", std::to_string(kWindowMs), "--allowed-lateness-ms", "300",
      // Long enough that a stall of a busy machine (a loaded CI box) does not make
      // a partition look idle and its records late; windows still close within
      // seconds of the stream's end.
      "--idle-timeout-ms", "4000", "-X", "session.timeout.ms=6000", "-X", "heartbeat.interval.ms=1000"};
  if (std::find(extra.begin(), extra.end(), "--commit-interval-ms") == extra.end()) {
    args.insert(args.end(), {"--commit-interval-ms", "200"});
  }
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

Process AnalyticsFixture::start_analytics(int port, const std::vector<std::string>& extra) const {
  return Process::start(bin_path("analytics-service"), analytics_args(port, extra));
}

Process AnalyticsFixture::start_payment_ready(int& port, const std::vector<std::string>& extra) const {
  port = free_port();
  auto payment = p.start_payment(port, extra);
  EXPECT_TRUE(wait_ready(port, 30s)) << payment.output();
  return payment;
}

Process AnalyticsFixture::start_order_load(int count, int rate, int customers, int seed) const {
  return Process::start(bin_path("order-producer"),
                        {"--brokers", broker.bootstrap(), "--topic", p.orders, "--metrics-address",
                         "127.0.0.1:0", "--count", std::to_string(count), "--rate", std::to_string(rate),
                         "--customers", std::to_string(customers), "--seed", std::to_string(seed)});
}

Expected AnalyticsFixture::expected_from_topics(std::size_t expected_orders) {
  TopicReader orders(broker.bootstrap(), p.orders, true);
  EXPECT_TRUE(orders.wait_for_count(expected_orders, 60s));
  orders.drain_to_end(10s);
  TopicReader payments(broker.bootstrap(), p.payments, true);
  EXPECT_TRUE(payments.wait_for_count(expected_orders, 60s));
  payments.drain_to_end(10s);
  auto e = aggregate(orders.records(), payments.records());
  EXPECT_EQ(e.orders, static_cast<std::int64_t>(expected_orders));
  return e;
}

Published AnalyticsFixture::wait_for_stats(const Expected& want, bool read_committed,
                                           std::chrono::seconds timeout) {
  TopicReader stats(broker.bootstrap(), stats_topic, read_committed);
  Published got;
  const bool complete = wait_until(
      [&] {
        stats.drain_to_end(2s);
        got = read_stats(stats.records());
        return got.orders >= want.orders && got.payments >= want.payments;
      },
      timeout, 200ms);
  EXPECT_TRUE(complete) << "published windows hold " << got.orders << " of " << want.orders << " orders and "
                        << got.payments << " of " << want.payments << " payments";
  return got;
}

}  // namespace orderflow::testing::analytics
