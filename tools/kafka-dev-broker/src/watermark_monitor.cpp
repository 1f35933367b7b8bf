#include "orderflow/dev_broker/watermark_monitor.h"

#include <librdkafka/rdkafka.h>

#include <array>
#include <memory>
#include <set>
#include <utility>

namespace orderflow::dev_broker {

namespace {

struct RdKafkaDeleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
  void operator()(rd_kafka_topic_partition_list_t* l) const { rd_kafka_topic_partition_list_destroy(l); }
  void operator()(const rd_kafka_metadata_t* md) const { rd_kafka_metadata_destroy(md); }
};

std::unique_ptr<rd_kafka_t, RdKafkaDeleter> make_client(const std::string& bootstraps) {
  std::array<char, 512> errstr{};
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  const std::pair<const char*, const char*> settings[] = {
      {"bootstrap.servers", bootstraps.c_str()},
      {"client.id", "kafka-dev-broker-watermarks"},
      {"log_level", "3"},
      {"socket.nagle.disable", "true"},
  };
  for (const auto& [key, value] : settings) {
    if (rd_kafka_conf_set(conf, key, value, errstr.data(), errstr.size()) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      return nullptr;
    }
  }
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr.data(), errstr.size());
  if (rk == nullptr) {
    rd_kafka_conf_destroy(conf);
  }
  return std::unique_ptr<rd_kafka_t, RdKafkaDeleter>(rk);
}

}  // namespace

WatermarkMonitor::WatermarkMonitor(std::string bootstraps, std::chrono::milliseconds interval, Warn warn)
    : bootstraps_(std::move(bootstraps)), interval_(interval), warn_(std::move(warn)) {
  thread_ = std::thread([this] { run(); });
}

WatermarkMonitor::~WatermarkMonitor() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void WatermarkMonitor::run() {
  auto rk = make_client(bootstraps_);
  if (!rk) {
    return;
  }
  constexpr int kRequestTimeoutMs = 2000;
  std::set<std::pair<std::string, int>> warned;
  std::unique_lock lock(mutex_);
  while (!wake_.wait_for(lock, interval_, [this] { return stopping_; })) {
    lock.unlock();
    const rd_kafka_metadata_t* raw_md = nullptr;
    if (rd_kafka_metadata(rk.get(), 1, nullptr, &raw_md, kRequestTimeoutMs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      std::unique_ptr<const rd_kafka_metadata_t, RdKafkaDeleter> md(raw_md);
      std::unique_ptr<rd_kafka_topic_partition_list_t, RdKafkaDeleter> list(
          rd_kafka_topic_partition_list_new(16));
      for (int t = 0; t < md->topic_cnt; ++t) {
        const auto& topic = md->topics[t];
        for (int p = 0; p < topic.partition_cnt; ++p) {
          if (warned.count({topic.topic, topic.partitions[p].id}) == 0) {
            // A ListOffsets "timestamp" of -2 asks for the earliest offset: one request per broker
            // for all partitions, instead of one round trip per partition.
            rd_kafka_topic_partition_list_add(list.get(), topic.topic, topic.partitions[p].id)->offset =
                RD_KAFKA_OFFSET_BEGINNING;
          }
        }
      }
      if (list->cnt > 0 &&
          rd_kafka_offsets_for_times(rk.get(), list.get(), kRequestTimeoutMs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        for (int i = 0; i < list->cnt; ++i) {
          const auto& tp = list->elems[i];
          if (tp.err == RD_KAFKA_RESP_ERR_NO_ERROR && tp.offset > 0) {
            warned.insert({tp.topic, tp.partition});
            warn_(tp.topic, tp.partition, static_cast<long long>(tp.offset));
          }
        }
      }
    }
    lock.lock();
  }
}

}  // namespace orderflow::dev_broker
