#include "round_trip.h"

#include <librdkafka/rdkafkacpp.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <stdexcept>

#include "orderflow/testing/paths.h"

namespace orderflow::testing {

namespace {

std::unique_ptr<RdKafka::Conf> make_conf(const std::string& bootstrap) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string err;
  conf->set("bootstrap.servers", bootstrap, err);
  conf->set("log_level", "3", err);
  return conf;
}

double elapsed_ms(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

std::vector<double> commit_round_trips_ms(const std::string& bootstrap, const std::string& topic,
                                          int samples) {
  auto conf = make_conf(bootstrap);
  std::string err;
  conf->set("group.id", "round-trip-" + random_hex(), err);
  conf->set("enable.auto.commit", "false", err);
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(RdKafka::KafkaConsumer::create(conf.get(), err));
  if (!consumer) {
    throw std::runtime_error("consumer: " + err);
  }
  std::vector<double> out;
  // The first commits look up the group coordinator and connect: not what is measured.
  for (int i = -3; i < samples; ++i) {
    std::vector<RdKafka::TopicPartition*> offsets{RdKafka::TopicPartition::create(topic, 0, i + 10)};
    const auto start = std::chrono::steady_clock::now();
    const auto rc = consumer->commitSync(offsets);
    const double ms = elapsed_ms(start);
    RdKafka::TopicPartition::destroy(offsets);
    if (rc != RdKafka::ERR_NO_ERROR) {
      throw std::runtime_error("commitSync: " + RdKafka::err2str(rc));
    }
    if (i >= 0) {
      out.push_back(ms);
    }
  }
  consumer->close();
  return out;
}

std::vector<double> produce_flush_round_trips_ms(const std::string& bootstrap, const std::string& topic,
                                                 int samples) {
  auto conf = make_conf(bootstrap);
  std::string err;
  conf->set("enable.idempotence", "true", err);
  conf->set("acks", "all", err);
  conf->set("linger.ms", "0", err);
  std::unique_ptr<RdKafka::Producer> producer(RdKafka::Producer::create(conf.get(), err));
  if (!producer) {
    throw std::runtime_error("producer: " + err);
  }
  std::vector<double> out;
  std::string value = "round-trip";
  for (int i = -3; i < samples; ++i) {
    const auto start = std::chrono::steady_clock::now();
    auto rc = producer->produce(topic, 0, RdKafka::Producer::RK_MSG_COPY, value.data(), value.size(), nullptr,
                                0, 0, nullptr);
    if (rc == RdKafka::ERR_NO_ERROR) {
      rc = producer->flush(10000);
    }
    const double ms = elapsed_ms(start);
    if (rc != RdKafka::ERR_NO_ERROR) {
      throw std::runtime_error("produce+flush: " + RdKafka::err2str(rc));
    }
    if (i >= 0) {
      out.push_back(ms);
    }
  }
  return out;
}

double median(std::vector<double> values) {
  if (values.empty()) {
    return 0;
  }
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

}  // namespace orderflow::testing
