#include "orderflow/runtime/kafka_stats.h"

#include <nlohmann/json.hpp>

namespace orderflow::runtime {

namespace {

// The "type" value near the top of a statistics document, found without parsing it (the callback
// must stay cheap). librdkafka writes "name", "client_id", "type" first.
std::string client_type_of(std::string_view json) {
  const auto head = json.substr(0, 512);
  const auto at = head.find("\"type\"");
  if (at == std::string_view::npos) return "unknown";
  const auto open = head.find('"', head.find(':', at + 6) + 1);
  if (open == std::string_view::npos) return "unknown";
  const auto close = head.find('"', open + 1);
  if (close == std::string_view::npos) return "unknown";
  return std::string(head.substr(open + 1, close - open - 1));
}

}  // namespace

std::optional<KafkaStatsSample> parse_kafka_stats(std::string_view json) try {
  const auto doc = nlohmann::json::parse(json, nullptr, false);
  if (!doc.is_object() || !doc.contains("type") || !doc["type"].is_string()) return std::nullopt;
  KafkaStatsSample s;
  s.type = doc["type"].get<std::string>();
  if (auto it = doc.find("msg_cnt"); it != doc.end() && it->is_number_integer()) {
    s.queue_messages = it->get<std::int64_t>();
  }
  if (auto brokers = doc.find("brokers"); brokers != doc.end() && brokers->is_object()) {
    for (const auto& [name, b] : brokers->items()) {
      if (!b.is_object()) continue;
      const bool logical = b.value("source", std::string()) == "logical";
      if (!logical) {
        const auto state = b.value("state", std::string());
        if (state == "UP") {
          ++s.brokers_up;
        } else if (state != "INIT") {
          ++s.brokers_failing;
        }
      }
      // Bootstrap (-1) and logical (GroupCoordinator) entries would duplicate real brokers.
      const auto nodeid = b.value("nodeid", -1);
      if (nodeid < 0 || logical) continue;
      const auto rtt = b.find("rtt");
      if (rtt == b.end() || !rtt->is_object() || rtt->value("cnt", 0) <= 0) continue;
      const auto avg_us = rtt->value("avg", std::int64_t{-1});
      if (avg_us < 0) continue;
      s.broker_rtt_seconds.emplace_back(name, static_cast<double>(avg_us) / 1e6);
    }
  }
  return s;
} catch (const nlohmann::json::exception&) {
  return std::nullopt;  // a field of an unexpected type
}

KafkaStatsGauges::KafkaStatsGauges(prometheus::Registry& registry, const std::string& service)
    : queue_family_(prometheus::BuildGauge()
                        .Name("orderflow_producer_queue_messages")
                        .Help("Messages waiting in the producer's local queues (librdkafka msg_cnt)")
                        .Labels({{"service", service}})
                        .Register(registry)),
      rtt_family_(
          prometheus::BuildGauge()
              .Name("orderflow_broker_rtt_seconds")
              .Help("Average broker round-trip time over the last statistics interval, by client and broker")
              .Labels({{"service", service}})
              .Register(registry)),
      errors_(prometheus::BuildCounter()
                  .Name("orderflow_kafka_stats_errors_total")
                  .Help("librdkafka statistics documents that could not be parsed")
                  .Labels({{"service", service}})
                  .Register(registry)
                  .Add({})) {}

void KafkaStatsGauges::offer(std::string_view json) {
  auto type = client_type_of(json);
  const std::lock_guard lock(pending_mutex_);
  pending_[std::move(type)].assign(json.data(), json.size());
}

void KafkaStatsGauges::absorb_pending() {
  std::map<std::string, std::string, std::less<>> docs;
  {
    const std::lock_guard lock(pending_mutex_);
    docs.swap(pending_);
  }
  for (const auto& [type, json] : docs) {
    auto sample = parse_kafka_stats(json);
    if (!sample) {
      errors_.Increment();
      continue;
    }
    if (sample->type == "producer") {
      if (queue_ == nullptr) queue_ = &queue_family_.Add({});
      queue_->Set(static_cast<double>(sample->queue_messages));
    }
    for (const auto& [broker, seconds] : sample->broker_rtt_seconds) {
      auto key = std::make_pair(sample->type, broker);
      auto it = rtt_.find(key);
      if (it == rtt_.end()) {
        auto* g = &rtt_family_.Add({{"client", sample->type}, {"broker", broker}});
        it = rtt_.emplace(std::move(key), g).first;
      }
      it->second->Set(seconds);
    }
    auto sample_type = sample->type;
    latest_.insert_or_assign(std::move(sample_type), std::move(*sample));
  }
}

void KafkaStatsGauges::refresh() {
  const std::lock_guard lock(state_mutex_);
  absorb_pending();
}

std::optional<std::string> KafkaStatsGauges::broker_problem() {
  const std::lock_guard lock(state_mutex_);
  absorb_pending();
  // A consumer, when there is one, speaks for the service: it always keeps connections open (fetch,
  // group coordinator), while a producer with nothing to send may find an idle connection closed by
  // the broker (connections.max.idle.ms) without anything being wrong.
  const bool has_consumer = latest_.count("consumer") != 0;
  for (const auto& [type, sample] : latest_) {
    if (has_consumer && type != "consumer") continue;
    if (sample.brokers_up == 0 && sample.brokers_failing > 0) {
      return "not ready: the Kafka " + type + " has no working connection to any broker (" +
             std::to_string(sample.brokers_failing) + " down or reconnecting)";
    }
  }
  return std::nullopt;
}

}  // namespace orderflow::runtime
