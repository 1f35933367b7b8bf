#include "orderflow/messaging/stage.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <set>

#include "backlog_reader.h"
#include "orderflow/messaging/kafka_client.h"
#include "orderflow/messaging/log_fields.h"
#include "orderflow/messaging/trace_context.h"

namespace orderflow::messaging {

using Clock = std::chrono::steady_clock;

namespace {

// Structured log fields naming a record; the order id comes from its x-correlation-id header when it has one.
std::string record_fields(std::string_view topic, std::int32_t partition, std::int64_t offset,
                          const RecordView& record) {
  if (const auto order_id = record.header(header::kCorrelationId); order_id && !order_id->empty()) {
    return log_fields(
        {{"topic", topic}, {"partition", partition}, {"offset", offset}, {"order_id", *order_id}});
  }
  return log_fields({{"topic", topic}, {"partition", partition}, {"offset", offset}});
}

// Runs a handler call. Whatever it throws — a std::exception or anything else (a thrown int, a foreign
// library's type) — is logged and becomes a transient failure, never a crash.
template <class Call>
std::optional<Failure> guarded(std::string_view what, const RecordView& r, Call&& call) {
  std::string error;
  try {
    return std::forward<Call>(call)();
  } catch (const std::exception& e) {
    error = e.what();
  } catch (...) {
    error = "an exception not derived from std::exception";
  }
  spdlog::warn("{} error on {}[{}]@{}: {}{}", what, r.topic, r.partition, r.offset, error,
               record_fields(r.topic, r.partition, r.offset, r));
  return Failure::transient("unexpected error: " + error);
}

}  // namespace

struct StageRunner::InFlight {
  std::shared_ptr<PartitionProgress> progress;
  std::int64_t offset = 0;
  // Outputs enqueued and not yet reported, + 1 while they are being enqueued: a produce() waiting for room
  // serves delivery reports, and one of this record's must not complete it before the last is enqueued.
  int remaining = 1;
  bool failed = false;
  bool purged = false;  // an output was purged at shutdown: the offset must stay uncommitted
  Outcome outcome = Outcome::Success;
  Clock::time_point started;
};

// One consumed record on its way through the stage: the handler's view of it, and the key as the producer
// and KeyOrder take it.
struct StageRunner::Input {
  std::optional<std::string> key;
  RecordView view;
  bool from_retry = false;
  [[nodiscard]] const std::string* key_ptr() const { return key ? &*key : nullptr; }
};

namespace {

// The stage's two clients; shared by the constructor and check_config() so that both see the same settings.
ProducerOptions stage_producer_options(const StageOptions& options) {
  ProducerOptions popts;
  popts.properties = options.kafka;
  if (popts.properties.find("message.max.bytes") == nullptr) {
    // A dead letter carries the original value (docs/contract.md §7 Retries and dead letters): let the
    // producer take every record the stage accepts for processing (librdkafka's default, 1,000,000, is below
    // --max-record-bytes' 1 MiB), plus room for the failure headers. librdkafka's maximum is 1,000,000,000.
    const auto limit =
        std::min<std::size_t>(1000000000, std::max<std::size_t>(1000000, options.max_record_bytes + 65536));
    popts.properties.set("message.max.bytes", std::to_string(limit));
  }
  popts.on_stats = options.on_stats;
  if (options.guarantee == Guarantee::ExactlyOnce) {
    // Stable across restarts so a restarted instance fences its predecessor's open transaction.
    popts.transactional_id = options.group_id + "-" + options.instance_id;
  }
  return popts;
}

ConsumerOptions stage_consumer_options(const StageOptions& options) {
  ConsumerOptions copts;
  copts.properties = options.kafka;
  copts.group_id = options.group_id;
  copts.topics = options.input_topics;
  copts.topics.push_back(options.retry_topic());
  copts.read_committed = options.guarantee == Guarantee::ExactlyOnce;
  copts.on_stats = options.on_stats;
  if (options.retry_ordering == RetryOrdering::Key) {
    // Partition p of the inputs and of the retry topic must belong to one instance (docs/design.md "Key
    // ordering"): the range assignor gives every member the same partition numbers of topics of equal size.
    if (const auto* s = options.kafka.find("partition.assignment.strategy"); s != nullptr && *s != "range") {
      throw ConfigError(
          "--retry-ordering key needs partition.assignment.strategy=range (it keeps partition p of "
          "the input and retry topics on one instance), got -X partition.assignment.strategy=" +
          *s);
    }
    copts.assignment_strategy = "range";
  }
  return copts;
}

}  // namespace

void StageRunner::check_config(const StageOptions& options, bool log_warnings) {
  Producer::check_config(stage_producer_options(options), log_warnings);
  Consumer::check_config(stage_consumer_options(options), log_warnings);
}

StageRunner::StageRunner(StageOptions options, RecordHandler& handler, StageObserver& observer)
    : options_(std::move(options)),
      handler_(handler),
      observer_(observer),
      retry_topic_(options_.retry_topic()),
      router_(RouterConfig{options_.service, options_.retry_topic(), options_.dlq_topic(), options_.retry,
                           options_.retry_ordering, options_.max_record_bytes}),
      order_(options_.retry_ordering == RetryOrdering::Key, options_.key_gate_max_keys),
      pauses_(options_.retry.delay_after(options_.retry.max_attempts)) {
  producer_ = std::make_unique<Producer>(stage_producer_options(options_),
                                         [this](const DeliveryReport& r) { on_delivery(r); });
  consumer_ = std::make_unique<Consumer>(stage_consumer_options(options_), *this);
  if (options_.retry_ordering == RetryOrdering::Key) {
    backlog_properties_ = consumer_properties(stage_consumer_options(options_));
  }
  CommitPort& port = *this;
  if (options_.guarantee == Guarantee::ExactlyOnce) {
    commits_ = std::make_unique<TransactionalCommits>(port, options_.txn_max_records, options_.txn_max_ms);
  } else {
    commits_ = std::make_unique<AtLeastOnceCommits>(port, tracker_, options_.commit_interval);
  }
  consumer_->on_async_commit([this](RdKafka::ErrorCode err, const std::vector<CommitOffset>& offsets) {
    commits_->async_commit_done(err, offsets);
  });
}

StageRunner::~StageRunner() = default;

int StageRunner::run(const std::atomic<bool>& stop) {
  producer_->set_interrupt(&stop);
  if (!commits_->start(Clock::now())) return 1;
  if (!options_.output_topics.empty())
    producer_->prepare_topics(options_.output_topics, Producer::kPrepareTopicsTimeout);
  consumer_->subscribe();
  spdlog::info("{} consuming {} (+{}) as group {}", options_.service, fmt::join(options_.input_topics, ","),
               retry_topic_, options_.group_id);

  auto next_lag = Clock::now() + std::chrono::seconds(1);
  constexpr int kTimerCheckEvery = 32;
  int since_timer_check = 0;
  while (!stop.load(std::memory_order_relaxed) && !fatal_) {
    auto timeout = std::chrono::milliseconds(in_flight_ > 0 || commits_->busy() ? 1 : 100);
    if (!pauses_.empty()) timeout = pauses_.poll_timeout(timeout, now_ms());
    auto msg = consumer_->poll(timeout);
    producer_->poll(std::chrono::milliseconds(0));
    if (msg) handle_message(*msg);
    if (!pauses_.empty()) resume_due();
    commits_->after_poll();
    // The timers below are checked after a poll without a record and every kTimerCheckEvery records: on a
    // backlog a clock read per record costs more than the fraction of a millisecond of lateness it saves.
    const bool record = msg && msg->err() == RdKafka::ERR_NO_ERROR;
    if (record && ++since_timer_check < kTimerCheckEvery) continue;
    since_timer_check = 0;
    const auto now = Clock::now();
    commits_->on_timer(now);
    if (now >= next_lag) {
      report_lag();
      next_lag = now + std::chrono::seconds(1);
    }
  }

  spdlog::info("{} stopping: draining {} in-flight record(s)", options_.service, in_flight_);
  commits_->before_drain();
  if (!producer_->flush(options_.drain_timeout)) {
    spdlog::error("{} record(s) not acknowledged within {} ms; their input offsets stay uncommitted",
                  producer_->outstanding(), options_.drain_timeout.count());
    producer_->purge_and_report();
  }
  commits_->after_drain();
  consumer_->close();
  ready_ = false;
  spdlog::info("{} stopped (exit code {})", options_.service, exit_code_);
  return exit_code_;
}

void StageRunner::handle_message(RdKafka::Message& msg) {
  switch (msg.err()) {
    case RdKafka::ERR_NO_ERROR:
      break;
    case RdKafka::ERR__TIMED_OUT:
    case RdKafka::ERR__PARTITION_EOF:
      return;
    default:
      if (msg.err() == RdKafka::ERR__FATAL) {
        spdlog::critical("consumer fatal error: {}", msg.errstr());
        fail();
      } else {
        spdlog::warn("consumer: {}", msg.errstr());
      }
      return;
  }
  const std::string topic = msg.topic_name();
  const auto partition = msg.partition();
  const bool from_retry = topic == retry_topic_;
  if (from_retry && !pauses_.empty() && pauses_.paused(TopicPartitionKey{topic, partition})) {
    return;  // fetched before the pause took effect; it is read again after resume
  }
  auto progress = tracker_.find(topic, partition);
  if (!progress) {
    spdlog::debug("record from unassigned {}[{}] ignored", topic, partition);
    return;
  }
  const Input in = read_input(msg, topic, from_retry);
  if (from_retry && hold_until_due(in)) return;
  observer_.consumed(topic);
  commits_->begin_record();
  process(in, progress);
  commits_->end_record(TopicPartitionKey{topic, partition}, msg.offset() + 1);
}

StageRunner::Input StageRunner::read_input(const RdKafka::Message& msg, const std::string& topic,
                                           bool from_retry) {
  header_views(msg, header_views_, header_copies_);
  Input in{message_key(msg), RecordView{}, from_retry};
  auto& v = in.view;
  if (in.key) v.key = *in.key;
  v.value = std::string_view(static_cast<const char*>(msg.payload()), msg.len());
  v.headers = header_views_;
  v.topic = topic;
  v.partition = msg.partition();
  v.offset = msg.offset();
  v.source_topic = topic;
  if (from_retry) {
    v.source_topic = v.header(header::kOriginalTopic).value_or(topic);
    v.attempt = StageRouter::attempt_of(parse_int_header(v.header(header::kAttempt)));
  }
  return in;
}

bool StageRunner::hold_until_due(const Input& in) {
  const auto& v = in.view;
  const auto check = pauses_.check(TopicPartitionKey{std::string(v.topic), v.partition}, v.offset,
                                   parse_int_header(v.header(header::kNotBefore)), now_ms());
  if (check.due) return false;
  if (check.capped) {
    spdlog::warn(
        "{}[{}]@{}: x-not-before {} is later than any retry this service schedules; due at {} instead",
        v.topic, v.partition, v.offset, check.not_before, check.due_ms);
  }
  // Not due: park this partition at this record; other partitions and main topics go on.
  const std::string topic(v.topic);
  consumer_->pause(topic, v.partition);
  consumer_->seek(topic, v.partition, v.offset);
  observer_.retry_paused(pauses_.size());
  return true;
}

void StageRunner::process(const Input& in, const std::shared_ptr<PartitionProgress>& progress) {
  const auto& v = in.view;
  progress->begin(v.offset);
  ++in_flight_;
  auto ctx = std::make_unique<InFlight>(
      InFlight{progress, v.offset, 1, false, false, Outcome::Success, Clock::now()});

  const Origin first_read = order_.enabled() ? origin_of(in) : Origin{};  // key ordering
  const auto admit = order_.admit(v.partition, v.offset, in.key_ptr(), in.from_retry, first_read);
  if (admit.abandoned_first) {
    spdlog::warn(
        "{}[{}]@{}: the first pending record of this key never came round in {} (deleted by retention "
        "before it was read?): key ordering goes on with the next one",
        v.topic, v.partition, v.offset, retry_topic_);
  }
  switch (admit.admission) {
    case KeyOrder::Admission::Skip:
      // A stale copy: its input record lies past the group's committed offset and is processed again from
      // the input (restore_key_order). Consumed without processing and without an outcome.
      spdlog::debug("{}[{}]@{}: stale retry record skipped (its input is read again)", v.topic, v.partition,
                    v.offset);
      ctx->outcome = Outcome::Skipped;
      enqueued(std::move(ctx));
      return;
    case KeyOrder::Admission::Queue:
      queue_behind_key(*ctx, in);
      break;
    case KeyOrder::Admission::Process:
      run_handler(*ctx, in);
      break;
  }
  if (order_.enabled() && in.key) {
    order_.settle(v.partition, in.key_ptr(), in.from_retry, first_read, ctx->outcome);
    observer_.key_gate(order_.keys(), order_.overflowed());
  }
  enqueued(std::move(ctx));
}

void StageRunner::queue_behind_key(InFlight& ctx, const Input& in) {
  // An earlier record of this key is on the retry path (ahead of this one): queue behind it to keep per-key
  // order. Poison can never succeed and its order does not matter: dead-letter it now. The record is only
  // prepared (parsed), not processed: it is prepared again when read back from the retry topic.
  std::optional<Failure> poison = router_.check_size(in.view.value.size());
  if (!poison) {
    poison = guarded("prepare", in.view, [&] { return handler_.prepare(in.view); });
    if (poison && poison->error_class != ErrorClass::Poison) poison.reset();
  }
  if (poison) {
    route_failure(ctx, in, *poison);
    return;
  }
  auto plan = router_.park(route_input(in), now_ms());
  send_failure_record(ctx, in, plan);
}

void StageRunner::run_handler(InFlight& ctx, const Input& in) {
  // Size first (the handler never sees an oversized record), then one parse (prepare), then process.
  HandlerResult result;
  std::optional<Failure> failure = router_.check_size(in.view.value.size());
  if (!failure) failure = guarded("prepare", in.view, [&] { return handler_.prepare(in.view); });
  if (!failure) {
    failure = guarded("handler", in.view, [&]() -> std::optional<Failure> {
      result = handler_.process(in.view);
      return std::move(result.failure);
    });
  }
  observer_.processing_seconds(std::chrono::duration<double>(Clock::now() - ctx.started).count());
  if (failure) {
    route_failure(ctx, in, *failure);
  } else {
    publish(ctx, in, StageRouter::accept(std::move(result), in.view.headers));
  }
}

Origin StageRunner::origin_of(const Input& in) {
  const auto& v = in.view;
  Origin origin{std::string(v.source_topic), v.partition, v.offset};
  if (in.from_retry) {
    // Where the record was first read, from its x-original-* headers (source_topic is x-original-topic).
    origin.partition = static_cast<std::int32_t>(
        parse_int_header(v.header(header::kOriginalPartition)).value_or(origin.partition));
    origin.offset = parse_int_header(v.header(header::kOriginalOffset)).value_or(origin.offset);
  }
  return origin;
}

RouteInput StageRunner::route_input(const Input& in) {
  const auto& v = in.view;
  return RouteInput{origin_of(in), v.partition, v.attempt, v.value.size(),
                    Headers(v.headers.begin(), v.headers.end())};
}

void StageRunner::publish(InFlight& ctx, const Input& in, const Plan& plan) {
  ctx.outcome = plan.outcome;
  for (const auto& out : plan.outputs) {
    const std::string* k = out.key ? &*out.key : nullptr;
    if (!send(ctx, out.topic, k, out.value, out.headers)) {
      route_failure(ctx, in, Failure::poison("cannot publish the result to " + out.topic));
      break;
    }
  }
}

void StageRunner::route_failure(InFlight& ctx, const Input& in, const Failure& failure) {
  const RouteInput route = route_input(in);
  auto plan = router_.route_failure(route, failure, now_ms());
  const Origin& origin = route.origin;
  const int attempt = in.view.attempt;
  if (plan.outcome == Outcome::Retried) {
    spdlog::debug("retrying {}[{}]@{} (attempt {}): {}{}", origin.topic, origin.partition, origin.offset,
                  attempt, failure.message,
                  record_fields(origin.topic, origin.partition, origin.offset, in.view));
  } else {
    spdlog::warn("dead-lettering {}[{}]@{} to {} ({}, attempt {}): {}{}", origin.topic, origin.partition,
                 origin.offset, plan.failure->topic, to_string(plan.failure->error_class), attempt,
                 failure.message, record_fields(origin.topic, origin.partition, origin.offset, in.view));
  }
  send_failure_record(ctx, in, plan);
}

void StageRunner::send_failure_record(InFlight& ctx, const Input& in, Plan& plan) {
  ctx.outcome = plan.outcome;
  auto& record = *plan.failure;
  if (record.with_value) {
    if (send(ctx, record.topic, in.key_ptr(), in.view.value, record.headers, record.partition)) return;
    if (plan.outcome != Outcome::DeadLettered) {
      ctx.failed = true;
      return;
    }
    // The producer refused the copy (its size): a dead letter that cannot be written would stop the stage
    // on this record after every restart, so it goes without its value.
    StageRouter::without_value(record, in.view.value.size());
  }
  if (!send(ctx, record.topic, in.key_ptr(), std::string_view(), record.headers, record.partition))
    ctx.failed = true;
}

bool StageRunner::send(InFlight& ctx, const std::string& topic, const std::string* key,
                       std::string_view value, const Headers& headers, std::int32_t partition) {
  std::string error;
  ++ctx.remaining;
  if (producer_->produce(topic, key, value.data(), value.size(), headers, &ctx, &error, partition))
    return true;
  --ctx.remaining;
  if (producer_->interrupted_while_full()) {
    // Shutting down while the brokers do not take records: this output was never enqueued, so the record
    // stays uncommitted (like a purged output) and is read again after the restart.
    ctx.purged = true;
    return true;
  }
  spdlog::error("cannot produce to {}: {}", topic, error);
  return false;
}

void StageRunner::enqueued(std::unique_ptr<InFlight> ctx) {
  if (--ctx->remaining > 0) {
    // Outputs are on their way: their delivery reports own the context now, the last one completes it.
    [[maybe_unused]] InFlight* owned_by_reports = ctx.release();
    return;
  }
  complete(*ctx);
}

void StageRunner::complete(InFlight& ctx) {
  if (ctx.purged && !ctx.failed) {
    // Some output never reached the broker: leave the offset uncommitted so it is read again.
  } else if (ctx.failed) {
    // Could not even enqueue a dead letter: never commit past this record; stop so it is re-read.
    spdlog::critical("record {}[{}]@{} could not be published anywhere; stopping without committing it",
                     ctx.progress->topic(), ctx.progress->partition(), ctx.offset);
    fail();
  } else {
    ctx.progress->complete(ctx.offset);
    if (ctx.outcome != Outcome::Skipped) observer_.outcome(to_string(ctx.outcome));
  }
  --in_flight_;
}

void StageRunner::on_delivery(const DeliveryReport& r) {
  auto* ctx = static_cast<InFlight*>(r.context);
  if (ctx == nullptr) return;
  if (r.ok()) {
    observer_.produced(r.topic);
  } else if (r.err == RdKafka::ERR__PURGE_QUEUE || r.err == RdKafka::ERR__PURGE_INFLIGHT) {
    ctx->purged = true;  // shutdown purge: not an error, simply not committed
  } else {
    ctx->failed = true;
    spdlog::critical("delivery to {} failed permanently: {}", r.topic, r.error_text);
  }
  if (--ctx->remaining > 0) return;
  // The record's last report: the context was released to the reports by enqueued().
  const std::unique_ptr<InFlight> owned(ctx);
  complete(*owned);
}

void StageRunner::resume_due() {
  const auto due = pauses_.take_due(now_ms());
  for (const auto& tp : due) consumer_->resume(tp.topic, tp.partition);
  if (!due.empty()) observer_.retry_paused(pauses_.size());
}

bool StageRunner::flush_side_effects() {
  std::optional<std::string> error;
  try {
    error = handler_.before_commit();
  } catch (const std::exception& e) {
    error = e.what();
  }
  if (!error) return true;
  spdlog::critical(
      "{}: cannot make the handled records' side effects durable ({}); stopping without committing",
      options_.service, *error);
  fail();
  return false;
}

void StageRunner::report_lag() {
  for (const auto& tp : assigned_)
    observer_.lag(tp.topic, tp.partition, consumer_->lag(tp.topic, tp.partition));
}

void StageRunner::on_assigned(const std::vector<TopicPartitionKey>& partitions) {
  for (const auto& tp : partitions) {
    tracker_.assign(tp.topic, tp.partition);
    if (std::find(assigned_.begin(), assigned_.end(), tp) == assigned_.end()) assigned_.push_back(tp);
  }
  if (order_.enabled()) restore_key_order(partitions);
  ready_ = !assigned_.empty();
}

void StageRunner::restore_key_order(const std::vector<TopicPartitionKey>& partitions) {
  // Runs inside the assignment (rebalance callback, or after a rewind), so before any record of these
  // partitions is processed: which keys of retry partition p have records pending there, read from the
  // group's committed offset of p to its end. Without it a new owner would process a key's next input
  // record ahead of that key's records in retry.
  std::set<std::int32_t> retry_partitions;
  for (const auto& tp : partitions) {
    if (tp.topic == retry_topic_) retry_partitions.insert(tp.partition);
  }
  if (retry_partitions.empty()) return;
  const auto started = Clock::now();
  std::vector<TopicPartitionKey> ask;
  for (const auto p : retry_partitions) {
    ask.push_back(TopicPartitionKey{retry_topic_, p});
    for (const auto& t : options_.input_topics) ask.push_back(TopicPartitionKey{t, p});
  }
  const auto committed = consumer_->committed(ask, options_.drain_timeout);
  if (committed.empty()) {
    spdlog::error(
        "retry ordering: cannot read the group's committed offsets; keys with records in {} are not held "
        "back (their order may not hold)",
        retry_topic_);
  }
  std::map<std::int32_t, std::int64_t> from;
  std::map<std::int32_t, std::map<std::string, std::int64_t>> input_committed;
  for (const auto& c : committed) {
    if (c.topic == retry_topic_) {
      from[c.partition] = c.offset;
    } else {
      input_committed[c.partition][c.topic] = c.offset;
    }
  }
  std::map<std::int32_t, std::vector<RetryRecordInfo>> records;
  std::string error;
  if (!from.empty() &&
      !read_backlog(backlog_properties_, retry_topic_, from, options_.drain_timeout, records, &error)) {
    spdlog::error("retry ordering: reading {} back failed ({}); keys of records not read are not held back",
                  retry_topic_, error);
  }
  std::size_t read = 0;
  std::size_t skipped = 0;
  std::size_t pending = 0;
  for (const auto p : retry_partitions) {
    const auto& in_p = records[p];
    const auto restored = order_.restore(p, in_p, input_committed[p]);
    read += in_p.size();
    skipped += restored.stale;
    pending += restored.pending;
  }
  observer_.key_gate(order_.keys(), order_.overflowed());
  spdlog::info(
      "retry ordering: read {} record(s) of {} partition(s) of {} in {} ms: {} key(s) held by {} pending "
      "record(s), {} stale",
      read, retry_partitions.size(), retry_topic_,
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count(), order_.keys(),
      pending, skipped);
}

void StageRunner::on_revoking(const std::vector<TopicPartitionKey>& partitions, bool lost) {
  commits_->on_revoking(partitions, lost);
  for (const auto& tp : partitions) {
    tracker_.revoke(tp.topic, tp.partition);
    // Resumed before it goes: under an eager protocol (range, for key ordering) the partition may come
    // straight back, and it must not come back paused with no due time to resume it.
    if (pauses_.revoke(tp)) consumer_->resume(tp.topic, tp.partition);
    if (tp.topic == retry_topic_) order_.drop(tp.partition);
    commits_->revoked(tp);
    assigned_.erase(std::remove(assigned_.begin(), assigned_.end(), tp), assigned_.end());
    observer_.partition_revoked(tp.topic, tp.partition);
  }
  if (order_.enabled()) observer_.key_gate(order_.keys(), order_.overflowed());
  ready_ = !assigned_.empty();
}

void StageRunner::fail() {
  fatal_ = true;
  exit_code_ = 1;
}

RdKafka::ErrorCode StageRunner::commit_offsets(const std::vector<CommitOffset>& offsets, bool sync) {
  return consumer_->commit(offsets, sync);
}

void StageRunner::commit_result(bool ok) {
  observer_.commit_result(ok);
}

std::size_t StageRunner::drain_outputs() {
  if (producer_->flush(options_.drain_timeout)) return 0;
  return static_cast<std::size_t>(std::max(0, producer_->outstanding()));
}

namespace {

TxnStatus txn_call(const std::function<void()>& call) {
  try {
    call();
    return {};
  } catch (const TxnError& e) {
    return TxnStatus{e.fatal() ? TxnStatus::Kind::Fatal : TxnStatus::Kind::Failed, e.what()};
  }
}

}  // namespace

TxnStatus StageRunner::init_transactions() {
  return txn_call([this] { producer_->init_transactions(std::chrono::seconds(60)); });
}

TxnStatus StageRunner::begin_transaction() {
  return txn_call([this] { producer_->begin_transaction(); });
}

TxnStatus StageRunner::commit_transaction(const std::vector<CommitOffset>& offsets) {
  return txn_call([&] {
    if (!offsets.empty()) {
      TopicPartitionList list;
      list.reserve(offsets.size());
      for (const auto& o : offsets) list.add(o.topic, o.partition, o.offset);
      const std::unique_ptr<RdKafka::ConsumerGroupMetadata> group(consumer_->handle().groupMetadata());
      producer_->send_offsets_to_transaction(list.items(), group.get(), std::chrono::seconds(30));
    }
    producer_->commit_transaction(std::chrono::seconds(60));
  });
}

TxnStatus StageRunner::abort_transaction() {
  return txn_call([this] { producer_->abort_transaction(std::chrono::seconds(60)); });
}

void StageRunner::rewind() {
  producer_->poll(std::chrono::milliseconds(0));
  // Re-read everything after the last committed offsets, with fresh bookkeeping.
  const auto committed = consumer_->committed(std::chrono::seconds(10));
  for (const auto& c : committed) {
    tracker_.revoke(c.topic, c.partition);
    tracker_.assign(c.topic, c.partition);
    consumer_->seek(c.topic, c.partition, c.offset >= 0 ? c.offset : RdKafka::Topic::OFFSET_BEGINNING);
  }
  for (const auto& tp : pauses_.clear()) consumer_->resume(tp.topic, tp.partition);
  order_.clear();
  if (order_.enabled()) restore_key_order(assigned_);
  handler_.on_rewind();
}

}  // namespace orderflow::messaging
