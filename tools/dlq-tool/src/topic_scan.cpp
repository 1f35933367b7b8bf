#include "orderflow/dlq/topic_scan.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>

namespace orderflow::dlq {

namespace {

using Clock = std::chrono::steady_clock;

int to_ms(std::chrono::milliseconds d) {
  return static_cast<int>(std::max<std::int64_t>(1, d.count()));
}

// A tool's short-lived scan: connection drops are retried by librdkafka and a stalled scan reports itself
// by timeout, so only a fatal error is shown at the default level.
constexpr messaging::ClientLogLevels kLogLevels{.fatal_error = messaging::EventLogLevel::Error,
                                                .error = messaging::EventLogLevel::Debug,
                                                .log_warning = messaging::EventLogLevel::Debug,
                                                .log = messaging::EventLogLevel::Debug};

}  // namespace

// Records the outcome of the one commit in flight; called from consume() on the owner's thread.
class TopicScan::CommitBridge : public RdKafka::OffsetCommitCb {
 public:
  void offset_commit_cb(RdKafka::ErrorCode err, std::vector<RdKafka::TopicPartition*>& offsets) override {
    done_ = true;
    if (err != RdKafka::ERR_NO_ERROR) failure_ = RdKafka::err2str(err);
    for (const auto* tp : offsets) {
      if (tp->err() != RdKafka::ERR_NO_ERROR) {
        failure_ += fmt::format("{}[{}]: {}", failure_.empty() ? "" : "; ", tp->partition(),
                                RdKafka::err2str(tp->err()));
      }
    }
  }
  void reset() {
    done_ = false;
    failure_.clear();
  }
  [[nodiscard]] bool done() const { return done_; }
  [[nodiscard]] const std::string& failure() const { return failure_; }

 private:
  bool done_ = false;
  std::string failure_;
};

TopicScan::TopicScan(ScanOptions options)
    : KafkaClient(messaging::ClientKind::Consumer, kLogLevels),
      options_(std::move(options)),
      commits_(std::make_unique<CommitBridge>()) {
  messaging::KafkaProperties props;
  props.set("group.id", options_.group_id);
  props.set("enable.auto.commit", "false");
  props.set("enable.auto.offset.store", "false");
  props.set("enable.partition.eof", "true");
  props.set("auto.offset.reset", "earliest");
  // Dead letters of a transactional (exactly-once) service: aborted ones were never really written.
  props.set("isolation.level", "read_committed");
  props.set("allow.auto.create.topics", "false");
  props.set("fetch.wait.max.ms", "100");
  for (const auto& [k, v] : options_.kafka.entries()) props.set(k, v);
  auto conf = make_client_conf(props);
  set_callback<RdKafka::OffsetCommitCb>(*conf, "offset_commit_cb", commits_.get());
  consumer_ = messaging::create_consumer(*conf);
  assign();
}

TopicScan::~TopicScan() {
  if (consumer_) consumer_->close();
}

std::string TopicScan::bootstrap() const {
  const auto* s = options_.kafka.find("bootstrap.servers");
  return s != nullptr ? *s : std::string("?");
}

void TopicScan::assign() {
  const auto deadline = Clock::now() + options_.timeout;
  const auto left = [&] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  };
  // All-topics metadata: asking for the one topic would make librdkafka's mock cluster create it
  // (it ignores allow.auto.create.topics), and a typo in --topic must not create a topic.
  std::vector<std::int32_t> partitions;
  std::string problem = "no metadata";
  do {
    RdKafka::Metadata* raw = nullptr;
    const auto rc =
        consumer_->metadata(true, nullptr, &raw, to_ms(std::min(left(), std::chrono::milliseconds(2000))));
    std::unique_ptr<RdKafka::Metadata> md(raw);
    if (rc != RdKafka::ERR_NO_ERROR) {
      problem = RdKafka::err2str(rc);
      continue;
    }
    const auto& topics = *md->topics();
    const auto it = std::find_if(topics.begin(), topics.end(), [&](const RdKafka::TopicMetadata* t) {
      return t->topic() == options_.topic;
    });
    if (it == topics.end()) {
      throw ScanError(fmt::format("topic '{}' does not exist on {}", options_.topic, bootstrap()));
    }
    if ((*it)->err() != RdKafka::ERR_NO_ERROR || (*it)->partitions()->empty()) {
      problem = RdKafka::err2str((*it)->err());  // e.g. leader not yet elected: ask again
      continue;
    }
    for (const auto* p : *(*it)->partitions()) partitions.push_back(p->id());
    break;
  } while (left().count() > 0);
  if (partitions.empty()) {
    throw ScanError(
        fmt::format("cannot read the partitions of '{}' from {}: {}", options_.topic, bootstrap(), problem));
  }
  std::sort(partitions.begin(), partitions.end());

  std::map<std::int32_t, std::int64_t> committed;
  if (options_.from_committed) {
    messaging::TopicPartitionList list;
    for (const auto p : partitions) list.add(options_.topic, p);
    const auto rc =
        consumer_->committed(list.items(), to_ms(std::max(left(), std::chrono::milliseconds(1000))));
    if (rc != RdKafka::ERR_NO_ERROR) {
      throw ScanError(fmt::format("cannot read the committed offsets of group '{}' on {}: {}",
                                  options_.group_id, bootstrap(), RdKafka::err2str(rc)));
    }
    for (const auto* tp : list) {
      if (tp->err() != RdKafka::ERR_NO_ERROR) {
        throw ScanError(fmt::format("cannot read the committed offset of group '{}' for {} [{}]: {}",
                                    options_.group_id, options_.topic, tp->partition(),
                                    RdKafka::err2str(tp->err())));
      }
      if (tp->offset() >= 0) committed[tp->partition()] = tp->offset();
    }
  }

  messaging::TopicPartitionList to_assign;
  for (const auto p : partitions) {
    std::int64_t low = 0;
    std::int64_t high = 0;
    const auto rc = consumer_->query_watermark_offsets(
        options_.topic, p, &low, &high, to_ms(std::max(left(), std::chrono::milliseconds(1000))));
    if (rc != RdKafka::ERR_NO_ERROR) {
      throw ScanError(fmt::format("cannot read the end offsets of {} [{}] from {}: {}", options_.topic, p,
                                  bootstrap(), RdKafka::err2str(rc)));
    }
    PartitionRange r{p, low, high};
    // A committed offset below the low watermark points at records retention already removed.
    if (const auto c = committed.find(p); c != committed.end()) r.start = std::max(low, c->second);
    ranges_.push_back(r);
    if (r.start < r.end) {
      due_[p] = r.end;
      to_assign.add(options_.topic, p, r.start);
    }
  }
  if (!to_assign.empty()) {
    const auto rc = consumer_->assign(to_assign.items());
    if (rc != RdKafka::ERR_NO_ERROR) {
      throw ScanError(
          fmt::format("cannot assign the partitions of '{}': {}", options_.topic, RdKafka::err2str(rc)));
    }
  }
}

void TopicScan::mark_done(std::int32_t partition) {
  if (due_.erase(partition) == 0) return;
  // Stop fetching what would only be thrown away.
  messaging::TopicPartitionList list;
  list.add(options_.topic, partition);
  consumer_->pause(list.items());
}

void TopicScan::stop_partition(std::int32_t partition) {
  mark_done(partition);
}

bool TopicScan::accept(const RdKafka::Message& msg, Clock::time_point& last_progress) {
  switch (msg.err()) {
    case RdKafka::ERR_NO_ERROR: {
      const auto it = due_.find(msg.partition());
      if (it == due_.end()) return false;  // a partition already done (records fetched before the pause)
      last_progress = Clock::now();
      if (msg.offset() >= it->second) {
        mark_done(msg.partition());
        return false;
      }
      if (msg.offset() + 1 >= it->second) mark_done(msg.partition());
      return true;
    }
    case RdKafka::ERR__PARTITION_EOF:
      // The end of what is readable: the high watermark, or below it under read_committed while a
      // transaction is still open (its records are not readable yet).
      mark_done(msg.partition());
      last_progress = Clock::now();
      return false;
    case RdKafka::ERR__TIMED_OUT:
      return false;
    default:
      if (messaging::is_permanent_error(msg.err())) {
        throw ScanError(
            fmt::format("reading {} [{}] failed: {}", options_.topic, msg.partition(), msg.errstr()));
      }
      spdlog::debug("reading {}: {}", options_.topic, msg.errstr());
      return false;
  }
}

std::unique_ptr<RdKafka::Message> TopicScan::next(const std::atomic<bool>* stop) {
  if (!buffered_.empty()) {
    auto msg = std::move(buffered_.front());
    buffered_.pop_front();
    return msg;
  }
  auto last_progress = Clock::now();
  while (!due_.empty()) {
    if (stop != nullptr && stop->load()) return nullptr;
    std::unique_ptr<RdKafka::Message> msg(consumer_->consume(100));
    if (accept(*msg, last_progress)) return msg;
    if (Clock::now() - last_progress > options_.timeout) {
      std::string waiting;
      for (const auto& [p, end] : due_)
        waiting += fmt::format("{}{} (end {})", waiting.empty() ? "" : ", ", p, end);
      throw ScanError(fmt::format("no records from {} on {} for {} ms; still expecting partitions {}",
                                  options_.topic, bootstrap(), options_.timeout.count(), waiting));
    }
  }
  return nullptr;
}

void TopicScan::commit(const std::map<std::int32_t, std::int64_t>& next_offsets) {
  if (next_offsets.empty()) return;
  messaging::TopicPartitionList list;
  for (const auto& [p, offset] : next_offsets) list.add(options_.topic, p, offset);
  // Asynchronous commit served by consume(): commitSync() has no timeout and would wait forever for
  // a coordinator that is gone.
  commits_->reset();
  const auto rc = consumer_->commitAsync(list.items());
  if (rc != RdKafka::ERR_NO_ERROR) {
    throw ScanError(fmt::format("committing the progress of group '{}' on {} failed: {}", options_.group_id,
                                bootstrap(), RdKafka::err2str(rc)));
  }
  const auto deadline = Clock::now() + options_.timeout;
  auto last_progress = Clock::now();
  while (!commits_->done()) {
    if (Clock::now() > deadline) {
      throw ScanError(fmt::format("committing the progress of group '{}' on {}: no answer within {} ms",
                                  options_.group_id, bootstrap(), options_.timeout.count()));
    }
    std::unique_ptr<RdKafka::Message> msg(consumer_->consume(100));
    if (accept(*msg, last_progress)) buffered_.push_back(std::move(msg));
  }
  if (const auto failed = commits_->failure(); !failed.empty()) {
    throw ScanError(fmt::format("committing the progress of group '{}' on {} failed: {}", options_.group_id,
                                bootstrap(), failed));
  }
}

}  // namespace orderflow::dlq
