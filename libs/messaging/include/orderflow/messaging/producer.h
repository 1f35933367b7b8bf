// Idempotent Kafka producer with per-record completions. Every produced record carries an opaque
// context; its completion fires exactly once from poll()/flush() on the calling thread — also at
// shutdown, when purge() reports whatever could not be delivered. Not thread-safe: one owner thread.
// A full local queue is back-pressure (poll and retry), never a dropped record.
#pragma once

#include <librdkafka/rdkafkacpp.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "orderflow/messaging/kafka_client.h"
#include "orderflow/messaging/kafka_config.h"
#include "orderflow/messaging/record.h"

namespace orderflow::messaging {

struct DeliveryReport {
  RdKafka::ErrorCode err = RdKafka::ERR_NO_ERROR;
  std::string_view error_text;
  std::string_view topic;
  std::int32_t partition = -1;
  std::int64_t offset = -1;
  void* context = nullptr;  // what was passed to produce()
  [[nodiscard]] bool ok() const { return err == RdKafka::ERR_NO_ERROR; }
};

using DeliveryHandler = std::function<void(const DeliveryReport&)>;

struct ProducerOptions {
  KafkaProperties properties;    // bootstrap.servers, -X overrides, …
  std::string transactional_id;  // non-empty: transactional producer (exactly-once)
  // librdkafka statistics, called on the polling thread. When set, statistics.interval.ms defaults to
  // kStatisticsIntervalMs (a -X override wins).
  StatsHandler on_stats;
};

class Producer : public KafkaClient {
 public:
  // Applies the reliable defaults (idempotence, acks=all, long message timeout, batching) under the
  // caller's properties, then validates: idempotence without acks=all is rejected (ConfigError).
  Producer(const ProducerOptions& options, DeliveryHandler on_delivery);
  // Everything the constructor validates, without contacting a broker (check_client_config); throws
  // the same ConfigError. For --check-config, and for a start that validates before it waits for the
  // brokers (`log_warnings` false: the client created afterwards logs librdkafka's warnings itself).
  static void check_config(const ProducerOptions& options, bool log_warnings = true);
  ~Producer();
  Producer(const Producer&) = delete;
  Producer& operator=(const Producer&) = delete;

  // Enqueues a record; blocks (serving delivery reports, warning every 10 s) while the local queue is
  // full. Returns false on a non-retriable enqueue error, or when the interrupt flag (set_interrupt) is
  // raised while waiting for room — interrupted_while_full() then says so; the context never gets a
  // completion either way, and `error` says why.
  bool produce(const OutRecord& record, void* context, std::string* error = nullptr);
  // Same with raw bytes (no copies of the value before librdkafka copies it). `partition` −1: the
  // partitioner chooses from the key.
  bool produce(const std::string& topic, const std::string* key, const void* value, std::size_t len,
               const Headers& headers, void* context, std::string* error = nullptr,
               std::int32_t partition = -1);

  // While set and true, a produce() waiting for room in a full queue gives up (e.g. on shutdown).
  void set_interrupt(const std::atomic<bool>* flag) { interrupt_ = flag; }
  // Whether the last failed produce() gave up on a full queue because of the interrupt flag.
  [[nodiscard]] bool interrupted_while_full() const { return interrupted_; }

  // Creates the local handles of `topics` and fetches their metadata now. Without it librdkafka
  // learns a topic's partitions only at its next topic scan (once a second) after the first record
  // for it: a stage that starts on a backlog then queues up to a second of output before anything is
  // sent (memory, latency). Best effort: false when a topic's metadata did not arrive in `timeout`.
  bool prepare_topics(const std::vector<std::string>& topics, std::chrono::milliseconds timeout);
  // The bound a start gives prepare_topics (best effort; the brokers have already answered by then).
  static constexpr std::chrono::seconds kPrepareTopicsTimeout{5};

  int poll(std::chrono::milliseconds timeout);
  // Waits for every outstanding record; true when none is left.
  bool flush(std::chrono::milliseconds timeout);
  // Drops what is still queued; their completions then fire with ERR__PURGE_QUEUE on the next poll.
  void purge_and_report();
  [[nodiscard]] int outstanding() const;

  // Transactions (exactly-once). Throw TxnError with the kind of failure.
  void init_transactions(std::chrono::milliseconds timeout);
  void begin_transaction();
  void send_offsets_to_transaction(const std::vector<RdKafka::TopicPartition*>& offsets,
                                   const RdKafka::ConsumerGroupMetadata* group,
                                   std::chrono::milliseconds timeout);
  void commit_transaction(std::chrono::milliseconds timeout);
  void abort_transaction(std::chrono::milliseconds timeout);

  // The first fatal error raised by librdkafka (idempotence/transaction state broken), or empty.
  [[nodiscard]] std::string fatal_error();

  RdKafka::Producer& handle() { return *producer_; }

 private:
  class DeliveryBridge;
  const std::atomic<bool>* interrupt_ = nullptr;
  bool interrupted_ = false;
  std::unique_ptr<DeliveryBridge> bridge_;  // outlives producer_ (declared first, destroyed last)
  std::unique_ptr<RdKafka::Producer> producer_;
  // Topic handles by name (prepare_topics() and produce()); destroyed before producer_. Producing to a
  // handle skips librdkafka's lookup of the topic by name (a string compare per topic under a lock).
  struct TopicHandle {
    std::string name;
    std::unique_ptr<RdKafka::Topic> topic;
  };
  std::vector<TopicHandle> topics_;
  // The handle of `name`, created on first use and kept (a stage writes to a handful of topics); nullptr
  // with librdkafka's reason in `error` when it refuses one (e.g. an invalid topic name).
  RdKafka::Topic* topic_handle(const std::string& name, std::string* error);
};

// A transactional call failed. `fatal`: the producer is fenced or broken and cannot be used again;
// otherwise aborting the transaction makes it usable again.
class TxnError : public std::runtime_error {
 public:
  TxnError(const std::string& what, bool retriable, bool abortable, bool fatal)
      : std::runtime_error(what), retriable_(retriable), abortable_(abortable), fatal_(fatal) {}
  // librdkafka's classification: the call may be repeated; the transaction must be aborted; the
  // producer is unusable (fenced). dlq-tool replay acts on all three.
  [[nodiscard]] bool retriable() const { return retriable_; }
  [[nodiscard]] bool abortable() const { return abortable_; }
  [[nodiscard]] bool fatal() const { return fatal_; }

 private:
  bool retriable_;
  bool abortable_;
  bool fatal_;
};

}  // namespace orderflow::messaging
