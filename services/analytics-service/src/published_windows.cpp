#include "orderflow/analytics/published_windows.h"

#include <librdkafka/rdkafkacpp.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <memory>
#include <string_view>
#include <thread>

#include "orderflow/analytics/window.h"

namespace orderflow::analytics {

bool read_published(const messaging::KafkaProperties& base, const std::string& topic, std::int64_t window_ms,
                    std::chrono::milliseconds timeout, const std::atomic<bool>& stop, bool read_committed,
                    std::vector<PublishedRecord>& published) {
  messaging::KafkaProperties props = base;
  if (read_committed) props.set("isolation.level", "read_committed");
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
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::vector<std::int32_t> partitions;
  while (partitions.empty()) {
    if (stop.load() || std::chrono::steady_clock::now() >= deadline) return false;
    RdKafka::Metadata* raw = nullptr;
    // All topics: naming the topic would make the dev broker's mock create it.
    if (c->metadata(true, nullptr, &raw, 2000) == RdKafka::ERR_NO_ERROR) {
      std::unique_ptr<RdKafka::Metadata> md(raw);
      for (const auto* t : *md->topics()) {
        if (t->topic() != topic || t->err() != RdKafka::ERR_NO_ERROR) continue;
        for (const auto* p : *t->partitions()) partitions.push_back(p->id());
      }
    }
    if (partitions.empty()) {
      spdlog::warn("waiting for topic {} (create it, see docs/contract.md §4)", topic);
      std::this_thread::sleep_for(std::chrono::seconds(1));  // a missing topic is answered at once
    }
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
    if (stop.load() || std::chrono::steady_clock::now() >= deadline) return false;
    std::unique_ptr<RdKafka::Message> m(c->consume(200));
    if (!m) continue;
    if (m->err() == RdKafka::ERR__PARTITION_EOF) {
      auto it = end.find(m->partition());
      if (it != end.end() && m->offset() >= it->second) end.erase(it);
      continue;
    }
    if (m->err() != RdKafka::ERR_NO_ERROR) continue;
    if (const auto w = parse_published(std::string_view(static_cast<const char*>(m->payload()), m->len()));
        w && w->window_ms == window_ms) {
      published.push_back({w->start_ms, m->partition(), m->offset(),
                           std::string(static_cast<const char*>(m->payload()), m->len())});
    }
    auto it = end.find(m->partition());
    if (it != end.end() && m->offset() + 1 >= it->second) end.erase(it);
  }
  c->close();
  return true;
}

}  // namespace orderflow::analytics
