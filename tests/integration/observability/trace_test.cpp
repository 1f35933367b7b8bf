// W3C trace context across the pipeline: a payment and both notifications of an order carry the
// order's trace id (matched by x-correlation-id = order id), each hop with a span id of its own.
#include <gtest/gtest.h>

#include <set>

#include "orderflow/messaging/trace_context.h"
#include "orderflow/testing/wait.h"
#include "pipeline_fixture.h"
#include "pipeline_test_base.h"

namespace orderflow::testing {
namespace {

using namespace std::chrono_literals;

std::string span_of(const std::string& traceparent) {
  return traceparent.substr(36, 16);
}

using TraceTest = PipelineTestBase;

TEST_F(TraceTest, NotificationsAndPaymentsCarryTheTraceIdOfTheirOrder) {
  auto svc = pipe.start_services();
  ASSERT_EQ(svc.wait_ready(60s), "");
  auto [rc, out] = pipe.produce_orders({"--count", "200", "--seed", "33"});
  ASSERT_EQ(rc, 0) << out;

  TopicReader orders(broker.bootstrap(), pipe.orders);
  ASSERT_TRUE(orders.drain_to_end(30s));
  const auto index = index_orders(orders.records());
  ASSERT_EQ(index.valid_by_event_id.size(), 200U);
  TopicReader payments(broker.bootstrap(), pipe.payments);
  TopicReader notes(broker.bootstrap(), pipe.notifications);
  ASSERT_TRUE(payments.wait_for_count(200, 120s));
  ASSERT_TRUE(notes.wait_for_count(400, 120s));

  // order id → the order's traceparent
  std::map<std::string, std::string> order_tp;
  for (const auto& r : orders.records()) {
    auto o = events::parse_order_created(r.value);
    ASSERT_TRUE(o.has_value());
    EXPECT_EQ(header(r, "x-correlation-id"), std::optional<std::string>(o.value().order_id));
    const auto tp = header(r, "traceparent");
    ASSERT_TRUE(tp.has_value()) << "order without traceparent";
    ASSERT_FALSE(messaging::trace_id_of(*tp).empty()) << "malformed traceparent " << *tp;
    order_tp[o.value().order_id] = *tp;
  }
  std::set<std::string> order_traces;
  for (const auto& [id, tp] : order_tp) order_traces.insert(std::string(messaging::trace_id_of(tp)));
  EXPECT_EQ(order_traces.size(), order_tp.size()) << "each order starts a trace of its own";

  std::map<std::string, std::vector<std::string>> spans;  // order id → span ids of every hop
  for (const auto& [id, tp] : order_tp) spans[id].push_back(span_of(tp));
  const auto check_hop = [&](const Record& r, const std::string& order_id, const char* what) {
    EXPECT_EQ(header(r, "x-correlation-id"), std::optional<std::string>(order_id)) << what;
    const auto tp = header(r, "traceparent");
    ASSERT_TRUE(tp.has_value()) << what << " without traceparent";
    auto it = order_tp.find(order_id);
    ASSERT_NE(it, order_tp.end()) << what << " for unknown order " << order_id;
    EXPECT_EQ(messaging::trace_id_of(*tp), messaging::trace_id_of(it->second)) << what << " of " << order_id;
    spans[order_id].push_back(span_of(*tp));
  };
  for (const auto& r : payments.records()) {
    auto p = events::parse_payment_processed(r.value);
    ASSERT_TRUE(p.has_value());
    check_hop(r, p.value().order_id, "payment");
  }
  for (const auto& r : notes.records()) {
    auto n = events::parse_notification_sent(r.value);
    ASSERT_TRUE(n.has_value());
    check_hop(r, n.value().order_id, "notification");
  }
  for (const auto& [id, s] : spans) {
    ASSERT_EQ(s.size(), 4U) << id << ": order, payment and two notifications";
    EXPECT_EQ(std::set<std::string>(s.begin(), s.end()).size(), 4U)
        << id << ": every hop needs its own span id";
  }
  EXPECT_EQ(svc.pay.stop(30s), 0) << svc.pay.output();
  EXPECT_EQ(svc.note.stop(30s), 0) << svc.note.output();
}

}  // namespace
}  // namespace orderflow::testing
