#include "orderflow/messaging/consumer.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <cstdint>

#include "fetch_nudger.h"

namespace orderflow::messaging {

namespace {

// A producer's levels, except that librdkafka's lines below warning are not forwarded at all.
constexpr ClientLogLevels kLogLevels{.log = EventLogLevel::Off};

std::vector<TopicPartitionKey> keys_of(const std::vector<RdKafka::TopicPartition*>& parts) {
  std::vector<TopicPartitionKey> out;
  out.reserve(parts.size());
  for (const auto* p : parts) out.push_back(TopicPartitionKey{p->topic(), p->partition()});
  return out;
}

}  // namespace

class Consumer::RebalanceBridge : public RdKafka::RebalanceCb {
 public:
  explicit RebalanceBridge(RebalanceListener& listener) : listener_(listener) {}

  void rebalance_cb(RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err,
                    std::vector<RdKafka::TopicPartition*>& partitions) override {
    const bool cooperative = consumer->rebalance_protocol() == "COOPERATIVE";
    if (err == RdKafka::ERR__ASSIGN_PARTITIONS) {
      spdlog::info("partitions assigned: {} ({} protocol)", describe(partitions),
                   cooperative ? "cooperative" : "eager");
      if (cooperative) {
        std::unique_ptr<RdKafka::Error> e(consumer->incremental_assign(partitions));
        if (e) spdlog::error("incremental_assign failed: {}", e->str());
      } else {
        consumer->assign(partitions);
      }
      listener_.on_assigned(keys_of(partitions));
    } else if (err == RdKafka::ERR__REVOKE_PARTITIONS) {
      const bool lost = consumer->assignment_lost();
      spdlog::info("partitions {}: {}", lost ? "lost" : "revoked", describe(partitions));
      listener_.on_revoking(keys_of(partitions), lost);
      if (cooperative) {
        std::unique_ptr<RdKafka::Error> e(consumer->incremental_unassign(partitions));
        if (e) spdlog::error("incremental_unassign failed: {}", e->str());
      } else {
        consumer->unassign();
      }
    } else {
      spdlog::error("rebalance error: {}", RdKafka::err2str(err));
      consumer->unassign();
    }
  }

 private:
  static std::string describe(const std::vector<RdKafka::TopicPartition*>& parts) {
    std::string s;
    for (const auto* p : parts) {
      if (!s.empty()) s += ',';
      s += p->topic() + "[" + std::to_string(p->partition()) + "]";
    }
    return s.empty() ? "(none)" : s;
  }
  RebalanceListener& listener_;
};

class Consumer::CommitBridge : public RdKafka::OffsetCommitCb {
 public:
  std::function<void(RdKafka::ErrorCode, const std::vector<CommitOffset>&)> handler;
  void offset_commit_cb(RdKafka::ErrorCode err, std::vector<RdKafka::TopicPartition*>& offsets) override {
    if (!handler) return;
    std::vector<CommitOffset> out;
    out.reserve(offsets.size());
    for (const auto* p : offsets) {
      out.push_back(CommitOffset{p->topic(), p->partition(), p->offset()});
      if (err == RdKafka::ERR_NO_ERROR && p->err() != RdKafka::ERR_NO_ERROR) err = p->err();
    }
    handler(err, out);
  }
};

KafkaProperties consumer_properties(const ConsumerOptions& options) {
  return consumer_properties(options, RdKafka::version());
}

KafkaProperties consumer_properties(const ConsumerOptions& options, int librdkafka_version) {
  KafkaProperties p = client_defaults();
  p.set("enable.auto.commit", "false");
  p.set("enable.auto.offset.store", "false");
  p.set("auto.offset.reset", "earliest");
  p.set("partition.assignment.strategy", options.assignment_strategy);
  p.set("enable.partition.eof", "false");
  // The prefetch queue is most of a service's peak memory on a backlog. librdkafka looks at a full queue
  // again only after fetch.queue.backoff.ms (2.2+; we set 10 ms) or, before 2.2, when its broker thread
  // next wakes (about once a second; FetchNudger wakes it while the queue drains). Either way 20 MiB keeps
  // a stage fed: payment-service drains a backlog as fast as with 64 MiB at ≈ 35-40 MiB less peak RSS
  // (README, "Producer and consumer settings, and why").
  p.set("queued.max.messages.kbytes", "20480");
  if (librdkafka_version >= FetchNudger::kFetchQueueBackoffSince) p.set("fetch.queue.backoff.ms", "10");
  set_statistics_default(p, options.on_stats);
  for (const auto& [k, v] : options.properties.entries()) p.set(k, v);
  if (p.find("fetch.max.bytes") == nullptr) {
    // The queue limit is checked before a fetch, and one fetch response may add up to fetch.max.bytes
    // (50 MiB by default) on top: with large batches on the topic, payment-service peaked at 78 MiB
    // instead of 58. librdkafka requires fetch.max.bytes >= message.max.bytes.
    std::int64_t fetch_max = std::int64_t{2} * 1024 * 1024;
    if (const auto* mmb = p.find("message.max.bytes")) {
      std::int64_t v = 0;
      const auto [end, ec] = std::from_chars(mmb->data(), mmb->data() + mmb->size(), v);
      if (ec == std::errc() && end == mmb->data() + mmb->size()) fetch_max = std::max(fetch_max, v);
    }
    p.set("fetch.max.bytes", std::to_string(fetch_max));
  }
  p.set("group.id", options.group_id);
  if (options.read_committed) p.set("isolation.level", "read_committed");
  if (const auto* ac = p.find("enable.auto.commit"); ac != nullptr && *ac == "true") {
    throw ConfigError("enable.auto.commit=true is not allowed: offsets are committed after delivery");
  }
  return p;
}

Consumer::Consumer(const ConsumerOptions& options, RebalanceListener& listener)
    : KafkaClient(ClientKind::Consumer, kLogLevels, options.on_stats),
      options_(options),
      rebalance_(std::make_unique<RebalanceBridge>(listener)),
      commits_(std::make_unique<CommitBridge>()) {
  auto conf = make_client_conf(consumer_properties(options));
  set_callback<RdKafka::RebalanceCb>(*conf, "rebalance_cb", rebalance_.get());
  set_callback<RdKafka::OffsetCommitCb>(*conf, "offset_commit_cb", commits_.get());
  consumer_ = create_consumer(*conf);
}

void Consumer::check_config(const ConsumerOptions& options, bool log_warnings) {
  check_client_config(ClientKind::Consumer, consumer_properties(options), log_warnings);
}

Consumer::~Consumer() {
  close();
}

void Consumer::subscribe() {
  const auto err = consumer_->subscribe(options_.topics);
  if (err != RdKafka::ERR_NO_ERROR) {
    throw ConfigError("subscribe failed: " + RdKafka::err2str(err));
  }
  if (!nudger_ && options_.fetch_nudge_interval.count() > 0 &&
      RdKafka::version() < FetchNudger::kFetchQueueBackoffSince) {
    // Only while at least 32 records arrive per interval (1,600/s at 20 ms): at a trickle the queue never
    // fills, and nothing is sent. At that rate and above, one ListOffsets request per interval is noise.
    nudger_ = std::make_unique<FetchNudger>(*consumer_, options_.fetch_nudge_interval, 32);
  }
}

std::uint64_t Consumer::fetch_nudges() const {
  return nudger_ ? nudger_->nudges() : 0;
}

std::unique_ptr<RdKafka::Message> Consumer::poll(std::chrono::milliseconds timeout) {
  std::unique_ptr<RdKafka::Message> msg(consumer_->consume(static_cast<int>(timeout.count())));
  if (nudger_ && msg && msg->err() == RdKafka::ERR_NO_ERROR) nudger_->consumed();
  return msg;
}

RdKafka::ErrorCode Consumer::commit(const std::vector<CommitOffset>& offsets, bool sync) {
  if (offsets.empty()) return RdKafka::ERR_NO_ERROR;
  TopicPartitionList list;
  list.reserve(offsets.size());
  for (const auto& c : offsets) list.add(c.topic, c.partition, c.offset);
  auto err = sync ? consumer_->commitSync(list.items()) : consumer_->commitAsync(list.items());
  if (sync && err == RdKafka::ERR_NO_ERROR) {
    for (const auto* p : list) {
      if (p->err() != RdKafka::ERR_NO_ERROR) err = p->err();
    }
  }
  return err;
}

void Consumer::on_async_commit(std::function<void(RdKafka::ErrorCode, const std::vector<CommitOffset>&)> cb) {
  commits_->handler = std::move(cb);
}

void Consumer::pause(const std::string& topic, std::int32_t partition) {
  TopicPartitionList list;
  list.add(topic, partition);
  consumer_->pause(list.items());
}

void Consumer::resume(const std::string& topic, std::int32_t partition) {
  TopicPartitionList list;
  list.add(topic, partition);
  consumer_->resume(list.items());
}

void Consumer::seek(const std::string& topic, std::int32_t partition, std::int64_t offset) {
  std::unique_ptr<RdKafka::TopicPartition> tp(RdKafka::TopicPartition::create(topic, partition, offset));
  const auto err = consumer_->seek(*tp, 0);
  if (err != RdKafka::ERR_NO_ERROR) {
    spdlog::warn("seek {}[{}] to {} failed: {}", topic, partition, offset, RdKafka::err2str(err));
  }
}

std::vector<CommitOffset> Consumer::committed(std::chrono::milliseconds timeout) {
  TopicPartitionList list;
  consumer_->assignment(list.items());
  std::vector<CommitOffset> out;
  if (list.empty()) return out;
  if (consumer_->committed(list.items(), static_cast<int>(timeout.count())) != RdKafka::ERR_NO_ERROR) {
    return out;
  }
  for (const auto* p : list) out.push_back(CommitOffset{p->topic(), p->partition(), p->offset()});
  return out;
}

std::vector<CommitOffset> Consumer::committed(const std::vector<TopicPartitionKey>& partitions,
                                              std::chrono::milliseconds timeout) {
  TopicPartitionList list;
  for (const auto& tp : partitions) list.add(tp.topic, tp.partition);
  std::vector<CommitOffset> out;
  if (list.empty()) return out;
  if (consumer_->committed(list.items(), static_cast<int>(timeout.count())) != RdKafka::ERR_NO_ERROR)
    return out;
  for (const auto* p : list) {
    out.push_back(
        CommitOffset{p->topic(), p->partition(), p->err() == RdKafka::ERR_NO_ERROR ? p->offset() : -1});
  }
  return out;
}

std::int64_t Consumer::lag(const std::string& topic, std::int32_t partition) {
  std::int64_t low = 0;
  std::int64_t high = 0;
  if (consumer_->get_watermark_offsets(topic, partition, &low, &high) != RdKafka::ERR_NO_ERROR || high < 0) {
    return -1;
  }
  TopicPartitionList list;
  list.add(topic, partition);
  consumer_->position(list.items());
  const auto pos = list.items().front()->offset();
  if (pos < 0) return high - low;
  return std::max<std::int64_t>(0, high - pos);
}

void Consumer::close() {
  if (nudger_) nudger_->stop();
  if (closed_ || !consumer_) return;
  closed_ = true;
  const auto err = consumer_->close();
  if (err != RdKafka::ERR_NO_ERROR) spdlog::warn("consumer close: {}", RdKafka::err2str(err));
}

}  // namespace orderflow::messaging
