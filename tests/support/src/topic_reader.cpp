#include "orderflow/testing/topic_reader.h"

#include <fmt/format.h>
#include <librdkafka/rdkafkacpp.h>

#include <algorithm>
#include <iterator>
#include <stdexcept>
#include <thread>

#include "orderflow/testing/paths.h"

namespace orderflow::testing {

namespace {

using Clock = std::chrono::steady_clock;

std::chrono::milliseconds remaining(Clock::time_point deadline) {
  return std::max(std::chrono::milliseconds(0),
                  std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()));
}

Record to_record(RdKafka::Message& msg) {
  Record r;
  r.topic = msg.topic_name();
  r.partition = msg.partition();
  r.offset = msg.offset();
  if (msg.key_pointer() != nullptr) {
    r.key = std::string(static_cast<const char*>(msg.key_pointer()), msg.key_len());
  }
  if (msg.payload() != nullptr) {
    r.value = std::string(static_cast<const char*>(msg.payload()), msg.len());
  }
  if (const RdKafka::Headers* headers = msg.headers(); headers != nullptr) {
    for (const auto& h : headers->get_all()) {
      r.headers.emplace_back(h.key(), h.value() == nullptr
                                          ? std::string()
                                          : std::string(static_cast<const char*>(h.value()), h.value_size()));
    }
  }
  r.timestamp_ms = msg.timestamp().timestamp;
  return r;
}

}  // namespace

TopicReader::TopicReader(std::string bootstrap, std::string topic, bool read_committed)
    : bootstrap_(std::move(bootstrap)), topic_(std::move(topic)) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string err;
  const std::pair<std::string, std::string> settings[] = {
      {"bootstrap.servers", bootstrap_},
      // Required by KafkaConsumer even though the reader never joins the group.
      {"group.id", "orderflow-topic-reader-" + random_hex()},
      {"enable.auto.commit", "false"},
      {"enable.auto.offset.store", "false"},
      {"enable.partition.eof", "true"},
      {"auto.offset.reset", "earliest"},
      {"allow.auto.create.topics", "false"},
      {"isolation.level", read_committed ? "read_committed" : "read_uncommitted"},
      {"fetch.wait.max.ms", "50"},
      {"socket.nagle.disable", "true"},
      {"topic.metadata.refresh.interval.ms", "1000"},
      {"log_level", "3"},
  };
  for (const auto& [key, value] : settings) {
    if (conf->set(key, value, err) != RdKafka::Conf::CONF_OK) {
      throw std::runtime_error(fmt::format("TopicReader: {}={}: {}", key, value, err));
    }
  }
  consumer_.reset(RdKafka::KafkaConsumer::create(conf.get(), err));
  if (!consumer_) {
    throw std::runtime_error(fmt::format("TopicReader: cannot create the consumer: {}", err));
  }
}

TopicReader::~TopicReader() {
  if (consumer_) {
    consumer_->close();
  }
}

bool TopicReader::ensure_assigned(std::chrono::milliseconds timeout) {
  if (assigned_) {
    return true;
  }
  // All-topics metadata: asking for the one topic would make the mock auto-create it (it ignores
  // allow.auto.create.topics), and the reader must observe topics, not create them.
  RdKafka::Metadata* raw = nullptr;
  const int timeout_ms = static_cast<int>(std::max<long long>(timeout.count(), 1));
  if (consumer_->metadata(true, nullptr, &raw, timeout_ms) != RdKafka::ERR_NO_ERROR) {
    return false;
  }
  std::unique_ptr<RdKafka::Metadata> md(raw);
  const auto& topics = *md->topics();
  const auto it = std::find_if(topics.begin(), topics.end(),
                               [this](const RdKafka::TopicMetadata* t) { return t->topic() == topic_; });
  if (it == topics.end()) {
    return false;
  }
  const RdKafka::TopicMetadata* tmd = *it;
  if (tmd->err() != RdKafka::ERR_NO_ERROR || tmd->partitions()->empty()) {
    return false;
  }
  std::vector<RdKafka::TopicPartition*> parts;
  for (const auto* p : *tmd->partitions()) {
    parts.push_back(RdKafka::TopicPartition::create(topic_, p->id(), RdKafka::Topic::OFFSET_BEGINNING));
    next_offset_[p->id()] = 0;
  }
  const auto assign_err = consumer_->assign(parts);
  RdKafka::TopicPartition::destroy(parts);
  if (assign_err != RdKafka::ERR_NO_ERROR) {
    next_offset_.clear();
    return false;
  }
  assigned_ = true;
  return true;
}

void TopicReader::poll_once(std::chrono::milliseconds timeout) {
  // One blocking consume, then whatever is already fetched, so a predicate sees whole batches.
  auto wait = timeout;
  for (int i = 0; i < 10000; ++i) {
    std::unique_ptr<RdKafka::Message> msg(consumer_->consume(static_cast<int>(wait.count())));
    wait = std::chrono::milliseconds(0);
    if (!msg) {
      return;
    }
    switch (msg->err()) {
      case RdKafka::ERR_NO_ERROR: {
        auto& next = next_offset_[msg->partition()];
        next = std::max(next, msg->offset() + 1);
        records_.push_back(to_record(*msg));
        break;
      }
      case RdKafka::ERR__PARTITION_EOF: {
        auto& next = next_offset_[msg->partition()];
        next = std::max(next, msg->offset());
        break;
      }
      case RdKafka::ERR__TIMED_OUT:
        return;
      default:
        // Transient consumer errors (a broker going away in a fault test) are retried by
        // librdkafka.
        return;
    }
  }
}

bool TopicReader::poll_until(const std::function<bool(const std::vector<Record>&)>& pred,
                             std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    if (pred(records_)) {
      return true;
    }
    const auto left = remaining(deadline);
    if (left.count() == 0) {
      return false;
    }
    const auto slice = std::min(left, std::chrono::milliseconds(100));
    if (!ensure_assigned(slice)) {
      // The topic does not exist yet (or the broker is unreachable): the poll interval of this
      // loop.
      std::this_thread::sleep_for(std::min(remaining(deadline), std::chrono::milliseconds(50)));
      continue;
    }
    poll_once(slice);
  }
}

bool TopicReader::wait_for_count(size_t n, std::chrono::milliseconds timeout) {
  return poll_until([n](const std::vector<Record>& r) { return r.size() >= n; }, timeout);
}

bool TopicReader::drain_to_end(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (!ensure_assigned(std::min(remaining(deadline), std::chrono::milliseconds(1000)))) {
    if (remaining(deadline).count() == 0) {
      return false;
    }
  }
  std::map<int32_t, int64_t> high;
  for (const auto& [partition, next] : next_offset_) {
    int64_t lo = 0;
    int64_t hi = 0;
    // Retried until the deadline: a just-restarted broker may not answer at once.
    while (consumer_->query_watermark_offsets(
               topic_, partition, &lo, &hi,
               static_cast<int>(std::max<long long>(remaining(deadline).count(), 1))) !=
           RdKafka::ERR_NO_ERROR) {
      if (remaining(deadline).count() == 0) {
        return false;
      }
    }
    high[partition] = hi;
  }
  return poll_until(
      [&](const std::vector<Record>&) {
        return std::all_of(high.begin(), high.end(),
                           [&](const auto& ph) { return next_offset_[ph.first] >= ph.second; });
      },
      remaining(deadline));
}

std::vector<Record> TopicReader::with_key(const std::string& key) const {
  std::vector<Record> out;
  std::copy_if(records_.begin(), records_.end(), std::back_inserter(out),
               [&](const Record& r) { return r.key && *r.key == key; });
  return out;
}

}  // namespace orderflow::testing
