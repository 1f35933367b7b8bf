// topic-span: what a stage wrote, read back from its output topic for the pipeline benchmark.
// Prints one JSON line: records (Σ high − low watermarks), low_nonzero (partitions whose low
// watermark rose above 0: the mock dropped records), first_ts_ms / last_ts_ms (the smallest CreateTime
// of the first record and the largest of the last record over all partitions).
// A stage's producer stamps CreateTime when the record is produced, i.e. right after the input was
// consumed and processed, and one producer writes each partition in order, so
// [first_ts_ms, last_ts_ms] is "first consumed → last produced" of that stage to ~1 ms, without the
// group join and without sampling a metrics endpoint.
//
//   topic-span --brokers HOST:PORT --topic T
#include <librdkafka/rdkafka.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <map>
#include <string>
#include <vector>

namespace {

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "topic-span: %s\n", what.c_str());
  std::exit(2);
}

struct Part {
  std::int64_t low = 0;
  std::int64_t high = 0;
};

// Reads the record at `offset` of every listed partition; returns partition → timestamp.
std::map<std::int32_t, std::int64_t> read_at(rd_kafka_t* rk, const std::string& topic,
                                             const std::map<std::int32_t, std::int64_t>& offsets) {
  std::map<std::int32_t, std::int64_t> out;
  if (offsets.empty()) return out;
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(static_cast<int>(offsets.size()));
  for (const auto& [p, o] : offsets) rd_kafka_topic_partition_list_add(list, topic.c_str(), p)->offset = o;
  if (rd_kafka_assign(rk, list) != RD_KAFKA_RESP_ERR_NO_ERROR) die("assign failed");
  rd_kafka_topic_partition_list_destroy(list);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (out.size() < offsets.size() && std::chrono::steady_clock::now() < deadline) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 100);
    if (m == nullptr) continue;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR && out.count(m->partition) == 0 &&
        offsets.count(m->partition) != 0 && m->offset == offsets.at(m->partition)) {
      rd_kafka_timestamp_type_t type;
      out[m->partition] = rd_kafka_message_timestamp(m, &type);
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_assign(rk, nullptr);
  if (out.size() < offsets.size()) die("timed out reading " + topic);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::string brokers;
  std::string topic;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--brokers") {
      brokers = argv[i + 1];
    } else if (a == "--topic") {
      topic = argv[i + 1];
    } else {
      die("unknown flag " + a);
    }
  }
  if (brokers.empty() || topic.empty()) die("usage: topic-span --brokers HOST:PORT --topic T");
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  const std::pair<const char*, const char*> settings[] = {
      {"bootstrap.servers", brokers.c_str()}, {"group.id", "topic-span"},  {"enable.auto.commit", "false"},
      {"socket.nagle.disable", "true"},       {"fetch.wait.max.ms", "10"}, {"log_level", "3"}};
  for (const auto& [k, v] : settings) {
    if (rd_kafka_conf_set(conf, k, v, err, sizeof err) != RD_KAFKA_CONF_OK) die(err);
  }
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
  if (rk == nullptr) die(err);
  rd_kafka_poll_set_consumer(rk);

  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
  const rd_kafka_metadata_t* md = nullptr;
  if (rd_kafka_metadata(rk, 0, rkt, &md, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR || md->topic_cnt != 1) {
    die("no metadata for " + topic);
  }
  std::map<std::int32_t, Part> parts;
  for (int p = 0; p < md->topics[0].partition_cnt; ++p) {
    const std::int32_t id = md->topics[0].partitions[p].id;
    Part part;
    if (rd_kafka_query_watermark_offsets(rk, topic.c_str(), id, &part.low, &part.high, 10000) !=
        RD_KAFKA_RESP_ERR_NO_ERROR) {
      die("watermarks of " + topic);
    }
    parts[id] = part;
  }
  rd_kafka_metadata_destroy(md);
  rd_kafka_topic_destroy(rkt);

  std::int64_t records = 0;
  int low_nonzero = 0;
  std::map<std::int32_t, std::int64_t> firsts;
  std::map<std::int32_t, std::int64_t> lasts;
  for (const auto& [id, part] : parts) {
    records += part.high - part.low;
    if (part.low > 0) ++low_nonzero;
    if (part.high > part.low) {
      firsts[id] = part.low;
      lasts[id] = part.high - 1;
    }
  }
  std::int64_t first_ts = std::numeric_limits<std::int64_t>::max();
  std::int64_t last_ts = 0;
  for (const auto& [p, ts] : read_at(rk, topic, firsts)) first_ts = std::min(first_ts, ts);
  for (const auto& [p, ts] : read_at(rk, topic, lasts)) last_ts = std::max(last_ts, ts);
  if (firsts.empty()) first_ts = 0;
  std::printf(
      "{\"topic\": \"%s\", \"partitions\": %zu, \"records\": %lld, \"low_nonzero\": %d, "
      "\"first_ts_ms\": %lld, \"last_ts_ms\": %lld}\n",
      topic.c_str(), parts.size(), static_cast<long long>(records), low_nonzero,
      static_cast<long long>(first_ts), static_cast<long long>(last_ts));
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  return 0;
}
