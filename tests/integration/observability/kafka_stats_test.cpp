// The librdkafka statistics gauges, fed with real statistics documents of a producer talking to the
// dev broker: parsed at scrape time (Collect), queue depth and per-broker round-trip time exposed,
// and the exposition lint-clean.
#include "orderflow/runtime/kafka_stats.h"

#include <gtest/gtest.h>
#include <librdkafka/rdkafkacpp.h>
#include <prometheus/text_serializer.h>

#include <memory>
#include <mutex>
#include <sstream>

#include "observability_support.h"
#include "orderflow/runtime/metrics.h"
#include "orderflow/testing/dev_broker.h"
#include "orderflow/testing/gtest_require.h"
#include "orderflow/testing/wait.h"
#include "pipeline_fixture.h"

namespace orderflow::testing {
namespace {

using namespace std::chrono_literals;

class StatsCapture : public RdKafka::EventCb {
 public:
  void event_cb(RdKafka::Event& e) override {
    if (e.type() != RdKafka::Event::EVENT_STATS) return;
    const std::lock_guard lock(mutex_);
    last_ = e.str();
  }
  std::string last() {
    const std::lock_guard lock(mutex_);
    return last_;
  }

 private:
  std::mutex mutex_;
  std::string last_;
};

std::string exposition(runtime::ServiceMetrics& metrics) {
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, metrics.registry_ptr()->Collect());
  return out.str();
}

TEST(KafkaStatsTest, RealStatisticsBecomeQueueAndRttGauges) {
  DevBroker broker(1);
  StatsCapture capture;
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string err;
  ASSERT_EQ(conf->set("bootstrap.servers", broker.bootstrap(), err), RdKafka::Conf::CONF_OK) << err;
  ASSERT_EQ(conf->set("statistics.interval.ms", "200", err), RdKafka::Conf::CONF_OK) << err;
  ASSERT_EQ(conf->set("event_cb", &capture, err), RdKafka::Conf::CONF_OK) << err;
  std::unique_ptr<RdKafka::Producer> producer(RdKafka::Producer::create(conf.get(), err));
  ASSERT_TRUE(producer) << err;
  for (int i = 0; i < 20; ++i) {
    std::string v = "v" + std::to_string(i);
    ASSERT_EQ(producer->produce("orders", RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
                                v.data(), v.size(), nullptr, 0, 0, nullptr),
              RdKafka::ERR_NO_ERROR);
  }
  ASSERT_EQ(producer->flush(10000), RdKafka::ERR_NO_ERROR);
  // A document written after round trips were measured.
  std::optional<runtime::KafkaStatsSample> sample;
  ASSERT_TRUE(wait_until(
      [&] {
        producer->poll(50);
        sample = runtime::parse_kafka_stats(capture.last());
        return sample && !sample->broker_rtt_seconds.empty();
      },
      20s))
      << capture.last().substr(0, 2000);
  EXPECT_EQ(sample->type, "producer");
  EXPECT_EQ(sample->queue_messages, 0);
  ASSERT_EQ(sample->broker_rtt_seconds.size(), 1U) << "one learned broker; bootstrap entries are skipped";
  EXPECT_GT(sample->broker_rtt_seconds[0].second, 0.0);
  EXPECT_LT(sample->broker_rtt_seconds[0].second, 5.0);

  runtime::ServiceMetrics metrics("obs-test");
  const auto before = exposition(metrics);
  EXPECT_EQ(before.find("orderflow_broker_rtt_seconds{"), std::string::npos);
  metrics.kafka_stats(capture.last());
  metrics.kafka_stats(
      "{\"name\": \"x\", \"type\": \"consumer\", \"brokers\": 7");  // truncated: counted, ignored
  const auto text = exposition(metrics);
  const auto& broker_name = sample->broker_rtt_seconds[0].first;
  EXPECT_NEAR(
      metric_value(text, "orderflow_broker_rtt_seconds", {{"client", "producer"}, {"broker", broker_name}}),
      sample->broker_rtt_seconds[0].second, 1e-9)
      << text;
  EXPECT_NE(text.find("orderflow_producer_queue_messages{service=\"obs-test\"} 0"), std::string::npos)
      << text;
  EXPECT_EQ(metric_value(text, "orderflow_kafka_stats_errors_total"), 1.0) << text;
  // Nothing new offered: the next scrape keeps the values and parses nothing.
  EXPECT_EQ(metric_value(exposition(metrics), "orderflow_kafka_stats_errors_total"), 1.0);

  ORDERFLOW_REQUIRE_TOOL(promtool, "promtool", "prometheus");
  const auto [rc, out] = promtool_check_metrics(*promtool, text);
  EXPECT_EQ(rc, 0) << out << "\n" << text;
}

TEST(KafkaStatsTest, ParserSkipsBootstrapAndLogicalBrokers) {
  const auto s = runtime::parse_kafka_stats(R"({"name":"rdkafka#consumer-1","type":"consumer","msg_cnt":5,
    "brokers":{
      "localhost:9092/bootstrap":{"nodeid":-1,"source":"configured","rtt":{"avg":900,"cnt":3}},
      "GroupCoordinator":{"nodeid":1,"source":"logical","rtt":{"avg":800,"cnt":3}},
      "localhost:9092/1":{"nodeid":1,"source":"learned","rtt":{"avg":1500,"cnt":2}},
      "localhost:9093/2":{"nodeid":2,"source":"learned","rtt":{"avg":0,"cnt":0}}}})");
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->type, "consumer");
  EXPECT_EQ(s->queue_messages, 5);
  ASSERT_EQ(s->broker_rtt_seconds.size(), 1U);
  EXPECT_EQ(s->broker_rtt_seconds[0].first, "localhost:9092/1");
  EXPECT_DOUBLE_EQ(s->broker_rtt_seconds[0].second, 0.0015);
  EXPECT_FALSE(runtime::parse_kafka_stats("[1,2]").has_value());
  EXPECT_FALSE(runtime::parse_kafka_stats("").has_value());
}

TEST(KafkaStatsTest, ConnectivityForReadiness) {
  const auto connected = runtime::parse_kafka_stats(R"({"type":"consumer","brokers":{
      "localhost:9092/bootstrap":{"nodeid":-1,"source":"configured","state":"UP"},
      "GroupCoordinator":{"nodeid":1,"source":"logical","state":"UP"},
      "localhost:9092/1":{"nodeid":1,"source":"learned","state":"UP"},
      "localhost:9093/2":{"nodeid":2,"source":"learned","state":"INIT"}}})");
  ASSERT_TRUE(connected.has_value());
  EXPECT_EQ(connected->brokers_up, 2);       // the logical entry does not count
  EXPECT_EQ(connected->brokers_failing, 0);  // INIT: never needed (sparse connections)
  const auto down = runtime::parse_kafka_stats(R"({"type":"consumer","brokers":{
      "localhost:9092/bootstrap":{"nodeid":-1,"source":"configured","state":"DOWN"},
      "GroupCoordinator":{"nodeid":1,"source":"logical","state":"UP"},
      "localhost:9092/1":{"nodeid":1,"source":"learned","state":"TRY_CONNECT"},
      "localhost:9093/2":{"nodeid":2,"source":"learned","state":"INIT"}}})");
  ASSERT_TRUE(down.has_value());
  EXPECT_EQ(down->brokers_up, 0);
  EXPECT_EQ(down->brokers_failing, 2);
  // A field of an unexpected type is a malformed document, not an exception.
  EXPECT_FALSE(runtime::parse_kafka_stats(R"({"type":"consumer","brokers":{"b":{"nodeid":"x","state":1}}})")
                   .has_value());

  runtime::ServiceMetrics metrics("test");
  EXPECT_EQ(metrics.broker_problem(), std::nullopt);  // no statistics yet
  const std::string idle_producer =
      R"({"type":"producer","brokers":{"localhost:9092/1":{"nodeid":1,"source":"learned","state":"INIT"}}})";
  metrics.kafka_stats(idle_producer);
  EXPECT_EQ(metrics.broker_problem(), std::nullopt);
  metrics.kafka_stats(
      R"({"type":"consumer","brokers":{"localhost:9092/1":{"nodeid":1,"source":"learned","state":"DOWN"}}})");
  const auto problem = metrics.broker_problem();
  ASSERT_TRUE(problem.has_value());
  EXPECT_NE(problem->find("not ready: the Kafka consumer has no working connection to any broker"),
            std::string::npos)
      << *problem;
  metrics.kafka_stats(
      R"({"type":"consumer","brokers":{"localhost:9092/1":{"nodeid":1,"source":"learned","state":"UP"}}})");
  EXPECT_EQ(metrics.broker_problem(), std::nullopt);
  // With a consumer connected, a producer whose idle connection the broker closed is no problem.
  metrics.kafka_stats(
      R"({"type":"producer","brokers":{"localhost:9092/1":{"nodeid":1,"source":"learned","state":"DOWN"}}})");
  EXPECT_EQ(metrics.broker_problem(), std::nullopt);
  // Without a consumer (order-producer), the producer's connections decide.
  runtime::ServiceMetrics producer_only("test");
  producer_only.kafka_stats(
      R"({"type":"producer","brokers":{"localhost:9092/1":{"nodeid":1,"source":"learned","state":"DOWN"}}})");
  EXPECT_TRUE(producer_only.broker_problem().has_value());
}

}  // namespace
}  // namespace orderflow::testing
