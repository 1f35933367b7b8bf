// consumer_properties: the consumer's defaults (manual commits, a bounded prefetch queue) and the
// precedence of the caller's properties (-X, KAFKA_PROPERTIES, config file) over them; the assignment
// strategy a stage asks for.
#include <gtest/gtest.h>

#include "orderflow/messaging/consumer.h"
#include "orderflow/messaging/stage.h"

namespace {

using orderflow::messaging::ConfigError;
using orderflow::messaging::consumer_properties;
using orderflow::messaging::ConsumerOptions;

ConsumerOptions options() {
  ConsumerOptions o;
  o.properties.set("bootstrap.servers", "127.0.0.1:9092");
  o.group_id = "g";
  o.topics = {"orders"};
  return o;
}

TEST(ConsumerPropertiesTest, Defaults) {
  const auto p = consumer_properties(options());
  ASSERT_NE(p.find("enable.auto.commit"), nullptr);
  EXPECT_EQ(*p.find("enable.auto.commit"), "false");
  EXPECT_EQ(*p.find("enable.auto.offset.store"), "false");
  ASSERT_NE(p.find("queued.max.messages.kbytes"), nullptr);
  EXPECT_EQ(*p.find("queued.max.messages.kbytes"), "20480");
  ASSERT_NE(p.find("socket.nagle.disable"), nullptr);
  EXPECT_EQ(*p.find("socket.nagle.disable"), "true");
  ASSERT_NE(p.find("fetch.max.bytes"), nullptr);
  EXPECT_EQ(*p.find("fetch.max.bytes"), "2097152");
  EXPECT_EQ(*p.find("group.id"), "g");
  EXPECT_EQ(*p.find("bootstrap.servers"), "127.0.0.1:9092");
  EXPECT_EQ(p.find("isolation.level"), nullptr);
  EXPECT_EQ(p.find("statistics.interval.ms"), nullptr);
}

TEST(ConsumerPropertiesTest, FetchQueueBackoffOnlyWhereLibrdkafkaHasIt) {
  // librdkafka 2.0.x (Debian 12) has no fetch.queue.backoff.ms (setting it fails); 2.2 added it.
  EXPECT_EQ(consumer_properties(options(), 0x020002ff).find("fetch.queue.backoff.ms"), nullptr);
  EXPECT_EQ(consumer_properties(options(), 0x020100ff).find("fetch.queue.backoff.ms"), nullptr);
  const auto p22 = consumer_properties(options(), 0x020200ff);
  ASSERT_NE(p22.find("fetch.queue.backoff.ms"), nullptr);
  EXPECT_EQ(*p22.find("fetch.queue.backoff.ms"), "10");
  const auto p28 = consumer_properties(options(), 0x020800ff);
  ASSERT_NE(p28.find("fetch.queue.backoff.ms"), nullptr);
  // The linked library: the property is set exactly when librdkafka accepts it.
  const auto linked = consumer_properties(options());
  EXPECT_NO_THROW(orderflow::messaging::make_conf(linked));
  EXPECT_EQ(linked.find("fetch.queue.backoff.ms") != nullptr, RdKafka::version() >= 0x020200ff);
  // A user's -X wins.
  auto o = options();
  o.properties.set("fetch.queue.backoff.ms", "50");
  EXPECT_EQ(*consumer_properties(o, 0x020800ff).find("fetch.queue.backoff.ms"), "50");
}

TEST(ConsumerPropertiesTest, CallerPropertiesWinOverDefaults) {
  auto o = options();
  o.properties.set("queued.max.messages.kbytes", "65536");
  o.properties.set("auto.offset.reset", "latest");
  o.properties.set("socket.nagle.disable", "false");
  const auto p = consumer_properties(o);
  EXPECT_EQ(*p.find("queued.max.messages.kbytes"), "65536");
  EXPECT_EQ(*p.find("socket.nagle.disable"), "false");
  EXPECT_EQ(*p.find("auto.offset.reset"), "latest");
  EXPECT_NO_THROW(orderflow::messaging::make_conf(p));
}

TEST(ConsumerPropertiesTest, FetchMaxBytesFollowsALargerMessageMaxBytes) {
  auto o = options();
  o.properties.set("message.max.bytes", "5000000");
  const auto p = consumer_properties(o);
  EXPECT_EQ(*p.find("fetch.max.bytes"), "5000000");
  EXPECT_NO_THROW(orderflow::messaging::make_conf(p))
      << "librdkafka requires fetch.max.bytes >= message.max.bytes";

  auto smaller = options();
  smaller.properties.set("message.max.bytes", "100000");
  EXPECT_EQ(*consumer_properties(smaller).find("fetch.max.bytes"), "2097152");

  auto explicit_fetch = options();
  explicit_fetch.properties.set("fetch.max.bytes", "52428800");
  EXPECT_EQ(*consumer_properties(explicit_fetch).find("fetch.max.bytes"), "52428800");
}

TEST(ConsumerPropertiesTest, ReadCommittedAndStatistics) {
  auto o = options();
  o.read_committed = true;
  o.on_stats = [](std::string_view) {};
  const auto p = consumer_properties(o);
  EXPECT_EQ(*p.find("isolation.level"), "read_committed");
  EXPECT_EQ(*p.find("statistics.interval.ms"), "5000");
}

TEST(ConsumerPropertiesTest, AutoCommitIsRejected) {
  auto o = options();
  o.properties.set("enable.auto.commit", "true");
  EXPECT_THROW(consumer_properties(o), ConfigError);
}

TEST(ConsumerPropertiesTest, AssignmentStrategy) {
  EXPECT_EQ(*consumer_properties(options()).find("partition.assignment.strategy"), "cooperative-sticky");
  auto o = options();
  o.assignment_strategy = "range";
  EXPECT_EQ(*consumer_properties(o).find("partition.assignment.strategy"), "range");
  o.properties.set("partition.assignment.strategy", "roundrobin");
  EXPECT_EQ(*consumer_properties(o).find("partition.assignment.strategy"), "roundrobin") << "-X wins";
}

// --retry-ordering key needs input partition p and retry partition p on one instance: the stage's consumer
// uses the range assignor, and an -X asking for another one is a configuration error.
TEST(ConsumerPropertiesTest, KeyOrderingStageRequiresTheRangeAssignor) {
  using orderflow::messaging::RetryOrdering;
  using orderflow::messaging::StageOptions;
  using orderflow::messaging::StageRunner;
  StageOptions s;
  s.service = "payment-service";
  s.group_id = "payment-service";
  s.input_topics = {"orders"};
  s.kafka.set("bootstrap.servers", "127.0.0.1:9092");
  s.retry_ordering = RetryOrdering::Key;
  EXPECT_NO_THROW(StageRunner::check_config(s));
  s.kafka.set("partition.assignment.strategy", "range");
  EXPECT_NO_THROW(StageRunner::check_config(s));
  s.kafka.set("partition.assignment.strategy", "cooperative-sticky");
  try {
    StageRunner::check_config(s);
    ADD_FAILURE() << "accepted cooperative-sticky with --retry-ordering key";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("partition.assignment.strategy=range"), std::string::npos)
        << e.what();
  }
  s.retry_ordering = RetryOrdering::None;
  EXPECT_NO_THROW(StageRunner::check_config(s)) << "without key ordering any assignor goes";
}

}  // namespace
