#include "lag_reader.h"

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <map>
#include <set>
#include <stdexcept>

#include "orderflow/messaging/producer.h"

namespace orderflow::lag {

namespace {

int to_ms(std::chrono::milliseconds d) {
  return static_cast<int>(std::max<std::int64_t>(1, d.count()));
}

struct QueueDeleter {
  void operator()(rd_kafka_queue_t* q) const { rd_kafka_queue_destroy(q); }
};
struct EventDeleter {
  void operator()(rd_kafka_event_t* e) const { rd_kafka_event_destroy(e); }
};
struct OptionsDeleter {
  void operator()(rd_kafka_AdminOptions_t* o) const { rd_kafka_AdminOptions_destroy(o); }
};
struct RequestDeleter {
  void operator()(rd_kafka_ListConsumerGroupOffsets_t* r) const {
    rd_kafka_ListConsumerGroupOffsets_destroy(r);
  }
};

struct PartitionListDeleter {
  void operator()(rd_kafka_topic_partition_list_t* l) const { rd_kafka_topic_partition_list_destroy(l); }
};

using Offsets = std::map<std::pair<std::string, std::int32_t>, std::int64_t>;

// Committed offsets of one group on `partitions` (nullptr: wherever it has any); a partition without a
// commit is absent. librdkafka 2.0 takes one group per ListConsumerGroupOffsets request.
Offsets committed_offsets(rd_kafka_t* rk, const std::string& group,
                          const rd_kafka_topic_partition_list_t* partitions,
                          std::chrono::milliseconds timeout, std::string& error) {
  Offsets out;
  std::unique_ptr<rd_kafka_queue_t, QueueDeleter> queue(rd_kafka_queue_new(rk));
  std::unique_ptr<rd_kafka_AdminOptions_t, OptionsDeleter> options(
      rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS));
  char errstr[256];
  if (rd_kafka_AdminOptions_set_request_timeout(options.get(), to_ms(timeout), errstr, sizeof errstr) !=
      RD_KAFKA_RESP_ERR_NO_ERROR) {
    error = errstr;
    return out;
  }
  std::unique_ptr<rd_kafka_ListConsumerGroupOffsets_t, RequestDeleter> request(
      rd_kafka_ListConsumerGroupOffsets_new(group.c_str(), partitions));
  rd_kafka_ListConsumerGroupOffsets_t* requests[] = {request.get()};
  rd_kafka_ListConsumerGroupOffsets(rk, requests, 1, options.get(), queue.get());
  // The request timeout bounds the operation; the margin only covers the result's hand-over.
  std::unique_ptr<rd_kafka_event_t, EventDeleter> event(
      rd_kafka_queue_poll(queue.get(), to_ms(timeout + std::chrono::seconds(1))));
  if (!event) {
    error = "no answer to ListConsumerGroupOffsets within " + std::to_string(timeout.count()) + " ms";
    return out;
  }
  if (rd_kafka_event_error(event.get()) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    error = rd_kafka_event_error_string(event.get());
    return out;
  }
  const auto* result = rd_kafka_event_ListConsumerGroupOffsets_result(event.get());
  std::size_t count = 0;
  const rd_kafka_group_result_t** groups = rd_kafka_ListConsumerGroupOffsets_result_groups(result, &count);
  for (std::size_t i = 0; i < count; ++i) {
    if (const rd_kafka_error_t* e = rd_kafka_group_result_error(groups[i])) {
      error = rd_kafka_error_string(e);
      return out;
    }
    const rd_kafka_topic_partition_list_t* parts = rd_kafka_group_result_partitions(groups[i]);
    for (int j = 0; parts != nullptr && j < parts->cnt; ++j) {
      const auto& tp = parts->elems[j];
      if (tp.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        error = std::string(tp.topic) + "[" + std::to_string(tp.partition) + "]: " + rd_kafka_err2str(tp.err);
        return out;
      }
      if (tp.offset >= 0) out[{tp.topic, tp.partition}] = tp.offset;
    }
  }
  return out;
}

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t");
  return b == std::string::npos ? std::string() : s.substr(b, s.find_last_not_of(" \t") - b + 1);
}

std::vector<std::string> split(const std::string& text, char sep) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (;;) {
    const auto end = text.find(sep, start);
    out.push_back(trim(text.substr(start, end == std::string::npos ? std::string::npos : end - start)));
    if (end == std::string::npos) return out;
    start = end + 1;
  }
}

}  // namespace

std::int64_t PartitionLag::lag() const {
  return std::max<std::int64_t>(0, high - (committed >= 0 ? committed : low));
}

LagReader::LagReader(const messaging::KafkaProperties& props) {
  messaging::ProducerOptions options;
  // It never produces: no producer id to acquire (nor the IdempotentWrite permission that needs).
  options.properties.set("enable.idempotence", "false");
  for (const auto& [k, v] : props.entries()) options.properties.set(k, v);
  client_ = std::make_unique<messaging::Producer>(options, [](const messaging::DeliveryReport&) {});
}

LagReader::~LagReader() = default;

std::vector<GroupLag> LagReader::read(const std::vector<GroupSpec>& groups,
                                      std::chrono::milliseconds timeout) {
  auto& handle = client_->handle();
  std::vector<GroupLag> out(groups.size());

  // Partition counts of every topic, from one metadata request.
  RdKafka::Metadata* raw = nullptr;
  const auto err = handle.metadata(true, nullptr, &raw, to_ms(timeout));
  const std::unique_ptr<RdKafka::Metadata> metadata(raw);
  if (err != RdKafka::ERR_NO_ERROR) {
    for (std::size_t i = 0; i < groups.size(); ++i) {
      out[i].group = groups[i].group;
      out[i].error = "metadata: " + RdKafka::err2str(err);
    }
    return out;
  }
  std::map<std::string, std::int32_t> partitions;
  for (const auto* t : *metadata->topics()) {
    if (t->err() == RdKafka::ERR_NO_ERROR)
      partitions[t->topic()] = static_cast<std::int32_t>(t->partitions()->size());
  }

  std::vector<Offsets> committed(groups.size());
  std::vector<std::set<std::string>> topics(groups.size());
  for (std::size_t i = 0; i < groups.size(); ++i) {
    auto& g = out[i];
    g.group = groups[i].group;
    std::unique_ptr<rd_kafka_topic_partition_list_t, PartitionListDeleter> list;
    if (!groups[i].topics.empty()) {
      list.reset(rd_kafka_topic_partition_list_new(16));
      for (const auto& topic : groups[i].topics) {
        const auto it = partitions.find(topic);
        if (it == partitions.end()) {
          g.error = "topic " + topic + " does not exist";
          break;
        }
        for (std::int32_t p = 0; p < it->second; ++p)
          rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), p);
        topics[i].insert(topic);
      }
      if (!g.error.empty()) continue;
    }
    committed[i] = committed_offsets(handle.c_ptr(), g.group, list.get(), timeout, g.error);
    for (const auto& [tp, offset] : committed[i]) topics[i].insert(tp.first);
  }

  std::map<std::pair<std::string, std::int32_t>, std::pair<std::int64_t, std::int64_t>> watermarks;
  for (std::size_t i = 0; i < groups.size(); ++i) {
    auto& g = out[i];
    for (const auto& topic : topics[i]) {
      if (!g.error.empty()) break;
      const auto it = partitions.find(topic);
      if (it == partitions.end()) {
        g.error = "topic " + topic + " not in the brokers' metadata";
        break;
      }
      for (std::int32_t p = 0; p < it->second; ++p) {
        auto w = watermarks.find({topic, p});
        if (w == watermarks.end()) {
          std::int64_t low = 0;
          std::int64_t high = 0;
          const auto e = handle.query_watermark_offsets(topic, p, &low, &high, to_ms(timeout));
          if (e != RdKafka::ERR_NO_ERROR) {
            g.error = topic + "[" + std::to_string(p) + "] watermarks: " + RdKafka::err2str(e);
            break;
          }
          w = watermarks.emplace(std::make_pair(topic, p), std::make_pair(low, high)).first;
        }
        PartitionLag pl;
        pl.topic = topic;
        pl.partition = p;
        const auto c = committed[i].find({topic, p});
        pl.committed = c == committed[i].end() ? -1 : c->second;
        pl.low = w->second.first;
        pl.high = w->second.second;
        g.partitions.push_back(std::move(pl));
      }
    }
    if (!g.error.empty()) g.partitions.clear();
  }
  return out;
}

std::vector<GroupSpec> parse_group_specs(const std::string& text) {
  std::vector<GroupSpec> out;
  for (const auto& entry : split(text, ',')) {
    if (entry.empty()) continue;
    GroupSpec spec;
    const auto colon = entry.find(':');
    spec.group = trim(entry.substr(0, colon));
    if (colon != std::string::npos) spec.topics = split(entry.substr(colon + 1), '+');
    const bool empty_topic =
        std::any_of(spec.topics.begin(), spec.topics.end(), [](const auto& t) { return t.empty(); });
    if (spec.group.empty() || empty_topic) {
      throw std::invalid_argument("'" + entry + "' is not GROUP or GROUP:TOPIC+TOPIC");
    }
    out.push_back(std::move(spec));
  }
  return out;
}

}  // namespace orderflow::lag
