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
                          const RdKafka::Message& msg) {
  std::string scratch;
  if (const auto order_id = header_value(msg, header::kCorrelationId, scratch);
      order_id && !order_id->empty()) {
    return log_fields(
        {{"topic", topic}, {"partition", partition}, {"offset", offset}, {"order_id", *order_id}});
  }
  return log_fields({{"topic", topic}, {"partition", partition}, {"offset", offset}});
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
      order_(options_.retry_ordering == RetryOrdering::Key, options_.key_gate_max_keys) {
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
    if (!paused_.empty()) {
      const auto now = now_ms();
      for (const auto& [tp, due] : paused_) {
        timeout = std::min(timeout, std::chrono::milliseconds(std::max<std::int64_t>(0, due - now)));
      }
    }
    auto msg = consumer_->poll(timeout);
    producer_->poll(std::chrono::milliseconds(0));
    if (msg) handle_message(*msg);
    if (!paused_.empty()) resume_due();
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
  const std::string& topic = msg.topic_name();
  const auto partition = msg.partition();
  const bool from_retry = topic == retry_topic_;
  if (from_retry && !paused_.empty() && paused_.count(TopicPartitionKey{topic, partition}) > 0) {
    return;  // fetched before the pause took effect; it is read again after resume
  }
  auto progress = tracker_.find(topic, partition);
  if (!progress) {
    spdlog::debug("record from unassigned {}[{}] ignored", topic, partition);
    return;
  }
  if (from_retry) {
    auto not_before = parse_int_header(find_header(msg, header::kNotBefore));
    const auto now = now_ms();
    const TopicPartitionKey tp{topic, partition};
    if (auto capped = capped_.find(tp); capped != capped_.end()) {
      // This record's far-future x-not-before was capped and its capped wait is over: it is due now.
      if (capped->second == msg.offset()) not_before.reset();
      capped_.erase(capped);
    }
    if (not_before && *not_before > now) {
      // The header is input like any other: no retry we write is due later than now + the longest
      // backoff of the policy, so a forged far-future x-not-before parks the partition no longer than that.
      const auto latest = router_.latest_not_before(now);
      if (*not_before > latest) {
        spdlog::warn(
            "{}[{}]@{}: x-not-before {} is later than any retry this service schedules; due at {} instead",
            topic, partition, msg.offset(), *not_before, latest);
        not_before = latest;
        capped_[tp] = msg.offset();
      }
      // Not due: park this partition at this record; other partitions and main topics go on.
      consumer_->pause(topic, partition);
      consumer_->seek(topic, partition, msg.offset());
      paused_[TopicPartitionKey{topic, partition}] = *not_before;
      observer_.retry_paused(paused_.size());
      return;
    }
  }
  observer_.consumed(topic);
  commits_->begin_record();
  process(msg, progress, from_retry);
  commits_->end_record(TopicPartitionKey{topic, partition}, msg.offset() + 1);
}

void StageRunner::process(RdKafka::Message& msg, const std::shared_ptr<PartitionProgress>& progress,
                          bool from_retry) {
  progress->begin(msg.offset());
  ++in_flight_;
  auto ctx = std::make_unique<InFlight>(
      InFlight{progress, msg.offset(), 1, false, false, Outcome::Success, Clock::now()});

  const auto key = message_key(msg);
  const std::string* key_ptr = key ? &*key : nullptr;
  std::string_view value(static_cast<const char*>(msg.payload()), msg.len());
  const int attempt = StageRouter::attempt_of(
      from_retry ? parse_int_header(find_header(msg, header::kAttempt)) : std::nullopt);
  std::string source_topic = msg.topic_name();
  if (from_retry) source_topic = find_header(msg, header::kOriginalTopic).value_or(source_topic);
  const InputRecord record{msg, source_topic, value, key_ptr, attempt};

  const auto partition = msg.partition();
  const Origin first_read = order_.enabled() ? origin_of(msg, from_retry) : Origin{};  // key ordering
  const auto admit = order_.admit(partition, msg.offset(), key_ptr, from_retry, first_read);
  if (admit.abandoned_first) {
    spdlog::warn(
        "{}[{}]@{}: the first pending record of this key never came round in {} (deleted by retention "
        "before it was read?): key ordering goes on with the next one",
        msg.topic_name(), partition, msg.offset(), retry_topic_);
  }
  switch (admit.admission) {
    case KeyOrder::Admission::Skip:
      // A stale copy: its input record lies past the group's committed offset and is processed again from
      // the input (restore_key_order). Consumed without processing and without an outcome.
      spdlog::debug("{}[{}]@{}: stale retry record skipped (its input is read again)", msg.topic_name(),
                    partition, msg.offset());
      ctx->outcome = Outcome::Skipped;
      enqueued(std::move(ctx));
      return;
    case KeyOrder::Admission::Queue:
      queue_behind_key(*ctx, msg, from_retry, record);
      break;
    case KeyOrder::Admission::Process:
      run_handler(*ctx, msg, from_retry, record);
      break;
  }
  if (order_.enabled() && key_ptr != nullptr) {
    order_.settle(partition, key_ptr, from_retry, first_read, ctx->outcome);
    observer_.key_gate(order_.keys(), order_.overflowed());
  }
  enqueued(std::move(ctx));
}

void StageRunner::queue_behind_key(InFlight& ctx, const RdKafka::Message& msg, bool from_retry,
                                   const InputRecord& record) {
  // An earlier record of this key is on the retry path (ahead of this one): queue behind it to keep per-key
  // order. Poison can never succeed and its order does not matter: dead-letter it now.
  std::optional<Failure> poison = router_.check_size(record.value.size());
  if (!poison) {
    try {
      poison = handler_.precheck(record);
    } catch (const std::exception& e) {
      spdlog::warn("precheck error on {}[{}]@{}: {}", msg.topic_name(), msg.partition(), msg.offset(),
                   e.what());
    } catch (...) {
      spdlog::warn("precheck error on {}[{}]@{}: an exception not derived from std::exception",
                   msg.topic_name(), msg.partition(), msg.offset());
    }
    if (poison && poison->error_class != ErrorClass::Poison) poison.reset();
  }
  if (poison) {
    route_failure(ctx, msg, from_retry, record.attempt, *poison);
    return;
  }
  auto plan = router_.park(route_input(msg, from_retry, record.attempt), now_ms());
  send_failure_record(ctx, msg, plan);
}

void StageRunner::run_handler(InFlight& ctx, const RdKafka::Message& msg, bool from_retry,
                              const InputRecord& record) {
  HandlerResult result;
  if (auto too_big = router_.check_size(record.value.size())) {
    result = HandlerResult::fail(std::move(*too_big));
  } else {
    try {
      result = handler_.handle(record);
    } catch (const std::exception& e) {
      spdlog::warn("handler error on {}[{}]@{}: {}{}", msg.topic_name(), msg.partition(), msg.offset(),
                   e.what(), record_fields(msg.topic_name(), msg.partition(), msg.offset(), msg));
      result = HandlerResult::fail(Failure::transient(std::string("unexpected error: ") + e.what()));
    } catch (...) {
      // Not a std::exception (a thrown int, a foreign library's type): still transient, never a crash.
      spdlog::warn("handler error on {}[{}]@{}: an exception not derived from std::exception{}",
                   msg.topic_name(), msg.partition(), msg.offset(),
                   record_fields(msg.topic_name(), msg.partition(), msg.offset(), msg));
      result = HandlerResult::fail(
          Failure::transient("unexpected error: an exception not derived from std::exception"));
    }
  }
  observer_.processing_seconds(std::chrono::duration<double>(Clock::now() - ctx.started).count());
  if (result.failure) {
    route_failure(ctx, msg, from_retry, record.attempt, *result.failure);
  } else {
    publish(ctx, msg, from_retry, record.attempt, StageRouter::accept(std::move(result)));
  }
}

Origin StageRunner::origin_of(const RdKafka::Message& msg, bool from_retry) const {
  Origin origin{msg.topic_name(), msg.partition(), msg.offset()};
  if (from_retry) {
    origin.topic = find_header(msg, header::kOriginalTopic).value_or(origin.topic);
    origin.partition = static_cast<std::int32_t>(
        parse_int_header(find_header(msg, header::kOriginalPartition)).value_or(origin.partition));
    origin.offset = parse_int_header(find_header(msg, header::kOriginalOffset)).value_or(origin.offset);
  }
  return origin;
}

RouteInput StageRunner::route_input(const RdKafka::Message& msg, bool from_retry, int attempt) const {
  return RouteInput{origin_of(msg, from_retry), msg.partition(), attempt, msg.len(), all_headers(msg)};
}

void StageRunner::publish(InFlight& ctx, const RdKafka::Message& msg, bool from_retry, int attempt,
                          const Plan& plan) {
  ctx.outcome = plan.outcome;
  for (const auto& out : plan.outputs) {
    const std::string* k = out.key ? &*out.key : nullptr;
    if (!send(ctx, out.topic, k, out.value, out.headers)) {
      route_failure(ctx, msg, from_retry, attempt,
                    Failure::poison("cannot publish the result to " + out.topic));
      break;
    }
  }
}

void StageRunner::route_failure(InFlight& ctx, const RdKafka::Message& msg, bool from_retry, int attempt,
                                const Failure& failure) {
  const RouteInput in = route_input(msg, from_retry, attempt);
  auto plan = router_.route_failure(in, failure, now_ms());
  const Origin& origin = in.origin;
  if (plan.outcome == Outcome::Retried) {
    spdlog::debug("retrying {}[{}]@{} (attempt {}): {}{}", origin.topic, origin.partition, origin.offset,
                  attempt, failure.message,
                  record_fields(origin.topic, origin.partition, origin.offset, msg));
  } else {
    spdlog::warn("dead-lettering {}[{}]@{} to {} ({}, attempt {}): {}{}", origin.topic, origin.partition,
                 origin.offset, plan.failure->topic, to_string(plan.failure->error_class), attempt,
                 failure.message, record_fields(origin.topic, origin.partition, origin.offset, msg));
  }
  send_failure_record(ctx, msg, plan);
}

void StageRunner::send_failure_record(InFlight& ctx, const RdKafka::Message& msg, Plan& plan) {
  ctx.outcome = plan.outcome;
  auto& record = *plan.failure;
  const auto key = message_key(msg);
  const std::string* key_ptr = key ? &*key : nullptr;
  if (record.with_value) {
    if (send(ctx, record.topic, key_ptr, std::string_view(static_cast<const char*>(msg.payload()), msg.len()),
             record.headers, record.partition)) {
      return;
    }
    if (plan.outcome != Outcome::DeadLettered) {
      ctx.failed = true;
      return;
    }
    // The producer refused the copy (its size): a dead letter that cannot be written would stop the stage
    // on this record after every restart, so it goes without its value.
    StageRouter::without_value(record, msg.len());
  }
  if (!send(ctx, record.topic, key_ptr, std::string_view(), record.headers, record.partition))
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
  const auto now = now_ms();
  const auto before = paused_.size();
  for (auto it = paused_.begin(); it != paused_.end();) {
    if (it->second <= now) {
      consumer_->resume(it->first.topic, it->first.partition);
      it = paused_.erase(it);
    } else {
      ++it;
    }
  }
  if (paused_.size() != before) observer_.retry_paused(paused_.size());
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
    if (paused_.erase(tp) > 0) consumer_->resume(tp.topic, tp.partition);
    if (tp.topic == retry_topic_) order_.drop(tp.partition);
    capped_.erase(tp);
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
  for (const auto& [tp, due] : paused_) consumer_->resume(tp.topic, tp.partition);
  paused_.clear();
  capped_.clear();
  order_.clear();
  if (order_.enabled()) restore_key_order(assigned_);
  handler_.on_rewind();
}

}  // namespace orderflow::messaging
