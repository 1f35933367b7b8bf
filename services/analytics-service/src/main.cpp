// analytics-service: consumes `orders` and `payments`, aggregates them in tumbling event-time windows and
// publishes each closed window to `order-stats`. The windowing, lateness and the commit rule that makes a
// restart count nothing twice are described in orderflow/analytics/window.h; this file wires Kafka, the
// command line, metrics and the HTTP endpoint around it.
//
// One instance per group: a window gathers records of every partition, so two instances would each
// publish a partial window under the same id. A rebalance therefore drops the open windows and rewinds
// the partitions still assigned to their committable offsets, rebuilding the windows from the records.
#include <librdkafka/rdkafkacpp.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "orderflow/analytics/window.h"
#include "orderflow/events/clock.h"
#include "orderflow/events/codec.h"
#include "orderflow/messaging/consumer.h"
#include "orderflow/messaging/kafka_config.h"
#include "orderflow/messaging/producer.h"
#include "orderflow/runtime/cli.h"
#include "orderflow/runtime/http_server.h"
#include "orderflow/runtime/logging.h"
#include "orderflow/runtime/metrics.h"
#include "orderflow/runtime/shutdown.h"

using namespace orderflow;
using Clock = std::chrono::steady_clock;

namespace {

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch()).count();
}

std::optional<std::int64_t> event_ms(const std::string& occurred_at) {
  const auto t = events::parse_timestamp(occurred_at);
  if (!t) return std::nullopt;
  return std::chrono::duration_cast<std::chrono::milliseconds>(t->time_since_epoch()).count();
}

// How many of the last records of each `order-stats` partition are read at start. Keys are window
// starts, spread over the partitions, so this covers the most recent windows many times over; only
// windows a restart can re-read (the oldest unpublished one onwards) matter.
constexpr std::int64_t kStatsTailPerPartition = 1000;

// Reads the tail of the stats topic: the window starts (of this --window-ms) published by earlier runs.
// Returns false when the topic could not be read within `timeout`.
bool read_published(const messaging::KafkaProperties& base, const std::string& topic, std::int64_t window_ms,
                    std::chrono::milliseconds timeout, const std::atomic<bool>& stop,
                    std::vector<std::int64_t>& starts) {
  messaging::KafkaProperties props = base;
  props.set("group.id", "analytics-service.bootstrap");  // required by KafkaConsumer; never joined
  props.set("enable.auto.commit", "false");
  props.set("enable.auto.offset.store", "false");
  props.set("enable.partition.eof", "true");
  props.set("allow.auto.create.topics", "false");
  auto conf = messaging::make_conf(props);
  std::string err;
  std::unique_ptr<RdKafka::KafkaConsumer> c(RdKafka::KafkaConsumer::create(conf.get(), err));
  if (!c) {
    spdlog::error("cannot create the {} reader: {}", topic, err);
    return false;
  }
  const auto deadline = Clock::now() + timeout;
  std::vector<std::int32_t> partitions;
  while (partitions.empty()) {
    if (stop.load() || Clock::now() >= deadline) return false;
    RdKafka::Metadata* raw = nullptr;
    // All topics: naming the topic would make the dev broker's mock create it.
    if (c->metadata(true, nullptr, &raw, 2000) == RdKafka::ERR_NO_ERROR) {
      std::unique_ptr<RdKafka::Metadata> md(raw);
      for (const auto* t : *md->topics()) {
        if (t->topic() != topic || t->err() != RdKafka::ERR_NO_ERROR) continue;
        for (const auto* p : *t->partitions()) partitions.push_back(p->id());
      }
    }
    if (partitions.empty()) spdlog::warn("waiting for topic {} (create it, see docs/contract.md §4)", topic);
  }
  std::vector<RdKafka::TopicPartition*> assign;
  std::map<std::int32_t, std::int64_t> end;
  for (const auto p : partitions) {
    std::int64_t low = 0, high = 0;
    const auto e = c->query_watermark_offsets(topic, p, &low, &high, 5000);
    if (e != RdKafka::ERR_NO_ERROR) {
      spdlog::error("{} [{}]: cannot read the offsets: {}", topic, p, RdKafka::err2str(e));
      RdKafka::TopicPartition::destroy(assign);
      return false;
    }
    if (high <= low) continue;
    end[p] = high;
    assign.push_back(RdKafka::TopicPartition::create(topic, p, std::max(low, high - kStatsTailPerPartition)));
  }
  if (assign.empty()) return true;
  c->assign(assign);
  RdKafka::TopicPartition::destroy(assign);
  while (!end.empty()) {
    if (stop.load() || Clock::now() >= deadline) return false;
    std::unique_ptr<RdKafka::Message> m(c->consume(200));
    if (!m) continue;
    if (m->err() == RdKafka::ERR__PARTITION_EOF) {
      auto it = end.find(m->partition());
      if (it != end.end() && m->offset() >= it->second) end.erase(it);
      continue;
    }
    if (m->err() != RdKafka::ERR_NO_ERROR) continue;
    if (const auto w =
            analytics::parse_published(std::string_view(static_cast<const char*>(m->payload()), m->len()));
        w && w->window_ms == window_ms) {
      starts.push_back(w->start_ms);
    }
    auto it = end.find(m->partition());
    if (it != end.end() && m->offset() + 1 >= it->second) end.erase(it);
  }
  c->close();
  return true;
}

struct Counters {
  prometheus::Counter* late;
  prometheus::Counter* replayed;
  prometheus::Counter* invalid;
  prometheus::Counter* windows_closed;
  prometheus::Counter* orders;
  prometheus::Gauge* open_windows;
  std::map<std::string, prometheus::Counter*> amount;  // by currency
};

class Listener final : public messaging::RebalanceListener {
 public:
  std::function<void(const std::vector<messaging::TopicPartitionKey>&)> assigned;
  std::function<void(const std::vector<messaging::TopicPartitionKey>&, bool)> revoking;
  void on_assigned(const std::vector<messaging::TopicPartitionKey>& p) override { assigned(p); }
  void on_revoking(const std::vector<messaging::TopicPartitionKey>& p, bool lost) override {
    revoking(p, lost);
  }
};

}  // namespace

int main(int argc, char** argv) {
  runtime::CommandLine cli;
  cli.program = "analytics-service";
  cli.usage = "analytics-service [options]";
  cli.description =
      "Consumes `orders` and `payments`, aggregates them in tumbling windows by event time (occurred_at)\n"
      "and publishes every closed window to `order-stats` (keyed by the window start). Offsets are\n"
      "committed only up to the oldest record of a window not yet published, so a restart re-reads\n"
      "exactly the unpublished windows and counts nothing twice.";
  cli.example = "analytics-service --brokers localhost:9092 --window-ms 60000";
  runtime::add_common_options(cli, {"0.0.0.0:9105", true, "analytics-service"});
  namespace po = runtime::po;
  const analytics::WindowConfig defaults;
  cli.options.add_options()(
      "orders-topic", po::value<std::string>()->default_value("orders")->value_name("TOPIC"), "input topic")(
      "payments-topic", po::value<std::string>()->default_value("payments")->value_name("TOPIC"),
      "input topic")("stats-topic",
                     po::value<std::string>()->default_value("order-stats")->value_name("TOPIC"),
                     "output topic of closed windows")(
      "window-ms", po::value<long long>()->default_value(defaults.window_ms)->value_name("MS"),
      "tumbling window length")(
      "allowed-lateness-ms",
      po::value<long long>()->default_value(defaults.allowed_lateness_ms)->value_name("MS"),
      "a window closes when the watermark passes its end by this much")(
      "idle-timeout-ms", po::value<long long>()->default_value(defaults.idle_timeout_ms)->value_name("MS"),
      "a partition without records for this long no longer holds the watermark back")(
      "commit-interval-ms", po::value<int>()->default_value(1000)->value_name("MS"), "offset commit period")(
      "startup-timeout-s", po::value<int>()->default_value(30)->value_name("S"),
      "exit 1 when the stats topic cannot be read within this");
  cli.env["window-ms"] = "WINDOW_MS";
  cli.env["allowed-lateness-ms"] = "ALLOWED_LATENESS_MS";
  cli.env["commit-interval-ms"] = "COMMIT_INTERVAL_MS";

  auto parsed = runtime::parse_command_line(cli, argc, argv);
  if (parsed.exit_code) return *parsed.exit_code;
  const auto& vm = parsed.vm;
  runtime::CommonOptions common;
  analytics::WindowConfig wcfg;
  std::string orders_topic, payments_topic, stats_topic;
  int commit_interval_ms = 1000, startup_timeout_s = 30;
  messaging::KafkaProperties props;
  try {
    common = runtime::read_common_options(vm, true);
    if (common.guarantee != "at-least-once") {
      throw runtime::UsageError("--guarantee: analytics-service supports at-least-once only");
    }
    orders_topic = vm["orders-topic"].as<std::string>();
    payments_topic = vm["payments-topic"].as<std::string>();
    stats_topic = vm["stats-topic"].as<std::string>();
    wcfg.window_ms = vm["window-ms"].as<long long>();
    wcfg.allowed_lateness_ms = vm["allowed-lateness-ms"].as<long long>();
    wcfg.idle_timeout_ms = vm["idle-timeout-ms"].as<long long>();
    if (wcfg.window_ms < 1) throw runtime::UsageError("--window-ms: must be at least 1");
    if (wcfg.allowed_lateness_ms < 0)
      throw runtime::UsageError("--allowed-lateness-ms: must not be negative");
    if (wcfg.idle_timeout_ms < 1) throw runtime::UsageError("--idle-timeout-ms: must be at least 1");
    commit_interval_ms = vm["commit-interval-ms"].as<int>();
    if (commit_interval_ms < 1) throw runtime::UsageError("--commit-interval-ms: must be at least 1");
    startup_timeout_s = vm["startup-timeout-s"].as<int>();
    if (startup_timeout_s < 1) throw runtime::UsageError("--startup-timeout-s: must be at least 1");
    props = runtime::kafka_properties(common);
  } catch (const runtime::UsageError& e) {
    return runtime::usage_error(cli.program, e.what());
  } catch (const messaging::ConfigError& e) {
    return runtime::usage_error(cli.program, e.what());
  }
  runtime::setup_logging("analytics-service", common.log_level, common.log_format);

  messaging::ConsumerOptions copts;
  copts.properties = props;
  copts.group_id = common.group_id;
  copts.topics = {orders_topic, payments_topic};
  messaging::ProducerOptions popts;
  popts.properties = props;
  if (common.check_config) {
    return runtime::check_config(cli, vm, [&] {
      messaging::Consumer::check_config(copts);
      messaging::Producer::check_config(popts);
    });
  }

  runtime::ShutdownSignal shutdown;
  runtime::ServiceMetrics metrics("analytics-service");
  Counters ctr{};
  ctr.late = &metrics.counter("orderflow_analytics_late_records_total",
                              "records for a window that had already closed (not counted in any window)");
  ctr.replayed = &metrics.counter("orderflow_analytics_replayed_records_total",
                                  "records re-read after a restart whose window an earlier run published");
  ctr.invalid = &metrics.counter("orderflow_analytics_invalid_records_total",
                                 "input records that are not valid events (ignored)");
  ctr.windows_closed = &metrics.counter("orderflow_analytics_windows_closed_total",
                                        "closed windows acknowledged on the stats topic");
  ctr.orders =
      &metrics.counter("orderflow_analytics_orders_aggregated_total", "orders counted in published windows");
  ctr.open_windows =
      &metrics.gauge("orderflow_analytics_open_windows", "windows open or awaiting acknowledgement");
  auto amount_counter = [&](const std::string& currency) -> prometheus::Counter& {
    auto it = ctr.amount.find(currency);
    if (it == ctr.amount.end()) {
      it = ctr.amount
               .emplace(currency, &metrics.counter("orderflow_analytics_amount_cents_aggregated_total",
                                                   "order amounts counted in published windows",
                                                   {{"currency", currency}}))
               .first;
    }
    return *it->second;
  };

  std::atomic<bool> ready{false};
  std::unique_ptr<runtime::HttpServer> http;
  try {
    http = std::make_unique<runtime::HttpServer>(
        common.metrics_address, metrics.registry_ptr(), [&]() -> std::optional<std::string> {
          if (!ready.load()) return std::string("not ready: no partitions assigned yet (joining the group)");
          if (auto problem = metrics.broker_problem()) return "not ready: " + *problem;
          return std::nullopt;
        });
  } catch (const std::exception& e) {
    spdlog::error("metrics address {}: {}", common.metrics_address, e.what());
    return 1;
  }

  spdlog::info("analytics-service: brokers {} group {} window {} ms, allowed lateness {} ms, properties: {}",
               common.brokers, common.group_id, wcfg.window_ms, wcfg.allowed_lateness_ms,
               props.to_log_string());

  analytics::WindowAggregator agg(wcfg);
  {
    std::vector<std::int64_t> starts;
    if (!read_published(props, stats_topic, wcfg.window_ms, std::chrono::seconds(startup_timeout_s),
                        shutdown.flag(), starts)) {
      if (shutdown.requested()) return 0;
      spdlog::error("could not read {} within {} s", stats_topic, startup_timeout_s);
      return 1;
    }
    for (const auto s : starts) agg.seed_published(s);
    spdlog::info("{} windows published earlier (read from {}); their re-read records are not counted again",
                 starts.size(), stats_topic);
  }

  // Delivery: the context is a heap copy of the window's start, owned by the completion (which fires
  // exactly once per produced record, also at shutdown).
  std::map<std::int64_t, analytics::WindowStats> in_flight;
  bool delivery_failed = false;
  messaging::Producer producer(popts, [&](const messaging::DeliveryReport& r) {
    const std::unique_ptr<std::int64_t> owned(static_cast<std::int64_t*>(r.context));
    const std::int64_t start = *owned;
    auto it = in_flight.find(start);
    if (!r.ok()) {
      spdlog::error("window {} not delivered to {}: {}", start, stats_topic, r.error_text);
      delivery_failed = true;
      return;
    }
    metrics.produced(stats_topic);
    if (it != in_flight.end()) {
      ctr.windows_closed->Increment();
      ctr.orders->Increment(static_cast<double>(it->second.orders));
      for (const auto& [c, v] : it->second.order_amount_cents_by_currency)
        amount_counter(c).Increment(static_cast<double>(v));
      in_flight.erase(it);
    }
    agg.acknowledged(start);
  });
  producer.set_interrupt(&shutdown.flag());

  std::unique_ptr<messaging::Consumer> consumer;
  std::vector<messaging::CommitOffset> rewind;
  Listener listener;
  listener.assigned = [&](const std::vector<messaging::TopicPartitionKey>& parts) {
    for (const auto& tp : parts) agg.assigned(tp, now_ms());
    ready = true;
  };
  listener.revoking = [&](const std::vector<messaging::TopicPartitionKey>& parts, bool lost) {
    // Windows mix partitions: what was counted from a revoked partition cannot be taken out of them, so
    // every open window is dropped and rebuilt by re-reading from the committable offsets.
    producer.flush(std::chrono::seconds(30));
    auto offsets = agg.committable();
    if (!lost && !offsets.empty())
      metrics.commit_result(consumer->commit(offsets, true) == RdKafka::ERR_NO_ERROR);
    rewind.clear();
    for (const auto& o : offsets) {
      bool gone = false;
      for (const auto& tp : parts) gone = gone || (tp.topic == o.topic && tp.partition == o.partition);
      if (!gone) rewind.push_back(o);
    }
    for (const auto& tp : parts) agg.revoked(tp);
    agg.reset_open();
    in_flight.clear();
  };
  consumer = std::make_unique<messaging::Consumer>(copts, listener);
  consumer->on_async_commit([&](RdKafka::ErrorCode err, const std::vector<messaging::CommitOffset>&) {
    metrics.commit_result(err == RdKafka::ERR_NO_ERROR);
  });
  consumer->subscribe();

  auto last_commit = Clock::now();
  int exit_code = 0;
  while (!shutdown.requested()) {
    auto msg = consumer->poll(std::chrono::milliseconds(100));
    if (!rewind.empty()) {
      for (const auto& o : rewind) consumer->seek(o.topic, o.partition, o.offset);
      rewind.clear();
      msg.reset();  // may predate the seek
    }
    const std::int64_t now = now_ms();
    if (msg && msg->err() == RdKafka::ERR_NO_ERROR) {
      const messaging::TopicPartitionKey tp{msg->topic_name(), msg->partition()};
      metrics.consumed(tp.topic);
      const std::string_view bytes(static_cast<const char*>(msg->payload()), msg->len());
      std::optional<analytics::WindowAggregator::Outcome> outcome;
      if (tp.topic == orders_topic) {
        auto o = events::parse_order_created(bytes);
        if (o.has_value()) {
          if (const auto t = event_ms(o.value().occurred_at)) {
            outcome = agg.add_order(tp, msg->offset(), *t, now, o.value().customer_id, o.value().amount_cents,
                                    o.value().currency);
          }
        }
      } else {
        auto p = events::parse_payment_processed(bytes);
        if (p.has_value()) {
          const auto& v = p.value();
          if (const auto t = event_ms(v.occurred_at)) {
            outcome =
                agg.add_payment(tp, msg->offset(), *t, now, v.status == events::PaymentStatus::Authorized,
                                v.amount_cents, v.currency, v.decline_reason.value_or(""));
          }
        }
      }
      if (!outcome) {
        // Poison is the producing service's business (its DLQ); here it only must not stall the commit.
        ctr.invalid->Increment();
        agg.skip(tp, msg->offset(), now);
        spdlog::debug("{} [{}] @{}: not a valid event, ignored", tp.topic, tp.partition, msg->offset());
      } else if (*outcome == analytics::WindowAggregator::Outcome::Late) {
        ctr.late->Increment();
        spdlog::debug("{} [{}] @{}: late record (its window has closed), not counted", tp.topic, tp.partition,
                      msg->offset());
      } else if (*outcome == analytics::WindowAggregator::Outcome::Replayed) {
        ctr.replayed->Increment();
      }
    } else if (msg && msg->err() != RdKafka::ERR__TIMED_OUT && msg->err() != RdKafka::ERR__PARTITION_EOF) {
      spdlog::warn("consumer: {}", msg->errstr());
    }

    for (auto& w : agg.close_ready(now)) {
      const auto start = w.start_ms;
      messaging::OutRecord rec;
      rec.topic = stats_topic;
      rec.key =
          events::format_timestamp(std::chrono::system_clock::time_point(std::chrono::milliseconds(start)));
      rec.value = analytics::to_json(w, wcfg.window_ms);
      spdlog::info("window {} closed: {} orders, {} authorised, {} declined, {} customers", *rec.key,
                   w.orders, w.payments_authorized, w.payments_declined, w.customers.size());
      in_flight[start] = std::move(w);
      std::string err;
      auto context = std::make_unique<std::int64_t>(start);
      if (producer.produce(rec, context.get(), &err)) {
        (void)context.release();  // the completion owns it now
      } else {
        if (!shutdown.requested()) {
          spdlog::error("cannot enqueue window {} for {}: {}", start, stats_topic, err);
          exit_code = 1;
        }
        break;
      }
    }
    if (exit_code != 0) break;
    producer.poll(std::chrono::milliseconds(0));
    if (delivery_failed) {
      exit_code = 1;
      break;
    }
    ctr.open_windows->Set(static_cast<double>(agg.open_windows() + agg.pending_windows()));
    if (Clock::now() - last_commit >= std::chrono::milliseconds(commit_interval_ms)) {
      last_commit = Clock::now();
      const auto offsets = agg.committable();
      if (!offsets.empty()) consumer->commit(offsets, false);
    }
  }

  // Stop: publish nothing new (open windows are rebuilt by the next run), wait for what is in flight,
  // commit what is complete.
  producer.flush(std::chrono::seconds(30));
  if (exit_code == 0 && !delivery_failed) {
    const auto offsets = agg.committable();
    if (!offsets.empty()) metrics.commit_result(consumer->commit(offsets, true) == RdKafka::ERR_NO_ERROR);
  }
  consumer->close();
  spdlog::info("analytics-service stopped");
  return delivery_failed ? 1 : exit_code;
}
