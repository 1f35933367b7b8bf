#include "backlog_reader.h"

#include <librdkafka/rdkafkacpp.h>

#include <memory>
#include <set>

#include "orderflow/messaging/kafka_client.h"
#include "orderflow/messaging/record.h"

namespace orderflow::messaging {

namespace {

RetryRecordInfo info_of(const RdKafka::Message& msg) {
  RetryRecordInfo r;
  r.offset = msg.offset();
  r.key = message_key(msg);
  // As StageRunner::origin_of: where the record was first read, its own position where a header is missing.
  r.origin.topic = find_header(msg, header::kOriginalTopic).value_or(msg.topic_name());
  r.origin.partition = static_cast<std::int32_t>(
      parse_int_header(find_header(msg, header::kOriginalPartition)).value_or(msg.partition()));
  r.origin.offset = parse_int_header(find_header(msg, header::kOriginalOffset)).value_or(msg.offset());
  return r;
}

}  // namespace

bool read_backlog(const KafkaProperties& consumer_props, const std::string& topic,
                  const std::map<std::int32_t, std::int64_t>& from, std::chrono::milliseconds timeout,
                  std::map<std::int32_t, std::vector<RetryRecordInfo>>& out, std::string* error) {
  out.clear();
  if (from.empty()) return true;
  KafkaProperties props = consumer_props;
  // The end of each partition is where the broker reports EOF (the high watermark, or the last stable
  // offset under read_committed).
  props.set("enable.partition.eof", "true");
  props.set("enable.auto.commit", "false");
  props.set("auto.offset.reset", "earliest");
  props.set("fetch.wait.max.ms", "10");
  props.set("statistics.interval.ms", "0");
  std::string err;
  auto conf = make_conf(props);
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(RdKafka::KafkaConsumer::create(conf.get(), err));
  if (!consumer) {
    if (error != nullptr) *error = "cannot create the backlog reader: " + err;
    return false;
  }
  TopicPartitionList list;
  std::set<std::int32_t> open;
  for (const auto& [partition, offset] : from) {
    list.add(topic, partition, offset >= 0 ? offset : RdKafka::Topic::OFFSET_BEGINNING);
    open.insert(partition);
    out[partition];
  }
  if (const auto e = consumer->assign(list.items()); e != RdKafka::ERR_NO_ERROR) {
    if (error != nullptr) *error = "assign: " + RdKafka::err2str(e);
    consumer->close();
    return false;
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!open.empty()) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    std::unique_ptr<RdKafka::Message> msg(
        consumer->consume(static_cast<int>(std::min<std::int64_t>(left.count(), 100))));
    if (!msg) continue;
    if (msg->err() == RdKafka::ERR__PARTITION_EOF) {
      open.erase(msg->partition());
    } else if (msg->err() == RdKafka::ERR_NO_ERROR) {
      if (open.count(msg->partition()) != 0) out[msg->partition()].push_back(info_of(*msg));
    } else if (msg->err() != RdKafka::ERR__TIMED_OUT) {
      if (error != nullptr) *error = RdKafka::err2str(msg->err()) + ": " + msg->errstr();
    }
  }
  consumer->close();
  if (open.empty()) {
    if (error != nullptr) error->clear();
    return true;
  }
  if (error != nullptr && error->empty()) {
    *error = std::to_string(open.size()) + " partition(s) not read to their end within " +
             std::to_string(timeout.count()) + " ms";
  }
  return false;
}

}  // namespace orderflow::messaging
