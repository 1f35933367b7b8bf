// The layer every Kafka client of ours is built on (Producer, Consumer, dlq-tool's TopicScan, the
// --check-config probe), in the style of modern-cpp-kafka's KafkaClient: a client's librdkafka events
// (errors, log lines, statistics) go to spdlog and to its owner one way, its configuration and handle are
// made with the same checks and messages, its errors are classified in one place, and the partition
// lists librdkafka's C++ API hands out as raw pointers are owned. Not thread-safe: the events arrive on
// the thread that polls the client.
#pragma once

#include <librdkafka/rdkafkacpp.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "orderflow/messaging/kafka_config.h"

namespace orderflow::messaging {

// librdkafka's statistics JSON (EVENT_STATS), called on the thread that polls the client: keep it cheap.
using StatsHandler = std::function<void(std::string_view json)>;

// statistics.interval.ms of a client that has a StatsHandler: often enough for readiness to notice a
// lost broker within seconds, rarely enough to cost nothing. A -X override wins.
inline constexpr std::string_view kStatisticsIntervalMs = "5000";

// Sets statistics.interval.ms to kStatisticsIntervalMs when `on_stats` is set (librdkafka's default, 0,
// sends no statistics at all).
void set_statistics_default(KafkaProperties& props, const StatsHandler& on_stats);

// "producer" or "consumer": how log lines and errors name a kind of client.
[[nodiscard]] const char* client_name(ClientKind kind);

enum class EventLogLevel { Off, Debug, Warn, Error, Critical };

// How loudly each kind of librdkafka event is logged. The defaults suit a service's long-lived client:
// librdkafka retries whatever is not fatal by itself (a broker down, all brokers down), so such an error
// is a warning.
struct ClientLogLevels {
  EventLogLevel fatal_error = EventLogLevel::Critical;  // EVENT_ERROR with fatal() set
  EventLogLevel error = EventLogLevel::Warn;            // any other EVENT_ERROR
  EventLogLevel log_warning = EventLogLevel::Warn;      // EVENT_LOG at severity warning or worse
  EventLogLevel log = EventLogLevel::Debug;             // any other EVENT_LOG
};

// A client's librdkafka events, forwarded on the thread that polls it: statistics to the handler, the
// rest to spdlog at the ClientLogLevels as
//   "kafka <client> fatal error: <code>: <text>"   a fatal error
//   "kafka <client>: <code>: <text>"               any other error
//   "librdkafka <client> [<facility>]: <text>"     a log line
class ClientEvents final : public RdKafka::EventCb {
 public:
  ClientEvents(ClientKind kind, ClientLogLevels levels, StatsHandler on_stats = {});
  void event_cb(RdKafka::Event& e) override;

 private:
  const char* client_;
  ClientLogLevels levels_;
  StatsHandler on_stats_;
};

// librdkafka's client made from a complete configuration; ConfigError "cannot create Kafka producer: <why>"
// (or consumer) when librdkafka refuses it (combinations it checks only here, SSL/SASL set-up).
[[nodiscard]] std::unique_ptr<RdKafka::Producer> create_producer(const RdKafka::Conf& conf);
[[nodiscard]] std::unique_ptr<RdKafka::KafkaConsumer> create_consumer(const RdKafka::Conf& conf);

// The base of a Kafka client: it owns the event callback, which as a member of the base outlives the
// librdkafka handle the derived class owns, and makes the client's configuration with it installed.
class KafkaClient {
 public:
  KafkaClient(const KafkaClient&) = delete;
  KafkaClient& operator=(const KafkaClient&) = delete;
  KafkaClient(KafkaClient&&) = delete;
  KafkaClient& operator=(KafkaClient&&) = delete;

  [[nodiscard]] ClientKind kind() const { return kind_; }

 protected:
  KafkaClient(ClientKind kind, ClientLogLevels levels, StatsHandler on_stats = {});
  ~KafkaClient() = default;

  // `props` as a librdkafka configuration (make_conf: ConfigError naming a refused property) with this
  // client's event callback installed.
  [[nodiscard]] std::unique_ptr<RdKafka::Conf> make_client_conf(const KafkaProperties& props);

  // Installs one more of the client's callbacks (dr_cb, rebalance_cb, offset_commit_cb …);
  // ConfigError "<client> callbacks: <why>".
  template <typename Callback>
  void set_callback(RdKafka::Conf& conf, const std::string& name, Callback* callback) const {
    std::string err;
    if (conf.set(name, callback, err) != RdKafka::Conf::CONF_OK) {
      throw ConfigError(std::string(client_name(kind_)) + " callbacks: " + err);
    }
  }

 private:
  ClientKind kind_;
  ClientEvents events_;
};

// Errors after which a client cannot go on: librdkafka's fatal error, failed authentication or
// authorisation, a topic or partition that does not exist. Everything else (a broker connection dropped, a
// leader moving) librdkafka retries by itself, and the caller's own timeout bounds the wait.
[[nodiscard]] bool is_permanent_error(RdKafka::ErrorCode err);

// An owned list of RdKafka::TopicPartition, for librdkafka's calls that take one (assign, pause, resume,
// commit, committed, position, send_offsets_to_transaction …): its elements are destroyed with the list on
// every way out of the scope, early returns and exceptions included. A moved-from list is empty.
class TopicPartitionList {
 public:
  TopicPartitionList() = default;
  ~TopicPartitionList();
  TopicPartitionList(const TopicPartitionList&) = delete;
  TopicPartitionList& operator=(const TopicPartitionList&) = delete;
  TopicPartitionList(TopicPartitionList&& other) noexcept;
  TopicPartitionList& operator=(TopicPartitionList&& other) noexcept;

  // Appends `topic` [`partition`] at `offset` (OFFSET_INVALID: none, as librdkafka's own default).
  void add(const std::string& topic, std::int32_t partition,
           std::int64_t offset = RdKafka::Topic::OFFSET_INVALID);
  void reserve(std::size_t n) { items_.reserve(n); }

  // What librdkafka's calls take; some fill it (assignment(), committed(), position()).
  [[nodiscard]] std::vector<RdKafka::TopicPartition*>& items() { return items_; }
  [[nodiscard]] const std::vector<RdKafka::TopicPartition*>& items() const { return items_; }
  [[nodiscard]] bool empty() const { return items_.empty(); }
  [[nodiscard]] std::size_t size() const { return items_.size(); }
  [[nodiscard]] auto begin() const { return items_.begin(); }
  [[nodiscard]] auto end() const { return items_.end(); }

 private:
  std::vector<RdKafka::TopicPartition*> items_;
};

}  // namespace orderflow::messaging
