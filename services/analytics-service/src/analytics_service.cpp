#include "orderflow/analytics/analytics_service.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <exception>
#include <utility>

#include "orderflow/analytics/published_windows.h"
#include "orderflow/events/clock.h"
#include "orderflow/events/codec.h"
#include "orderflow/messaging/kafka_client.h"

namespace orderflow::analytics {

namespace {

using Clock = std::chrono::steady_clock;

// A loop turn takes about one poll; a turn much longer than that is a stall (WindowAggregator::stalled).
constexpr std::int64_t kPollMs = 100;
constexpr std::int64_t kStallMs = 1000;

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch()).count();
}

std::optional<std::int64_t> event_ms(const std::string& occurred_at) {
  const auto t = events::parse_timestamp(occurred_at);
  if (!t) return std::nullopt;
  return std::chrono::duration_cast<std::chrono::milliseconds>(t->time_since_epoch()).count();
}

messaging::TxnStatus failed(const messaging::TxnError& e) {
  return {e.fatal() ? messaging::TxnStatus::Kind::Fatal : messaging::TxnStatus::Kind::Failed, e.what()};
}

}  // namespace

AnalyticsService::AnalyticsService(AnalyticsOptions options, runtime::ServiceMetrics& service_metrics,
                                   AnalyticsMetrics& metrics)
    : options_(std::move(options)),
      dlq_topic_(options_.dlq_topic()),
      service_metrics_(service_metrics),
      metrics_(metrics),
      windows_(options_.window) {}

AnalyticsService::~AnalyticsService() = default;

int AnalyticsService::run() {
  if (!start_http()) return 1;
  spdlog::info("analytics-service: brokers {} group {} window {} ms, allowed lateness {} ms, properties: {}",
               options_.common.brokers, options_.common.group_id, options_.window.window_ms,
               options_.window.allowed_lateness_ms, options_.kafka.to_log_string());
  if (options_.sink_on()) {
    spdlog::info("ClickHouse sink: {} database {}, batches of {} rows or {} ms", options_.clickhouse_url,
                 options_.sink.database, options_.sink.batch_rows, options_.sink.batch_ms);
  }
  start_sink();
  start_producer();
  if (!commits_->start()) return 1;
  if (!learn_published()) return shutdown_.requested() ? 0 : 1;
  start_consumer();
  return stop(loop());
}

bool AnalyticsService::start_http() {
  try {
    http_ = std::make_unique<runtime::HttpServer>(
        options_.common.metrics_address, service_metrics_.registry_ptr(),
        [this]() -> std::optional<std::string> {
          if (!ready_.load()) return std::string("not ready: no partitions assigned yet (joining the group)");
          if (auto problem = service_metrics_.broker_problem()) return "not ready: " + *problem;
          {
            const std::lock_guard lock(sink_state_mutex_);
            if (!sink_problem_.empty()) return "not ready: " + sink_problem_;
          }
          return std::nullopt;
        });
  } catch (const std::exception& e) {
    spdlog::error("metrics address {}: {}", options_.common.metrics_address, e.what());
    return false;
  }
  return true;
}

void AnalyticsService::start_sink() {
  if (!options_.sink_on()) return;
  SinkHooks hooks;
  hooks.written = [this](Table t, std::size_t rows, double seconds) {
    metrics_.rows_written(t, rows, seconds);
  };
  hooks.failed = [this](Table t, const std::string& reason) {
    metrics_.insert_failed(t);
    spdlog::warn("ClickHouse INSERT into {} failed: {}", table_name(t), reason);
  };
  hooks.refused = [this](Table t, const SinkRow& row, const std::string& reason) {
    metrics_.row_refused(t);
    refused_.push_back({t, row, reason});
  };
  sink_ = std::make_unique<ClickHouseSink>(
      options_.sink,
      std::make_unique<HttpInserter>(options_.clickhouse_endpoint, options_.clickhouse_user,
                                     options_.clickhouse_password,
                                     std::chrono::milliseconds(options_.clickhouse_timeout_ms)),
      std::move(hooks));
}

void AnalyticsService::start_producer() {
  const auto popts = producer_options(options_);
  producer_ = std::make_unique<messaging::Producer>(
      popts, [this](const messaging::DeliveryReport& r) { delivered(r); });
  producer_->set_interrupt(&shutdown_.flag());
  CommitPort& port = *this;
  if (options_.exactly_once()) {
    commits_ = std::make_unique<ExactlyOnceCommits>(port, popts.transactional_id);
  } else {
    commits_ = std::make_unique<AtLeastOnceCommits>(port);
  }
}

// What a start (and, in exactly-once mode, an aborted transaction) rebuilds from: the windows published
// earlier, whose re-read records are not counted again.
bool AnalyticsService::learn_published() {
  std::vector<PublishedRecord> published;
  if (!read_published(options_.kafka, options_.stats_topic, options_.window.window_ms,
                      std::chrono::seconds(options_.startup_timeout_s), shutdown_.flag(),
                      options_.exactly_once(), published)) {
    if (!shutdown_.requested()) {
      spdlog::error("could not read {} within {} s", options_.stats_topic, options_.startup_timeout_s);
    }
    return false;
  }
  for (const auto& w : published) windows_.seed_published(w.start_ms);
  spdlog::info("{} windows published earlier (read from {}); their re-read records are not counted again",
               published.size(), options_.stats_topic);
  if (!sink_) return true;
  // Windows an earlier run published may not have reached ClickHouse before it stopped: written again
  // (the same row, the same version: ReplacingMergeTree keeps one).
  std::size_t again = 0;
  for (const auto& w : published) {
    auto row = window_sink_row(w.value, {options_.stats_topic, w.partition}, w.offset);
    if (!row) continue;  // written by a release without the sink's fields
    sink_->add(Table::OrderStats, std::move(*row), now_ms());
    ++again;
  }
  if (again > 0) spdlog::info("{} published windows queued for ClickHouse again (idempotent)", again);
  return true;
}

void AnalyticsService::start_consumer() {
  messaging::RebalanceListener& listener = *this;
  consumer_ = std::make_unique<messaging::Consumer>(consumer_options(options_), listener);
  consumer_->on_async_commit([this](RdKafka::ErrorCode err, const std::vector<messaging::CommitOffset>&) {
    service_metrics_.commit_result(err == RdKafka::ERR_NO_ERROR);
  });
  consumer_->subscribe();
}

int AnalyticsService::loop() {
  auto last_commit = Clock::now();
  std::int64_t last_loop_ms = now_ms();
  while (!shutdown_.requested()) {
    if (commits_->fatal()) return 1;
    if (rebuild_pending_) {
      if (const auto stop = rebuild_after_abort()) return *stop;
    }
    auto msg = consumer_->poll(std::chrono::milliseconds(kPollMs));
    if (const auto gap = now_ms() - last_loop_ms; gap > kStallMs) windows_.stalled(gap - kPollMs);
    if (!rewind_.empty()) {
      for (const auto& o : rewind_) consumer_->seek(o.topic, o.partition, o.offset);
      rewind_.clear();
      msg.reset();  // may predate the seek
    }
    const std::int64_t now = now_ms();
    if (msg && msg->err() == RdKafka::ERR_NO_ERROR) {
      consume(*msg, now);
    } else if (msg && msg->err() != RdKafka::ERR__TIMED_OUT && msg->err() != RdKafka::ERR__PARTITION_EOF) {
      spdlog::warn("consumer: {}", msg->errstr());
    }
    last_loop_ms = now_ms();

    if (const auto stop = publish_closed(now)) return *stop;
    producer_->poll(std::chrono::milliseconds(0));
    if (sink_) {
      if (const auto stop = serve_sink(now)) return *stop;
    }
    if (delivery_failed_) {
      if (!commits_->delivery_failed()) return 1;
      continue;
    }
    metrics_.open_windows(windows_.open_windows() + windows_.pending_windows());
    if (Clock::now() - last_commit >= std::chrono::milliseconds(options_.commit_interval_ms)) {
      last_commit = Clock::now();
      if (!commits_->period()) return 1;
    }
  }
  return 0;
}

// Stop: publish nothing new (open windows are rebuilt by the next run), wait for what is in flight, write
// what the sink holds (when ClickHouse answers; otherwise the next run re-reads it), commit what is complete.
int AnalyticsService::stop(int exit_code) {
  producer_->flush(std::chrono::seconds(30));
  if (sink_ && exit_code == 0 && !delivery_failed_) {
    if (sink_->up() || sink_->retry_at_ms() <= now_ms()) sink_->service(now_ms(), true);
    for (const auto& r : refused_) {
      if (!dead_letter(r)) break;
    }
    refused_.clear();
    producer_->flush(std::chrono::seconds(30));
  }
  if (!commits_->finish(exit_code == 0 && !delivery_failed_ && !rebuild_pending_)) exit_code = 1;
  consumer_->close();
  spdlog::info("analytics-service stopped");
  return delivery_failed_ ? 1 : exit_code;
}

// After an aborted transaction, as a start: the committed windows, then every assigned partition from the
// group's committed offsets.
AnalyticsService::Stop AnalyticsService::rebuild_after_abort() {
  rebuild_pending_ = false;
  windows_ = WindowAggregator(options_.window);
  if (sink_) sink_->drop_input_rows();
  if (!learn_published()) return shutdown_.requested() ? 0 : 1;
  for (const auto& [topic, partition] : assigned_) windows_.assigned({topic, partition}, now_ms());
  const auto committed = consumer_->committed(std::chrono::seconds(10));
  if (committed.empty() && !assigned_.empty()) {
    // Without the committed offsets the input cannot be rewound; a restart rebuilds instead.
    spdlog::critical("cannot read the group's committed offsets after the abort; stopping");
    return 1;
  }
  for (const auto& c : committed) {
    consumer_->seek(c.topic, c.partition, c.offset >= 0 ? c.offset : RdKafka::Topic::OFFSET_BEGINNING);
  }
  rewind_.clear();
  commits_->rebuilt();
  spdlog::info("rebuilt after the abort: {} partitions re-read from the committed offsets", committed.size());
  return std::nullopt;
}

// One input record: its sink row, and its window (or why it counts in none).
void AnalyticsService::consume(const RdKafka::Message& msg, std::int64_t now) {
  const messaging::TopicPartitionKey tp{msg.topic_name(), msg.partition()};
  service_metrics_.consumed(tp.topic);
  const std::string_view bytes(static_cast<const char*>(msg.payload()), msg.len());
  std::optional<WindowAggregator::Outcome> outcome;
  if (tp.topic == options_.orders_topic) {
    auto o = events::parse_order_created(bytes);
    if (o.has_value()) {
      const auto& v = o.value();
      if (const auto t = event_ms(v.occurred_at)) {
        if (sink_)
          sink_->add(Table::Orders, input_row(msg, order_row(v, *t, tp.partition, msg.offset())), now);
        outcome = windows_.add_order(tp, msg.offset(), *t, now, v.customer_id, v.amount_cents, v.currency);
      }
    }
  } else {
    auto p = events::parse_payment_processed(bytes);
    if (p.has_value()) {
      const auto& v = p.value();
      if (const auto t = event_ms(v.occurred_at)) {
        if (sink_) {
          sink_->add(Table::Payments, input_row(msg, payment_row(v, *t, tp.partition, msg.offset())), now);
        }
        outcome =
            windows_.add_payment(tp, msg.offset(), *t, now, v.status == events::PaymentStatus::Authorized,
                                 v.amount_cents, v.currency, v.decline_reason.value_or(""));
      }
    }
  }
  if (!outcome) {
    // Poison is the producing service's business (its DLQ); here it only must not stall the commit.
    metrics_.invalid();
    windows_.skip(tp, msg.offset(), now);
    spdlog::debug("{} [{}] @{}: not a valid event, ignored", tp.topic, tp.partition, msg.offset());
  } else if (*outcome == WindowAggregator::Outcome::Late) {
    metrics_.late();
    spdlog::debug("{} [{}] @{}: late record (its window has closed), not counted", tp.topic, tp.partition,
                  msg.offset());
  } else if (*outcome == WindowAggregator::Outcome::Replayed) {
    metrics_.replayed();
  }
}

// Produces the windows the watermark closed; they stay in flight until acknowledged (delivered()).
AnalyticsService::Stop AnalyticsService::publish_closed(std::int64_t now) {
  // While the input is paused for the sink, no window closes: the paused partitions would look idle and
  // their records, read after the pause, late.
  auto closed = paused_.empty() ? windows_.close_ready(now) : std::vector<WindowStats>{};
  if (!closed.empty() && !commits_->before_produce()) return 1;
  for (auto& w : closed) {
    const auto start = w.start_ms;
    messaging::OutRecord rec;
    rec.topic = options_.stats_topic;
    rec.key =
        events::format_timestamp(std::chrono::system_clock::time_point(std::chrono::milliseconds(start)));
    rec.value = to_json(w, options_.window.window_ms);
    spdlog::info("window {} closed: {} orders, {} authorised, {} declined, {} customers", *rec.key, w.orders,
                 w.payments_authorized, w.payments_declined, w.customers.size());
    in_flight_[start] = std::move(w);
    std::string err;
    auto context = std::make_unique<DeliveryContext>();
    context->start_ms = start;
    if (!producer_->produce(rec, context.get(), &err)) {
      if (shutdown_.requested()) return std::nullopt;
      spdlog::error("cannot enqueue window {} for {}: {}", start, options_.stats_topic, err);
      return 1;
    }
    (void)context.release();  // the completion owns it now
  }
  return std::nullopt;
}

// Writes what is due to ClickHouse, dead-letters the rows it refused and pauses the input while it is
// unavailable (the lag grows, memory does not) until an INSERT succeeds.
AnalyticsService::Stop AnalyticsService::serve_sink(std::int64_t now) {
  const bool up = sink_->service(now);
  bool dead_letters_failed = false;
  for (const auto& r : refused_) {
    if (!dead_letter(r)) {
      dead_letters_failed = true;
      break;
    }
  }
  refused_.clear();
  if (dead_letters_failed && !shutdown_.requested()) return 1;
  if (!up) {
    for (const auto& tp : assigned_) {
      if (paused_.insert(tp).second) consumer_->pause(tp.first, tp.second);
    }
  } else if (!paused_.empty()) {
    for (const auto& tp : paused_) {
      consumer_->resume(tp.first, tp.second);
      windows_.assigned({tp.first, tp.second}, now);  // its idle clock starts again
    }
    paused_.clear();
  }
  if (up != sink_was_up_) {
    if (up) {
      spdlog::info("ClickHouse sink: INSERTs accepted again; input resumed");
    } else {
      spdlog::error("ClickHouse sink unavailable: {}; input paused, retrying with backoff", sink_->problem());
    }
    sink_was_up_ = up;
  }
  {
    const std::lock_guard lock(sink_state_mutex_);
    sink_problem_ = up ? std::string() : "ClickHouse sink unavailable (retrying): " + sink_->problem();
  }
  metrics_.sink_state(up, !paused_.empty(), sink_->buffered());
  return std::nullopt;
}

bool AnalyticsService::dead_letter(const RefusedRow& refused) {
  const auto& row = refused.row;
  spdlog::warn("ClickHouse refused a row of {} ({} [{}] @{}): {}; sending it to {}",
               table_name(refused.table), row.tp.topic, row.tp.partition, row.offset, refused.reason,
               dlq_topic_);
  if (!commits_->before_produce()) return false;
  std::string err;
  if (!produce_dead_letter(*producer_, dlq_topic_, refused, &err)) {
    if (!shutdown_.requested()) spdlog::error("cannot enqueue a dead letter for {}: {}", dlq_topic_, err);
    return false;
  }
  return true;
}

// A produced record's completion: a window acknowledged releases its records' offsets and is written to
// ClickHouse; a dead letter acknowledged releases its row's offset.
void AnalyticsService::delivered(const messaging::DeliveryReport& r) {
  const std::unique_ptr<DeliveryContext> ctx(static_cast<DeliveryContext*>(r.context));
  if (discarding_) return;
  if (ctx->kind == DeliveryContext::Kind::DeadLetter) {
    if (!r.ok()) {
      spdlog::error("dead letter of {} [{}] @{} not delivered to {}: {}", ctx->tp.topic, ctx->tp.partition,
                    ctx->offset, dlq_topic_, r.error_text);
      delivery_failed_ = true;
      return;
    }
    service_metrics_.produced(dlq_topic_);
    service_metrics_.outcome("dead_lettered");
    if (sink_) sink_->release(ctx->tp, ctx->offset);
    return;
  }
  const std::int64_t start = ctx->start_ms;
  auto it = in_flight_.find(start);
  if (!r.ok()) {
    spdlog::error("window {} not delivered to {}: {}", start, options_.stats_topic, r.error_text);
    delivery_failed_ = true;
    return;
  }
  service_metrics_.produced(options_.stats_topic);
  if (it != in_flight_.end()) {
    metrics_.window_published(it->second);
    if (sink_) {
      if (auto row = window_sink_row(to_json(it->second, options_.window.window_ms),
                                     {options_.stats_topic, r.partition}, r.offset)) {
        sink_->add(Table::OrderStats, std::move(*row), now_ms());
      }
    }
    in_flight_.erase(it);
  }
  windows_.acknowledged(start);
}

void AnalyticsService::on_assigned(const std::vector<messaging::TopicPartitionKey>& partitions) {
  for (const auto& tp : partitions) {
    windows_.assigned(tp, now_ms());
    assigned_.emplace(tp.topic, tp.partition);
  }
  ready_ = true;
}

void AnalyticsService::on_revoking(const std::vector<messaging::TopicPartitionKey>& partitions, bool lost) {
  // Windows mix partitions: what was counted from a revoked partition cannot be taken out of them, so every
  // open window is dropped and rebuilt by re-reading from the committable offsets.
  producer_->flush(std::chrono::seconds(30));
  if (sink_ && sink_->up()) sink_->service(now_ms(), true);
  auto offsets = committable();
  commits_->revoking(offsets, lost);
  rewind_.clear();
  if (rebuild_pending_) offsets.clear();  // the loop re-reads every partition from the committed offsets
  for (const auto& o : offsets) {
    bool gone = false;
    for (const auto& tp : partitions) gone = gone || (tp.topic == o.topic && tp.partition == o.partition);
    if (!gone) rewind_.push_back(o);
  }
  for (const auto& tp : partitions) {
    windows_.revoked(tp);
    assigned_.erase({tp.topic, tp.partition});
    paused_.erase({tp.topic, tp.partition});
  }
  windows_.reset_open();
  in_flight_.clear();
  if (sink_) sink_->drop_input_rows();  // re-read from the offsets above
}

std::vector<messaging::CommitOffset> AnalyticsService::committable() {
  return committable_offsets(windows_, sink_.get());
}

void AnalyticsService::commit_result(bool ok) {
  service_metrics_.commit_result(ok);
}

bool AnalyticsService::commit_offsets(const std::vector<messaging::CommitOffset>& offsets, bool sync) {
  return consumer_->commit(offsets, sync) == RdKafka::ERR_NO_ERROR;
}

bool AnalyticsService::flush() {
  return producer_->flush(std::chrono::seconds(30));
}

messaging::TxnStatus AnalyticsService::init_transactions() {
  try {
    producer_->init_transactions(std::chrono::seconds(60));
  } catch (const messaging::TxnError& e) {
    return failed(e);
  }
  return {};
}

messaging::TxnStatus AnalyticsService::begin_transaction() {
  try {
    producer_->begin_transaction();
  } catch (const messaging::TxnError& e) {
    return failed(e);
  }
  return {};
}

messaging::TxnStatus AnalyticsService::commit_transaction(
    const std::vector<messaging::CommitOffset>& offsets) {
  try {
    if (!offsets.empty()) {
      messaging::TopicPartitionList list;
      list.reserve(offsets.size());
      for (const auto& o : offsets) list.add(o.topic, o.partition, o.offset);
      const std::unique_ptr<RdKafka::ConsumerGroupMetadata> group(consumer_->handle().groupMetadata());
      producer_->send_offsets_to_transaction(list.items(), group.get(), std::chrono::seconds(30));
    }
    producer_->commit_transaction(std::chrono::seconds(60));
  } catch (const messaging::TxnError& e) {
    return failed(e);
  }
  return {};
}

messaging::TxnStatus AnalyticsService::abort_transaction(bool open) {
  messaging::TxnStatus status;
  discarding_ = true;
  try {
    if (open) producer_->abort_transaction(std::chrono::seconds(60));
  } catch (const messaging::TxnError& e) {
    status = failed(e);
  }
  producer_->flush(std::chrono::seconds(5));  // serves the purged records' completions
  discarding_ = false;
  return status;
}

void AnalyticsService::rebuild() {
  delivery_failed_ = false;
  in_flight_.clear();
  refused_.clear();
  rebuild_pending_ = true;
}

}  // namespace orderflow::analytics
