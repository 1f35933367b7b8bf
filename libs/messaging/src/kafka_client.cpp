#include "orderflow/messaging/kafka_client.h"

#include <spdlog/spdlog.h>

#include <utility>

namespace orderflow::messaging {

namespace {

spdlog::level::level_enum to_spdlog(EventLogLevel level) {
  switch (level) {
    case EventLogLevel::Debug:
      return spdlog::level::debug;
    case EventLogLevel::Warn:
      return spdlog::level::warn;
    case EventLogLevel::Error:
      return spdlog::level::err;
    case EventLogLevel::Critical:
      return spdlog::level::critical;
    case EventLogLevel::Off:
      break;
  }
  return spdlog::level::off;
}

}  // namespace

void set_statistics_default(KafkaProperties& props, const StatsHandler& on_stats) {
  if (on_stats) props.set("statistics.interval.ms", std::string(kStatisticsIntervalMs));
}

const char* client_name(ClientKind kind) {
  return kind == ClientKind::Producer ? "producer" : "consumer";
}

ClientEvents::ClientEvents(ClientKind kind, ClientLogLevels levels, StatsHandler on_stats)
    : client_(client_name(kind)), levels_(levels), on_stats_(std::move(on_stats)) {}

void ClientEvents::event_cb(RdKafka::Event& e) {
  switch (e.type()) {
    case RdKafka::Event::EVENT_STATS:
      if (on_stats_) on_stats_(e.str());
      break;
    case RdKafka::Event::EVENT_ERROR: {
      const auto level = to_spdlog(e.fatal() ? levels_.fatal_error : levels_.error);
      if (level == spdlog::level::off) break;
      if (e.fatal()) {
        spdlog::log(level, "kafka {} fatal error: {}: {}", client_, RdKafka::err2str(e.err()), e.str());
      } else {
        spdlog::log(level, "kafka {}: {}: {}", client_, RdKafka::err2str(e.err()), e.str());
      }
      break;
    }
    case RdKafka::Event::EVENT_LOG: {
      const bool warning = e.severity() <= RdKafka::Event::EVENT_SEVERITY_WARNING;
      const auto level = to_spdlog(warning ? levels_.log_warning : levels_.log);
      if (level != spdlog::level::off)
        spdlog::log(level, "librdkafka {} [{}]: {}", client_, e.fac(), e.str());
      break;
    }
    default:
      break;
  }
}

std::unique_ptr<RdKafka::Producer> create_producer(const RdKafka::Conf& conf) {
  std::string err;
  std::unique_ptr<RdKafka::Producer> producer(RdKafka::Producer::create(&conf, err));
  if (!producer) throw ConfigError("cannot create Kafka producer: " + err);
  return producer;
}

std::unique_ptr<RdKafka::KafkaConsumer> create_consumer(const RdKafka::Conf& conf) {
  std::string err;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(RdKafka::KafkaConsumer::create(&conf, err));
  if (!consumer) throw ConfigError("cannot create Kafka consumer: " + err);
  return consumer;
}

KafkaClient::KafkaClient(ClientKind kind, ClientLogLevels levels, StatsHandler on_stats)
    : kind_(kind), events_(kind, levels, std::move(on_stats)) {}

std::unique_ptr<RdKafka::Conf> KafkaClient::make_client_conf(const KafkaProperties& props) {
  auto conf = make_conf(props);
  set_callback<RdKafka::EventCb>(*conf, "event_cb", &events_);
  return conf;
}

bool is_permanent_error(RdKafka::ErrorCode err) {
  switch (err) {
    case RdKafka::ERR__FATAL:
    case RdKafka::ERR__AUTHENTICATION:
    case RdKafka::ERR_TOPIC_AUTHORIZATION_FAILED:
    case RdKafka::ERR_GROUP_AUTHORIZATION_FAILED:
    case RdKafka::ERR_CLUSTER_AUTHORIZATION_FAILED:
    case RdKafka::ERR_SASL_AUTHENTICATION_FAILED:
    case RdKafka::ERR__UNKNOWN_TOPIC:
    case RdKafka::ERR__UNKNOWN_PARTITION:
    case RdKafka::ERR_UNKNOWN_TOPIC_OR_PART:
      return true;
    default:
      return false;
  }
}

TopicPartitionList::~TopicPartitionList() {
  RdKafka::TopicPartition::destroy(items_);
}

TopicPartitionList::TopicPartitionList(TopicPartitionList&& other) noexcept
    : items_(std::move(other.items_)) {
  other.items_.clear();
}

TopicPartitionList& TopicPartitionList::operator=(TopicPartitionList&& other) noexcept {
  if (this != &other) {
    RdKafka::TopicPartition::destroy(items_);
    items_ = std::move(other.items_);
    other.items_.clear();
  }
  return *this;
}

void TopicPartitionList::add(const std::string& topic, std::int32_t partition, std::int64_t offset) {
  std::unique_ptr<RdKafka::TopicPartition> tp(RdKafka::TopicPartition::create(topic, partition, offset));
  items_.push_back(tp.get());
  (void)tp.release();  // the list owns it now
}

}  // namespace orderflow::messaging
