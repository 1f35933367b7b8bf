#include "orderflow/messaging/topic_admin.h"

#include <librdkafka/rdkafka.h>

#include <array>

namespace orderflow::messaging {

TopicAdmin::TopicAdmin(const KafkaProperties& properties) {
  KafkaProperties p = properties;
  // Belt and braces: this client only sends all-topics metadata and admin requests, which name no topic
  // to auto-create, but no request of its own may ever create one.
  p.set("allow.auto.create.topics", "false");
  // Its failures are reported by the caller with librdkafka's reason, once per check, not per attempt.
  p.set("log_level", "0");
  auto conf = make_conf(p);
  std::string err;
  client_.reset(RdKafka::Producer::create(conf.get(), err));
  if (!client_) throw ConfigError("cannot create the Kafka admin client: " + err);
}

TopicAdmin::~TopicAdmin() = default;

std::optional<std::map<std::string, int>> TopicAdmin::partition_counts(std::chrono::milliseconds timeout,
                                                                       std::string* error) {
  const rd_kafka_metadata_t* md = nullptr;
  const auto rc = rd_kafka_metadata(client_->c_ptr(), 1, nullptr, &md, static_cast<int>(timeout.count()));
  if (rc != RD_KAFKA_RESP_ERR_NO_ERROR) {
    if (error != nullptr) *error = rd_kafka_err2str(rc);
    return std::nullopt;
  }
  std::map<std::string, int> out;
  for (int i = 0; i < md->topic_cnt; ++i) {
    const auto& t = md->topics[i];
    // A topic being created can be listed before its partitions are: it is not usable yet.
    if (t.err == RD_KAFKA_RESP_ERR_NO_ERROR && t.partition_cnt > 0) out.emplace(t.topic, t.partition_cnt);
  }
  rd_kafka_metadata_destroy(md);
  return out;
}

std::vector<TopicAdmin::Created> TopicAdmin::create(const std::vector<std::string>& names, int partitions,
                                                    std::chrono::milliseconds timeout,
                                                    const std::atomic<bool>* stop) {
  std::vector<Created> out;
  for (const auto& n : names) out.push_back(Created{n, {}, false});
  if (names.empty()) return out;
  rd_kafka_t* rk = client_->c_ptr();
  std::array<char, 512> err{};
  std::vector<rd_kafka_NewTopic_t*> topics;
  for (auto& c : out) {
    auto* t = rd_kafka_NewTopic_new(c.topic.c_str(), partitions, -1, err.data(), err.size());
    if (t == nullptr) {
      c.error = err.data();
      continue;
    }
    topics.push_back(t);
  }
  if (!topics.empty()) {
    const auto ms = static_cast<int>(timeout.count());
    rd_kafka_AdminOptions_t* options = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_AdminOptions_set_request_timeout(options, ms, err.data(), err.size());
    rd_kafka_AdminOptions_set_operation_timeout(options, ms, err.data(), err.size());
    rd_kafka_queue_t* queue = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, topics.data(), topics.size(), options, queue);
    // The request timeout bounds the answer; the margin covers the controller lookup before it.
    // Polled in slices so that a stop request does not wait for a broker that never answers.
    const auto deadline = std::chrono::steady_clock::now() + timeout + std::chrono::seconds(5);
    rd_kafka_event_t* ev = nullptr;
    while (ev == nullptr && std::chrono::steady_clock::now() < deadline &&
           (stop == nullptr || !stop->load())) {
      ev = rd_kafka_queue_poll(queue, 100);
    }
    std::string request_error;
    if (ev == nullptr) {
      request_error = stop != nullptr && stop->load()
                          ? "interrupted by a stop request"
                          : "no answer within " + std::to_string(ms + 5000) + " ms";
    } else if (rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      request_error = rd_kafka_event_error_string(ev);
    } else {
      std::size_t n = 0;
      const rd_kafka_topic_result_t** results =
          rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
      for (std::size_t i = 0; i < n; ++i) {
        const std::string name = rd_kafka_topic_result_name(results[i]);
        const auto code = rd_kafka_topic_result_error(results[i]);
        for (auto& c : out) {
          if (c.topic != name) continue;
          if (code == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
            c.existed = true;  // another instance of the group was first
          } else if (code != RD_KAFKA_RESP_ERR_NO_ERROR) {
            const char* text = rd_kafka_topic_result_error_string(results[i]);
            c.error = text != nullptr && *text != '\0' ? text : rd_kafka_err2str(code);
          }
        }
      }
    }
    if (!request_error.empty()) {
      for (auto& c : out) {
        if (c.error.empty()) c.error = request_error;
      }
    }
    if (ev != nullptr) rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(queue);
    rd_kafka_AdminOptions_destroy(options);
    for (auto* t : topics) rd_kafka_NewTopic_destroy(t);
  }
  return out;
}

}  // namespace orderflow::messaging
