// An in-memory RdKafka::Message (topic, partition, offset, key, value, headers) so record handlers can be
// unit-tested and micro-benchmarked without a broker. Only what handlers read is meaningful, and it
// behaves like librdkafka's MessageImpl where cost matters: topic_name() returns a fresh std::string,
// headers() hands out an RdKafka::Headers whose get_last()/get_all() copy names and values.
// Target orderflow::messaging_testing (header only); used by tests/unit and bench/.
#pragma once

#include <librdkafka/rdkafkacpp.h>

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace orderflow::testing {

class FakeMessage final : public RdKafka::Message {
 public:
  FakeMessage(std::string topic, std::string value, std::optional<std::string> key = std::nullopt,
              const std::vector<std::pair<std::string, std::string>>& headers = {},
              std::int32_t partition = 0, std::int64_t offset = 0)
      : topic_(std::move(topic)),
        value_(std::move(value)),
        key_(std::move(key)),
        partition_(partition),
        offset_(offset) {
    if (!headers.empty()) {
      headers_.reset(RdKafka::Headers::create());
      for (const auto& [k, v] : headers) headers_->add(k, v);
    }
  }

  std::string errstr() const override { return {}; }
  RdKafka::ErrorCode err() const override { return RdKafka::ERR_NO_ERROR; }
  RdKafka::Topic* topic() const override { return nullptr; }
  std::string topic_name() const override { return topic_; }
  int32_t partition() const override { return partition_; }
  void* payload() const override { return const_cast<char*>(value_.data()); }
  size_t len() const override { return value_.size(); }
  const std::string* key() const override { return key_ ? &*key_ : nullptr; }
  const void* key_pointer() const override { return key_ ? key_->data() : nullptr; }
  size_t key_len() const override { return key_ ? key_->size() : 0; }
  int64_t offset() const override { return offset_; }
  RdKafka::MessageTimestamp timestamp() const override {
    RdKafka::MessageTimestamp ts{};
    ts.type = RdKafka::MessageTimestamp::MSG_TIMESTAMP_NOT_AVAILABLE;
    ts.timestamp = -1;
    return ts;
  }
  void* msg_opaque() const override { return nullptr; }
  int64_t latency() const override { return -1; }
  struct rd_kafka_message_s* c_ptr() override {
    return nullptr;
  }
  Status status() const override { return MSG_STATUS_PERSISTED; }
  RdKafka::Headers* headers() override { return headers_.get(); }
  RdKafka::Headers* headers(RdKafka::ErrorCode* err) override {
    if (err != nullptr) *err = RdKafka::ERR_NO_ERROR;
    return headers_.get();
  }
  int32_t broker_id() const override { return -1; }

  [[nodiscard]] const std::string& value() const { return value_; }
  [[nodiscard]] const std::string* key_ptr() const { return key_ ? &*key_ : nullptr; }

 private:
  std::string topic_;
  std::string value_;
  std::optional<std::string> key_;
  std::int32_t partition_;
  std::int64_t offset_;
  std::unique_ptr<RdKafka::Headers> headers_;
};

}  // namespace orderflow::testing
