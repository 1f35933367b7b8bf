#include "raw_producer.h"

#include <fmt/format.h>
#include <librdkafka/rdkafkacpp.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <stdexcept>

namespace orderflow::testing {
namespace {

class Reports : public RdKafka::DeliveryReportCb {
 public:
  void dr_cb(RdKafka::Message& msg) override {
    if (msg.err() == RdKafka::ERR_NO_ERROR) return;
    std::lock_guard lock(mutex_);
    if (first_error_.empty()) first_error_ = fmt::format("{}: {}", msg.topic_name(), msg.errstr());
    ++failures_;
  }
  std::string first_error() {
    std::lock_guard lock(mutex_);
    return first_error_;
  }
  int failures() {
    std::lock_guard lock(mutex_);
    return failures_;
  }

 private:
  std::mutex mutex_;
  std::string first_error_;
  int failures_ = 0;
};

}  // namespace

void produce_raw(const std::string& bootstrap, const std::vector<RawRecord>& records) {
  Reports reports;
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string err;
  for (const auto& [k, v] : std::vector<std::pair<std::string, std::string>>{
           {"bootstrap.servers", bootstrap},
           {"enable.idempotence", "true"},
           {"acks", "all"},
           {"linger.ms", "5"},
           {"message.max.bytes", "16777216"},  // 10 MiB hostile records; the mock broker accepts them
           {"message.timeout.ms", "60000"},
           {"log_level", "3"}}) {
    if (conf->set(k, v, err) != RdKafka::Conf::CONF_OK)
      throw std::runtime_error("produce_raw: " + k + ": " + err);
  }
  if (conf->set("dr_cb", &reports, err) != RdKafka::Conf::CONF_OK)
    throw std::runtime_error("produce_raw: " + err);
  std::unique_ptr<RdKafka::Producer> producer(RdKafka::Producer::create(conf.get(), err));
  if (!producer) throw std::runtime_error("produce_raw: " + err);
  for (const auto& r : records) {
    for (;;) {
      RdKafka::Headers* headers = nullptr;
      if (!r.headers.empty()) {
        headers = RdKafka::Headers::create();
        for (const auto& [name, value] : r.headers) {
          if (value) {
            headers->add(name, value->data(), value->size());
          } else {
            headers->add(name, nullptr, 0);
          }
        }
      }
      const auto rc = producer->produce(
          r.topic, r.partition >= 0 ? r.partition : RdKafka::Topic::PARTITION_UA,
          RdKafka::Producer::RK_MSG_COPY, r.value ? const_cast<char*>(r.value->data()) : nullptr,
          r.value ? r.value->size() : 0, r.key ? r.key->data() : nullptr, r.key ? r.key->size() : 0, 0,
          headers, nullptr);
      if (rc == RdKafka::ERR_NO_ERROR) break;
      delete headers;
      if (rc != RdKafka::ERR__QUEUE_FULL) {
        throw std::runtime_error(fmt::format("produce_raw to {}: {}", r.topic, RdKafka::err2str(rc)));
      }
      producer->poll(50);
    }
    producer->poll(0);
  }
  if (producer->flush(120000) != RdKafka::ERR_NO_ERROR)
    throw std::runtime_error("produce_raw: flush timed out");
  producer->poll(0);
  if (reports.failures() > 0) {
    throw std::runtime_error(fmt::format("produce_raw: {} record(s) failed; first: {}", reports.failures(),
                                         reports.first_error()));
  }
}

}  // namespace orderflow::testing
