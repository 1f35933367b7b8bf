// Micro-benchmarks of the per-record work of the services, without Kafka: parse + validate, serialise,
// the payment decision path, the payment handler as the stage calls it, offset bookkeeping under
// out-of-order completion, the notification de-duplication window, and the stage's own per-record
// overhead (copies, headers, metrics hooks). Each reports ns/op (Google Benchmark's time) and
// allocs/op, bytes/op (malloc interposer in alloc_counter.cpp, C and C++ allocations).
// Inputs come from the real order generator (seed 42) so sizes match the pipeline benchmark.
#include <benchmark/benchmark.h>
#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "alloc_counter.h"
#include "orderflow/events/events.h"
#include "orderflow/messaging/offset_tracker.h"
#include "orderflow/messaging/record.h"
#include "orderflow/messaging/stage.h"
#include "orderflow/messaging/stage_router.h"
#include "orderflow/messaging/testing/fake_message.h"
#include "orderflow/messaging/testing/test_record.h"
#include "orderflow/messaging/trace_context.h"
#include "orderflow/notification/dedupe_window.h"
#include "orderflow/notification/notification_builder.h"
#include "orderflow/payment/payment_decision.h"
#include "orderflow/payment/payment_handler.h"
#include "orderflow/producer/order_generator.h"
#include "orderflow/runtime/metrics.h"

namespace {

using orderflow::bench::AllocScope;
using orderflow::testing::FakeMessage;
namespace events = orderflow::events;
namespace messaging = orderflow::messaging;

constexpr std::size_t kRing = 1024;  // distinct inputs cycled through (defeats branch/cache luck)

const std::vector<std::string>& order_jsons() {
  static const std::vector<std::string> v = [] {
    orderflow::producer::OrderGenerator gen(42, 1000, 0.0);
    std::vector<std::string> out;
    const auto now = std::chrono::system_clock::now();
    for (std::size_t i = 0; i < kRing; ++i) out.push_back(gen.next(now).value);
    return out;
  }();
  return v;
}

const std::vector<events::OrderCreated>& orders() {
  static const std::vector<events::OrderCreated> v = [] {
    std::vector<events::OrderCreated> out;
    for (const auto& j : order_jsons()) out.push_back(events::parse_order_created(j).value());
    return out;
  }();
  return v;
}

const std::vector<events::PaymentProcessed>& payments() {
  static const std::vector<events::PaymentProcessed> v = [] {
    std::vector<events::PaymentProcessed> out;
    const auto now = std::chrono::system_clock::now();
    for (const auto& o : orders()) out.push_back(orderflow::payment::decide_payment(o, 500000, now));
    return out;
  }();
  return v;
}

// Consumed `orders` records as the stage sees them: key, value and the producer's two headers.
std::vector<std::unique_ptr<FakeMessage>> order_messages() {
  std::vector<std::unique_ptr<FakeMessage>> out;
  std::int64_t offset = 0;
  for (std::size_t i = 0; i < kRing; ++i) {
    const auto& o = orders()[i];
    out.push_back(std::make_unique<FakeMessage>(
        "orders", order_jsons()[i], o.customer_id,
        std::vector<std::pair<std::string, std::string>>{{"x-correlation-id", o.order_id},
                                                         {"traceparent", messaging::new_traceparent()}},
        0, offset++));
  }
  return out;
}

double average_input_bytes() {
  std::size_t total = 0;
  for (const auto& j : order_jsons()) total += j.size();
  return static_cast<double>(total) / static_cast<double>(order_jsons().size());
}

// ---------------------------------------------------------------------------------------- events

void BM_ParseOrderCreated(benchmark::State& state) {
  const auto& in = order_jsons();
  std::size_t i = 0;
  std::int64_t bytes = 0;
  AllocScope allocs;
  for (auto _ : state) {
    const auto& j = in[i++ % kRing];
    auto r = events::parse_order_created(j);
    benchmark::DoNotOptimize(r);
    bytes += static_cast<std::int64_t>(j.size());
  }
  allocs.report(state);
  state.SetBytesProcessed(bytes);
  state.counters["input_bytes"] = average_input_bytes();
}
BENCHMARK(BM_ParseOrderCreated);

void BM_SerialisePaymentProcessed(benchmark::State& state) {
  const auto& in = payments();
  std::size_t i = 0;
  std::int64_t bytes = 0;
  AllocScope allocs;
  for (auto _ : state) {
    auto s = events::to_json(in[i++ % kRing]);
    bytes += static_cast<std::int64_t>(s.size());
    benchmark::DoNotOptimize(s);
  }
  allocs.report(state);
  state.SetBytesProcessed(bytes);
}
BENCHMARK(BM_SerialisePaymentProcessed);

// The name-based UUID (v5, SHA-1) of a payment: once per payment, twice per order in notification-service.
void BM_PaymentIdFor(benchmark::State& state) {
  const auto& in = orders();
  std::size_t i = 0;
  AllocScope allocs;
  for (auto _ : state) {
    auto id = events::payment_id_for(in[i++ % kRing].event_id);
    benchmark::DoNotOptimize(id);
  }
  allocs.report(state);
}
BENCHMARK(BM_PaymentIdFor);

// parse → decide → to_json: the domain work of payment-service per record.
void BM_PaymentDecisionPath(benchmark::State& state) {
  const auto& in = order_jsons();
  std::size_t i = 0;
  AllocScope allocs;
  for (auto _ : state) {
    auto parsed = events::parse_order_created(in[i++ % kRing]);
    auto p = orderflow::payment::decide_payment(parsed.value(), 500000, std::chrono::system_clock::now());
    auto s = events::to_json(p);
    benchmark::DoNotOptimize(s);
  }
  allocs.report(state);
}
BENCHMARK(BM_PaymentDecisionPath);

// PaymentHandler as the stage calls it: prepare (the one parse), process (gateway, decision, to_json,
// OutRecord with occurred_at) and the headers the stage adds to the output (StageRouter::accept: traceparent
// child span, x-correlation-id). The record's view is built beforehand: from a message of librdkafka the
// stage builds it without copies (header views of the message's bytes), unlike from a FakeMessage. Everything
// payment-service does per record except Kafka and the stage's bookkeeping.
void BM_PaymentHandler(benchmark::State& state) {
  std::vector<std::unique_ptr<orderflow::testing::TestRecord>> records;
  for (std::size_t i = 0; i < kRing; ++i) {
    const auto& o = orders()[i];
    records.push_back(std::make_unique<orderflow::testing::TestRecord>(
        "orders", order_jsons()[i], o.customer_id,
        messaging::Headers{{"x-correlation-id", o.order_id}, {"traceparent", messaging::new_traceparent()}},
        0, static_cast<std::int64_t>(i)));
  }
  std::vector<messaging::RecordView> views;
  for (const auto& r : records) views.push_back(r->view());
  orderflow::payment::PaymentHandler handler(orderflow::payment::PaymentConfig{});
  messaging::RecordHandler& stage_side = handler;
  std::size_t i = 0;
  AllocScope allocs;
  for (auto _ : state) {
    const auto& record = views[i++ % kRing];
    if (stage_side.prepare(record)) continue;
    auto plan = messaging::StageRouter::accept(stage_side.process(record), record.headers);
    benchmark::DoNotOptimize(plan);
  }
  allocs.report(state);
}
BENCHMARK(BM_PaymentHandler);

// ------------------------------------------------------------------------------ offset tracking

// begin() a window of offsets in order, complete() them in a shuffled order, take_committable()
// once per window. Per op = one record. Arg: window (records in flight at once).
void BM_OffsetTrackerOutOfOrder(benchmark::State& state) {
  const auto window = static_cast<std::size_t>(state.range(0));
  messaging::OffsetTracker tracker;
  auto progress = tracker.assign("orders", 0);
  std::vector<std::size_t> order(window);
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 rng(7);
  std::vector<std::vector<std::size_t>> shuffles(16, order);
  for (auto& s : shuffles) std::shuffle(s.begin(), s.end(), rng);
  std::int64_t base = 0;
  std::size_t round = 0;
  AllocScope allocs;
  for (auto _ : state) {
    for (std::size_t k = 0; k < window; ++k) progress->begin(base + static_cast<std::int64_t>(k));
    for (const auto k : shuffles[round++ % shuffles.size()])
      progress->complete(base + static_cast<std::int64_t>(k));
    auto offsets = tracker.take_committable();
    benchmark::DoNotOptimize(offsets);
    base += static_cast<std::int64_t>(window);
  }
  allocs.report(state, static_cast<double>(window));
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(window));
  state.counters["ns/record"] =
      benchmark::Counter(static_cast<double>(state.iterations() * static_cast<std::int64_t>(window)),
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_OffsetTrackerOutOfOrder)->Arg(16)->Arg(256)->Arg(4096);

// -------------------------------------------------------------------------------- de-duplication

// Keys as the handler makes them: the notification id of (a random order id, a kind).
using DedupeKey = orderflow::notification::DedupeWindow::Key;
std::vector<DedupeKey> dedupe_keys(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<DedupeKey> keys;
  keys.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    const auto kind =
        i % 2 == 0 ? events::NotificationKind::OrderReceived : events::NotificationKind::PaymentAuthorized;
    keys.push_back(orderflow::notification::DedupeWindow::key_of(
        events::notification_id_for("ord-" + events::uuid_v4(rng).substr(0, 18), kind)));
  }
  return keys;
}

// contains() of a key that is in a full window (capacity 100,000, the default).
void BM_DedupeLookupHit(benchmark::State& state) {
  constexpr std::size_t kCap = 100000;
  orderflow::notification::DedupeWindow w(kCap);
  const auto keys = dedupe_keys(kCap, 1);
  for (const auto& k : keys) w.insert(k);
  std::size_t i = 0;
  AllocScope allocs;
  for (auto _ : state) benchmark::DoNotOptimize(w.contains(keys[(i++ * 7919) % kCap]));
  allocs.report(state);
}
BENCHMARK(BM_DedupeLookupHit);

// What the handler does for every new notification in steady state: key_of (from the notification id it
// has already derived), contains() (miss), insert() with one eviction (window full).
void BM_DedupeMissInsertEvict(benchmark::State& state) {
  constexpr std::size_t kCap = 100000;
  orderflow::notification::DedupeWindow w(kCap);
  for (const auto& k : dedupe_keys(kCap, 1)) w.insert(k);
  std::mt19937_64 rng(2);
  std::vector<std::string> ids;
  for (std::size_t i = 0; i < (1U << 16); ++i) ids.push_back(events::uuid_v4(rng));
  std::size_t i = 0;
  AllocScope allocs;
  for (auto _ : state) {
    const auto key = orderflow::notification::DedupeWindow::key_of(ids[i++ & 0xFFFF]);
    if (!w.contains(key)) benchmark::DoNotOptimize(w.insert(key));
  }
  allocs.report(state);
}
BENCHMARK(BM_DedupeMissInsertEvict);

// notification-service's domain work for one order record: parse → build ORDER_RECEIVED → dedupe →
// to_json (no sink, no Kafka).
void BM_NotificationOrderPath(benchmark::State& state) {
  orderflow::notification::DedupeWindow w(100000);
  const auto& in = order_jsons();
  const std::string channel = "email";
  std::size_t i = 0;
  AllocScope allocs;
  for (auto _ : state) {
    auto parsed = events::parse_order_created(in[i++ % kRing]);
    auto note = orderflow::notification::notification_for_order(parsed.value(), channel,
                                                                std::chrono::system_clock::now());
    auto key = orderflow::notification::DedupeWindow::key_of(note.notification_id);
    if (!w.contains(key)) w.insert(key);  // hits after the first lap: like a replay
    auto s = events::to_json(note);
    benchmark::DoNotOptimize(s);
  }
  allocs.report(state);
}
BENCHMARK(BM_NotificationOrderPath);

// ------------------------------------------------------------------- stage per-record overhead

// The headers of one PaymentProcessed as payment_handler builds them.
messaging::Headers payment_headers(const events::OrderCreated& o) {
  return {{"x-correlation-id", o.order_id},
          {"traceparent", messaging::child_traceparent(messaging::new_traceparent())},
          {"x-order-occurred-at", o.occurred_at}};
}

// messaging::find_header(msg, "traceparent"): std::string name, RdKafka::Header copy, std::string result.
void BM_FindHeaderTraceparent(benchmark::State& state) {
  auto msgs = order_messages();
  std::size_t i = 0;
  AllocScope allocs;
  for (auto _ : state) {
    auto h = messaging::find_header(*msgs[i++ % kRing], messaging::header::kTraceparent);
    benchmark::DoNotOptimize(h);
  }
  allocs.report(state);
}
BENCHMARK(BM_FindHeaderTraceparent);

// Producer::produce builds an RdKafka::Headers (C++ wrapper + C list + one entry per header) for
// every record; librdkafka destroys it after enqueueing. Current: C++ API.
void BM_ProduceHeadersCpp(benchmark::State& state) {
  const auto headers = payment_headers(orders()[0]);
  AllocScope allocs;
  for (auto _ : state) {
    RdKafka::Headers* h = RdKafka::Headers::create();
    for (const auto& [name, v] : headers) h->add(name, v.data(), v.size());
    benchmark::DoNotOptimize(h);
    delete h;
  }
  allocs.report(state);
}
BENCHMARK(BM_ProduceHeadersCpp);

// Proposed: the C list handed straight to rd_kafka_producev(RD_KAFKA_V_HEADERS).
void BM_ProduceHeadersC(benchmark::State& state) {
  const auto headers = payment_headers(orders()[0]);
  AllocScope allocs;
  for (auto _ : state) {
    rd_kafka_headers_t* h = rd_kafka_headers_new(headers.size());
    for (const auto& [name, v] : headers) {
      rd_kafka_header_add(h, name.data(), static_cast<ssize_t>(name.size()), v.data(),
                          static_cast<ssize_t>(v.size()));
    }
    benchmark::DoNotOptimize(h);
    rd_kafka_headers_destroy(h);
  }
  allocs.report(state);
}
BENCHMARK(BM_ProduceHeadersC);

// The metrics hooks the stage calls per record: consumed, processing_seconds, produced, outcome.
void BM_MetricsHooksPerRecord(benchmark::State& state) {
  orderflow::runtime::ServiceMetrics metrics("bench");
  const std::string in_topic = "orders";
  const std::string out_topic = "payments";
  AllocScope allocs;
  for (auto _ : state) {
    metrics.consumed(in_topic);
    metrics.processing_seconds(0.00002);
    metrics.produced(out_topic);
    metrics.outcome("success");
  }
  allocs.report(state);
}
BENCHMARK(BM_MetricsHooksPerRecord);

using Clock = std::chrono::steady_clock;

// Mirrors StageRunner::InFlight.
struct InFlight {
  std::shared_ptr<messaging::PartitionProgress> progress;
  std::int64_t offset = 0;
  int remaining = 1;
  bool failed = false;
  std::string_view outcome = "success";
  Clock::time_point started;
};

// Everything stage.cpp + producer.cpp do per record outside the handler and outside librdkafka,
// as written today: topic_name() copies (handle_message, process, delivery bridge), the tracker
// lookup (builds a TopicPartitionKey with a string copy, copies a shared_ptr), new InFlight,
// message_key() copy, two Clock::now(), RdKafka::Headers for the output, the metrics hooks.
void BM_StageTaxCurrent(benchmark::State& state) {
  auto msgs = order_messages();
  orderflow::runtime::ServiceMetrics metrics("bench");
  messaging::OffsetTracker tracker;
  tracker.assign("orders", 0);
  const auto headers = payment_headers(orders()[0]);
  std::int64_t offset = 0;
  std::size_t i = 0;
  AllocScope allocs;
  for (auto _ : state) {
    auto& msg = *msgs[i++ % kRing];
    const std::string& topic = msg.topic_name();
    auto progress = tracker.find(topic, msg.partition());
    metrics.consumed(topic);
    progress->begin(offset);
    auto* ctx = new InFlight{progress, offset, 1, false, "success", Clock::now()};
    const auto key = messaging::message_key(msg);
    std::string source_topic = msg.topic_name();
    benchmark::DoNotOptimize(source_topic);
    benchmark::DoNotOptimize(key);
    metrics.processing_seconds(std::chrono::duration<double>(Clock::now() - ctx->started).count());
    RdKafka::Headers* h = RdKafka::Headers::create();
    for (const auto& [name, v] : headers) h->add(name, v.data(), v.size());
    benchmark::DoNotOptimize(h);
    delete h;  // librdkafka frees the C list after the enqueue; the C++ wrapper is deleted by the binding
    ++ctx->remaining;
    --ctx->remaining;
    // delivery report
    std::string dr_topic = std::string("payments");
    metrics.produced(dr_topic);
    if (--ctx->remaining == 0) {
      ctx->progress->complete(ctx->offset);
      metrics.outcome(ctx->outcome);
      delete ctx;
    }
    ++offset;
  }
  allocs.report(state);
}
BENCHMARK(BM_StageTaxCurrent);

// The same work after the proposed changes: no topic/key copies (string_view), the partition state
// looked up by pointer, InFlight from a free list, C headers list, per-partition cached counters.
void BM_StageTaxProposed(benchmark::State& state) {
  auto msgs = order_messages();
  orderflow::runtime::ServiceMetrics metrics("bench");
  auto& consumed = metrics.counter("bench_consumed_total", "x");
  auto& produced = metrics.counter("bench_produced_total", "x");
  auto& success = metrics.counter("bench_success_total", "x");
  messaging::OffsetTracker tracker;
  auto progress = tracker.assign("orders", 0);
  auto* progress_ptr = progress.get();
  const auto headers = payment_headers(orders()[0]);
  struct Ctx {
    messaging::PartitionProgress* progress;
    std::int64_t offset;
    int remaining;
    Ctx* next_free;
  };
  std::vector<std::unique_ptr<Ctx>> storage;
  Ctx* free_list = nullptr;
  std::int64_t offset = 0;
  std::size_t i = 0;
  AllocScope allocs;
  for (auto _ : state) {
    auto& msg = *msgs[i++ % kRing];
    consumed.Increment();
    progress_ptr->begin(offset);
    Ctx* ctx = free_list;
    if (ctx != nullptr) {
      free_list = ctx->next_free;
    } else {
      storage.push_back(std::make_unique<Ctx>());
      ctx = storage.back().get();
    }
    *ctx = Ctx{progress_ptr, offset, 1, nullptr};
    std::string_view key(static_cast<const char*>(msg.key_pointer()), msg.key_len());
    benchmark::DoNotOptimize(key);
    const auto started = Clock::now();
    metrics.processing_seconds(std::chrono::duration<double>(Clock::now() - started).count());
    rd_kafka_headers_t* h = rd_kafka_headers_new(headers.size());
    for (const auto& [name, v] : headers) {
      rd_kafka_header_add(h, name.data(), static_cast<ssize_t>(name.size()), v.data(),
                          static_cast<ssize_t>(v.size()));
    }
    benchmark::DoNotOptimize(h);
    rd_kafka_headers_destroy(h);
    produced.Increment();
    ctx->progress->complete(ctx->offset);
    success.Increment();
    ctx->next_free = free_list;
    free_list = ctx;
    ++offset;
  }
  allocs.report(state);
}
BENCHMARK(BM_StageTaxProposed);

}  // namespace

BENCHMARK_MAIN();
