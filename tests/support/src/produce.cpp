#include "orderflow/testing/produce.h"

#include <fmt/format.h>
#include <librdkafka/rdkafkacpp.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <stdexcept>

namespace orderflow::testing {

namespace {

class DeliveryTracker : public RdKafka::DeliveryReportCb {
 public:
  void dr_cb(RdKafka::Message& msg) override {
    ++reports_;
    if (msg.err() != RdKafka::ERR_NO_ERROR) {
      std::lock_guard lock(mutex_);
      if (failures_++ == 0) {
        first_error_ = fmt::format("{}[{}]: {}", msg.topic_name(), msg.partition(), msg.errstr());
      }
    }
  }
  int reports() const { return reports_; }
  int failures() const {
    std::lock_guard lock(mutex_);
    return failures_;
  }
  std::string first_error() const {
    std::lock_guard lock(mutex_);
    return first_error_;
  }

 private:
  std::atomic<int> reports_{0};
  mutable std::mutex mutex_;
  int failures_ = 0;
  std::string first_error_;
};

void produce_impl(const std::string& bootstrap, const std::string& topic, int32_t partition,
                  const std::vector<std::pair<std::optional<std::string>, std::string>>& records,
                  const std::vector<std::pair<std::string, std::string>>& headers) {
  DeliveryTracker tracker;  // declared first: outlives the producer
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string err;
  const std::pair<std::string, std::string> settings[] = {
      {"bootstrap.servers", bootstrap},
      {"enable.idempotence", "true"},
      {"acks", "all"},
      {"linger.ms", "5"},
      {"message.timeout.ms", "30000"},
      {"socket.nagle.disable", "true"},
      {"log_level", "3"},
  };
  for (const auto& [key, value] : settings) {
    if (conf->set(key, value, err) != RdKafka::Conf::CONF_OK) {
      throw std::runtime_error(fmt::format("produce: {}={}: {}", key, value, err));
    }
  }
  if (conf->set("dr_cb", &tracker, err) != RdKafka::Conf::CONF_OK) {
    throw std::runtime_error(fmt::format("produce: dr_cb: {}", err));
  }
  std::unique_ptr<RdKafka::Producer> producer(RdKafka::Producer::create(conf.get(), err));
  if (!producer) {
    throw std::runtime_error(fmt::format("produce: cannot create the producer: {}", err));
  }

  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  for (const auto& [key, value] : records) {
    for (;;) {
      RdKafka::Headers* hdrs = nullptr;
      if (!headers.empty()) {
        hdrs = RdKafka::Headers::create();
        for (const auto& [hk, hv] : headers) {
          hdrs->add(hk, hv.data(), hv.size());
        }
      }
      const auto rc =
          producer->produce(topic, partition < 0 ? RdKafka::Topic::PARTITION_UA : partition,
                            RdKafka::Producer::RK_MSG_COPY, const_cast<char*>(value.data()), value.size(),
                            key ? key->data() : nullptr, key ? key->size() : 0, 0, hdrs, nullptr);
      if (rc == RdKafka::ERR_NO_ERROR) {
        break;  // librdkafka owns the headers now
      }
      delete hdrs;
      if (rc != RdKafka::ERR__QUEUE_FULL || std::chrono::steady_clock::now() > deadline) {
        throw std::runtime_error(fmt::format("produce to {}: {}", topic, RdKafka::err2str(rc)));
      }
      producer->poll(50);  // back-pressure: serve delivery reports, then try again
    }
    producer->poll(0);
  }
  const auto flush_err = producer->flush(60000);
  if (flush_err != RdKafka::ERR_NO_ERROR) {
    throw std::runtime_error(fmt::format("produce to {}: flush: {} ({} of {} acknowledged)", topic,
                                         RdKafka::err2str(flush_err), tracker.reports() - tracker.failures(),
                                         records.size()));
  }
  producer->poll(0);
  if (tracker.failures() > 0) {
    throw std::runtime_error(fmt::format("produce to {}: {} of {} records failed; first: {}", topic,
                                         tracker.failures(), records.size(), tracker.first_error()));
  }
}

}  // namespace

void produce(const std::string& bootstrap, const std::string& topic,
             const std::vector<std::pair<std::optional<std::string>, std::string>>& records,
             const std::vector<std::pair<std::string, std::string>>& headers) {
  produce_impl(bootstrap, topic, -1, records, headers);
}

void produce_to_partition(const std::string& bootstrap, const std::string& topic, int32_t partition,
                          const std::vector<std::pair<std::optional<std::string>, std::string>>& records,
                          const std::vector<std::pair<std::string, std::string>>& headers) {
  produce_impl(bootstrap, topic, partition, records, headers);
}

}  // namespace orderflow::testing
