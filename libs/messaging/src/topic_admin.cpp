#include "orderflow/messaging/topic_admin.h"

#include <librdkafka/rdkafka.h>

#include <array>

namespace orderflow::messaging {

TopicAdmin::TopicAdmin(const KafkaProperties& properties) : properties_(properties) {
  KafkaProperties p = properties;
  // Belt and braces: this client only sends all-topics metadata and admin requests, which name no topic
  // to auto-create, but no request of its own may ever create one.
  p.set("allow.auto.create.topics", "false");
  // Its failures are reported by the caller with librdkafka's reason, once per check, not per attempt.
  p.set("log_level", "0");
  auto conf = make_conf(p);
  std::string err;
  if (conf->set("event_cb", &errors_, err) != RdKafka::Conf::CONF_OK) {
    throw ConfigError("admin client callbacks: " + err);
  }
  client_.reset(RdKafka::Producer::create(conf.get(), err));
  if (!client_) throw ConfigError("cannot create the Kafka admin client: " + err);
}

TopicAdmin::~TopicAdmin() = default;

std::optional<std::map<std::string, int>> TopicAdmin::partition_counts(std::chrono::milliseconds timeout,
                                                                       std::string* error) {
  const rd_kafka_metadata_t* md = nullptr;
  const auto rc = rd_kafka_metadata(client_->c_ptr(), 1, nullptr, &md, static_cast<int>(timeout.count()));
  if (rc != RD_KAFKA_RESP_ERR_NO_ERROR) {
    client_->poll(0);  // serves the error events to errors_
    if (error != nullptr) {
      *error = rd_kafka_err2str(rc);
      if (const auto last = errors_.get()) {
        *error += " (last connection error: " +
                  describe_client_error(properties_, last->first, last->second, RdKafka::version()) + ")";
      }
    }
    return std::nullopt;
  }
  client_->poll(0);  // answered: what failed before (served now) is no reason for a later failure
  errors_.clear();
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
  out.reserve(names.size());
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

std::optional<TopicAdmin::Offsets> TopicAdmin::committed_offsets(const std::string& group,
                                                                 const std::map<std::string, int>& partitions,
                                                                 std::chrono::milliseconds timeout,
                                                                 std::string* error) {
  const auto fail = [error](std::string reason) -> std::optional<Offsets> {
    if (error != nullptr) *error = std::move(reason);
    return std::nullopt;
  };
  rd_kafka_t* rk = client_->c_ptr();
  rd_kafka_topic_partition_list_t* list = nullptr;
  if (!partitions.empty()) {
    list = rd_kafka_topic_partition_list_new(16);
    for (const auto& [topic, count] : partitions) {
      for (int p = 0; p < count; ++p) rd_kafka_topic_partition_list_add(list, topic.c_str(), p);
    }
  }
  rd_kafka_ListConsumerGroupOffsets_t* request = rd_kafka_ListConsumerGroupOffsets_new(group.c_str(), list);
  if (list != nullptr) rd_kafka_topic_partition_list_destroy(list);  // the request keeps a copy
  std::array<char, 512> err{};
  rd_kafka_AdminOptions_t* options =
      rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS);
  rd_kafka_AdminOptions_set_request_timeout(options, static_cast<int>(timeout.count()), err.data(),
                                            err.size());
  rd_kafka_queue_t* queue = rd_kafka_queue_new(rk);
  // librdkafka 2.0 takes one group per request.
  rd_kafka_ListConsumerGroupOffsets(rk, &request, 1, options, queue);
  // The request timeout bounds the answer; the margin covers the coordinator lookup before it.
  rd_kafka_event_t* ev = rd_kafka_queue_poll(queue, static_cast<int>(timeout.count()) + 1000);
  std::optional<Offsets> out;
  if (ev == nullptr) {
    out = fail("no answer to ListConsumerGroupOffsets within " + std::to_string(timeout.count() + 1000) +
               " ms");
  } else if (rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    out = fail(rd_kafka_event_error_string(ev));
  } else {
    out.emplace();
    std::size_t n = 0;
    const rd_kafka_group_result_t** groups = rd_kafka_ListConsumerGroupOffsets_result_groups(
        rd_kafka_event_ListConsumerGroupOffsets_result(ev), &n);
    for (std::size_t i = 0; i < n && out; ++i) {
      if (const rd_kafka_error_t* e = rd_kafka_group_result_error(groups[i])) {
        out = fail(rd_kafka_error_string(e));
        break;
      }
      const rd_kafka_topic_partition_list_t* parts = rd_kafka_group_result_partitions(groups[i]);
      for (int j = 0; parts != nullptr && j < parts->cnt; ++j) {
        const auto& tp = parts->elems[j];
        if (tp.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
          out = fail(std::string(tp.topic) + "[" + std::to_string(tp.partition) +
                     "]: " + rd_kafka_err2str(tp.err));
          break;
        }
        if (tp.offset >= 0) out->emplace(std::make_pair(std::string(tp.topic), tp.partition), tp.offset);
      }
    }
  }
  if (ev != nullptr) rd_kafka_event_destroy(ev);
  rd_kafka_queue_destroy(queue);
  rd_kafka_AdminOptions_destroy(options);
  rd_kafka_ListConsumerGroupOffsets_destroy(request);
  return out;
}

std::optional<std::pair<std::int64_t, std::int64_t>> TopicAdmin::watermarks(const std::string& topic,
                                                                            std::int32_t partition,
                                                                            std::chrono::milliseconds timeout,
                                                                            std::string* error) {
  std::int64_t low = 0;
  std::int64_t high = 0;
  const auto rc =
      client_->query_watermark_offsets(topic, partition, &low, &high, static_cast<int>(timeout.count()));
  if (rc != RdKafka::ERR_NO_ERROR) {
    if (error != nullptr) *error = RdKafka::err2str(rc);
    return std::nullopt;
  }
  return std::make_pair(low, high);
}

}  // namespace orderflow::messaging
