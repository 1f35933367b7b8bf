#include "orderflow/messaging/producer.h"

#include <librdkafka/rdkafka.h>
#include <spdlog/spdlog.h>

namespace orderflow::messaging {

class Producer::DeliveryBridge : public RdKafka::DeliveryReportCb {
 public:
  explicit DeliveryBridge(DeliveryHandler h) : handler_(std::move(h)) {}
  void dr_cb(RdKafka::Message& msg) override {
    DeliveryReport r;
    r.err = msg.err();
    if (r.err != RdKafka::ERR_NO_ERROR) {
      errstr_ = msg.errstr();
      r.error_text = errstr_;
    }
    topic_ = msg.topic_name();
    r.topic = topic_;
    r.partition = msg.partition();
    r.offset = msg.offset();
    r.context = msg.msg_opaque();
    handler_(r);
  }

 private:
  DeliveryHandler handler_;
  std::string errstr_;
  std::string topic_;
};

namespace {

KafkaProperties with_defaults(const ProducerOptions& options) {
  KafkaProperties p = client_defaults();
  p.set("enable.idempotence", "true");
  p.set("acks", "all");
  // A long delivery timeout: a record that timed out locally but reached the broker and is then
  // re-sent by hand is a duplicate. librdkafka retries internally for this long.
  p.set("message.timeout.ms", "300000");
  // One produce request in flight per broker connection. With more, librdkafka 2.0.x can report records
  // delivered that were never written: when the first batch a producer sends to a partition fails with a
  // not-persisted error (NOT_LEADER_OR_FOLLOWER while a leader moves, or an injected mock error) and the
  // next batch, already in flight, is accepted (a broker with no state for the producer id accepts any
  // sequence number; the mock checks sequences only for transactional producers), librdkafka "implicitly
  // acks" the failed batch (confluent-kafka-go#921): those records are silently lost, and the load tests
  // here do hit it. One request in flight costs no measurable throughput on loopback.
  p.set("max.in.flight.requests.per.connection", "1");
  p.set("linger.ms", "5");
  p.set("batch.num.messages", "10000");
  p.set("queue.buffering.max.messages", "200000");
  p.set("compression.type", "none");
  // Same key → same partition as Java clients (murmur2), so mixed-language producers agree.
  p.set("partitioner", "murmur2_random");
  set_statistics_default(p, options.on_stats);
  for (const auto& [k, v] : options.properties.entries()) p.set(k, v);
  if (!options.transactional_id.empty()) {
    p.set("transactional.id", options.transactional_id);
    // librdkafka requires message.timeout.ms <= transaction.timeout.ms (default 60000): unless the
    // user chose message.timeout.ms, cap our long default at the transaction timeout.
    if (options.properties.find("message.timeout.ms") == nullptr) {
      const auto* txn = p.find("transaction.timeout.ms");
      p.set("message.timeout.ms", txn != nullptr ? *txn : "60000");
    }
  }
  // The delivery guarantees (docs/contract.md §8) rest on these three; -X may not weaken them.
  const auto* idem = p.find("enable.idempotence");
  if (idem != nullptr && *idem != "true") {
    throw ConfigError("enable.idempotence=" + *idem +
                      " is refused: every orderflow producer is idempotent, so a retried batch is never "
                      "written twice (docs/contract.md §8)");
  }
  const auto* acks = p.find("acks");
  if (acks != nullptr && *acks != "all" && *acks != "-1") {
    throw ConfigError("enable.idempotence=true requires acks=all, got acks=" + *acks);
  }
  const auto* in_flight = p.find("max.in.flight.requests.per.connection");
  if (in_flight != nullptr && *in_flight != "1") {
    throw ConfigError("max.in.flight.requests.per.connection=" + *in_flight +
                      " is refused: with more than one produce request in flight librdkafka 2.0 can report "
                      "a failed batch delivered (docs/contract.md §8)");
  }
  return p;
}

}  // namespace

Producer::Producer(const ProducerOptions& options, DeliveryHandler on_delivery)
    : KafkaClient(ClientKind::Producer, ClientLogLevels{}, options.on_stats),
      bridge_(std::make_unique<DeliveryBridge>(std::move(on_delivery))) {
  auto conf = make_client_conf(with_defaults(options));
  set_callback<RdKafka::DeliveryReportCb>(*conf, "dr_cb", bridge_.get());
  producer_ = create_producer(*conf);
}

void Producer::check_config(const ProducerOptions& options, bool log_warnings) {
  check_client_config(ClientKind::Producer, with_defaults(options), log_warnings);
}

Producer::~Producer() {
  if (producer_ && producer_->outq_len() > 0) {
    // Owners flush and purge explicitly; this is the last line of defence so no completion is lost.
    producer_->flush(1000);
    purge_and_report();
  }
}

bool Producer::produce(const OutRecord& record, void* context, std::string* error) {
  const std::string* key = record.key ? &*record.key : nullptr;
  return produce(record.topic, key, record.value.data(), record.value.size(), record.headers, context, error);
}

bool Producer::produce(const std::string& topic, const std::string* key, const void* value, std::size_t len,
                       const Headers& headers, void* context, std::string* error, std::int32_t partition) {
  interrupted_ = false;
  std::chrono::steady_clock::time_point full_since{};
  auto next_warning = std::chrono::steady_clock::time_point::max();
  // The C API: RdKafka::Headers wraps the C list in one more object per record, and the C++ produce()
  // only forwards to rd_kafka_producev (bench: BM_ProduceHeadersCpp vs BM_ProduceHeadersC).
  rd_kafka_t* rk = producer_->c_ptr();
  std::string handle_error;
  RdKafka::Topic* handle = topic_handle(topic, &handle_error);
  if (handle == nullptr) {
    if (error != nullptr) *error = "no handle for topic " + topic + ": " + handle_error;
    return false;
  }
  const void* key_data = key != nullptr ? key->data() : nullptr;
  const std::size_t key_size = key != nullptr ? key->size() : 0;
  for (;;) {
    rd_kafka_headers_t* hdrs = nullptr;
    if (!headers.empty()) {
      hdrs = rd_kafka_headers_new(headers.size());
      for (const auto& [name, v] : headers) {
        rd_kafka_header_add(hdrs, name.data(), static_cast<ssize_t>(name.size()), v.data(),
                            static_cast<ssize_t>(v.size()));
      }
    }
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wold-style-cast"  // librdkafka's RD_KAFKA_V_* macros are C casts
#pragma GCC diagnostic ignored "-Wpedantic"        // … and GNU statement expressions (clang reports them)
    const rd_kafka_resp_err_t err =
        rd_kafka_producev(rk, RD_KAFKA_V_RKT(handle->c_ptr()), RD_KAFKA_V_PARTITION(partition),
                          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                          RD_KAFKA_V_VALUE(const_cast<void*>(value), len), RD_KAFKA_V_KEY(key_data, key_size),
                          RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_OPAQUE(context), RD_KAFKA_V_END);
#pragma GCC diagnostic pop
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return true;  // librdkafka owns hdrs now
    if (hdrs != nullptr) rd_kafka_headers_destroy(hdrs);
    if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      // Back-pressure: serve delivery reports until there is room again (brokers slow or unreachable).
      const auto now = std::chrono::steady_clock::now();
      if (next_warning == std::chrono::steady_clock::time_point::max()) {
        full_since = now;
        next_warning = now + std::chrono::seconds(10);
      } else if (now >= next_warning) {
        spdlog::warn("local produce queue full for {} s ({} records waiting): brokers slow or unreachable",
                     std::chrono::duration_cast<std::chrono::seconds>(now - full_since).count(),
                     producer_->outq_len());
        next_warning = now + std::chrono::seconds(10);
      }
      if (interrupt_ != nullptr && interrupt_->load(std::memory_order_relaxed)) {
        interrupted_ = true;
        if (error != nullptr) *error = "interrupted while the local produce queue was full";
        return false;
      }
      producer_->poll(10);
      continue;
    }
    if (error != nullptr) *error = rd_kafka_err2str(err);
    return false;
  }
}

RdKafka::Topic* Producer::topic_handle(const std::string& name, std::string* error) {
  for (const auto& t : topics_) {
    if (t.name == name) return t.topic.get();
  }
  std::string err;
  std::unique_ptr<RdKafka::Topic> topic(RdKafka::Topic::create(producer_.get(), name, nullptr, err));
  if (!topic) {
    if (error != nullptr) *error = err;
    return nullptr;
  }
  topics_.push_back(TopicHandle{name, std::move(topic)});
  return topics_.back().topic.get();
}

bool Producer::prepare_topics(const std::vector<std::string>& topics, std::chrono::milliseconds timeout) {
  bool ok = true;
  for (const auto& name : topics) {
    std::string err;
    RdKafka::Topic* topic = topic_handle(name, &err);
    if (topic == nullptr) {
      spdlog::warn("producer: no handle for topic {}: {}", name, err);
      ok = false;
      continue;
    }
    RdKafka::Metadata* raw = nullptr;
    const auto rc = producer_->metadata(false, topic, &raw, static_cast<int>(timeout.count()));
    const std::unique_ptr<RdKafka::Metadata> metadata(raw);
    if (rc != RdKafka::ERR_NO_ERROR) {
      spdlog::warn("producer: metadata of {} not available yet: {}", name, RdKafka::err2str(rc));
      ok = false;
    }
  }
  return ok;
}

int Producer::poll(std::chrono::milliseconds timeout) {
  return producer_->poll(static_cast<int>(timeout.count()));
}

bool Producer::flush(std::chrono::milliseconds timeout) {
  producer_->flush(static_cast<int>(timeout.count()));
  producer_->poll(0);
  return producer_->outq_len() == 0;
}

void Producer::purge_and_report() {
  producer_->purge(RdKafka::Producer::PURGE_QUEUE | RdKafka::Producer::PURGE_INFLIGHT);
  // Purged records report ERR__PURGE_QUEUE/INFLIGHT through the normal delivery path.
  producer_->poll(100);
}

int Producer::outstanding() const {
  return producer_->outq_len();
}

namespace {
void throw_if_error(RdKafka::Error* raw, const char* what) {
  if (raw == nullptr) return;
  std::unique_ptr<RdKafka::Error> e(raw);
  throw TxnError(std::string(what) + ": " + e->str(), e->is_retriable(), e->txn_requires_abort(),
                 e->is_fatal());
}
}  // namespace

void Producer::init_transactions(std::chrono::milliseconds timeout) {
  throw_if_error(producer_->init_transactions(static_cast<int>(timeout.count())), "init_transactions");
}
void Producer::begin_transaction() {
  throw_if_error(producer_->begin_transaction(), "begin_transaction");
}
void Producer::send_offsets_to_transaction(const std::vector<RdKafka::TopicPartition*>& offsets,
                                           const RdKafka::ConsumerGroupMetadata* group,
                                           std::chrono::milliseconds timeout) {
  throw_if_error(producer_->send_offsets_to_transaction(offsets, group, static_cast<int>(timeout.count())),
                 "send_offsets_to_transaction");
}
void Producer::commit_transaction(std::chrono::milliseconds timeout) {
  throw_if_error(producer_->commit_transaction(static_cast<int>(timeout.count())), "commit_transaction");
}
void Producer::abort_transaction(std::chrono::milliseconds timeout) {
  throw_if_error(producer_->abort_transaction(static_cast<int>(timeout.count())), "abort_transaction");
}

std::string Producer::fatal_error() {
  std::string errstr;
  const auto code = producer_->fatal_error(errstr);
  if (code == RdKafka::ERR_NO_ERROR) return {};
  return RdKafka::err2str(code) + ": " + errstr;
}

}  // namespace orderflow::messaging
