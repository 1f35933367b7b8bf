// The settings our delivery guarantees rest on, read back from the configuration of the librdkafka
// handles that Producer and Consumer really create (rd_kafka_conf of the live handle, not the property
// list they start from), and what a user's -X does to each of them (docs/contract.md §2, §5, §8).
// No broker: the handles are created against a port nothing listens on and never asked to connect.
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafkacpp.h>

#include <string>
#include <vector>

#include "orderflow/messaging/consumer.h"
#include "orderflow/messaging/producer.h"

namespace orderflow::messaging {
namespace {

// A property's value as the handle holds it ("<unset>" for a string property without a value, or an
// unknown name); topic-level properties (acks, partitioner, message.timeout.ms) come from the handle's
// default topic configuration.
std::string effective(RdKafka::Handle& handle, const char* name) {
  const rd_kafka_conf_t* conf = rd_kafka_conf(handle.c_ptr());
  std::size_t size = 0;
  if (rd_kafka_conf_get(conf, name, nullptr, &size) != RD_KAFKA_CONF_OK) return "<unset>";
  std::string value(size, '\0');
  rd_kafka_conf_get(conf, name, value.data(), &size);
  value.resize(size > 0 ? size - 1 : 0);  // size counts the terminating NUL
  return value;
}

ProducerOptions producer_options(const std::vector<std::pair<std::string, std::string>>& x = {}) {
  ProducerOptions o;
  o.properties.set("bootstrap.servers", "127.0.0.1:1");
  o.properties.set("log_level", "0");
  for (const auto& [k, v] : x) o.properties.set(k, v);  // what -X / KAFKA_PROPERTIES would add
  return o;
}

void no_delivery(const DeliveryReport&) {}

TEST(DeliverySettingsTest, ProducerIsIdempotentWithAcksAllOneRequestInFlightAndTheJavaPartitioner) {
  Producer p(producer_options(), no_delivery);
  auto& h = p.handle();
  EXPECT_EQ(effective(h, "enable.idempotence"), "true");
  EXPECT_EQ(effective(h, "acks"), "-1") << "acks=all (librdkafka stores it as -1)";
  // One request in flight per connection: with more, librdkafka 2.0.x reports a batch delivered that a
  // broker never wrote when the batch before it failed with a not-persisted error and the next one was
  // accepted ("implicitly acked"; producer.cpp explains it). Seen as orders missing under load.
  EXPECT_EQ(effective(h, "max.in.flight.requests.per.connection"), "1");
  // murmur2 as Java's default partitioner: the same key lands on the same partition whichever client
  // produced it (random only for records without a key).
  EXPECT_EQ(effective(h, "partitioner"), "murmur2_random");
  // A record that timed out locally may still have been written: a long timeout keeps librdkafka
  // retrying it instead of handing the service a failure whose retry would be a duplicate.
  EXPECT_EQ(effective(h, "message.timeout.ms"), "300000");
  EXPECT_EQ(effective(h, "transactional.id"), "<unset>");
}

TEST(DeliverySettingsTest, TransactionalProducerKeepsTheGuaranteesAndFitsTheTransactionTimeout) {
  auto o = producer_options();
  o.transactional_id = "payment-service-0";
  Producer p(o, no_delivery);
  auto& h = p.handle();
  EXPECT_EQ(effective(h, "transactional.id"), "payment-service-0");
  EXPECT_EQ(effective(h, "enable.idempotence"), "true");
  EXPECT_EQ(effective(h, "acks"), "-1");
  EXPECT_EQ(effective(h, "max.in.flight.requests.per.connection"), "1");
  EXPECT_EQ(effective(h, "partitioner"), "murmur2_random");
  // librdkafka refuses a transactional producer whose message.timeout.ms exceeds transaction.timeout.ms.
  EXPECT_EQ(effective(h, "message.timeout.ms"), effective(h, "transaction.timeout.ms"));
}

// contract §8 / §5: idempotence with acks other than all is refused (exit 2 in the services).
TEST(DeliverySettingsTest, UserAcksOtherThanAllIsRefused) {
  for (const char* acks : {"0", "1"}) {
    EXPECT_THROW(Producer(producer_options({{"acks", acks}}), no_delivery), ConfigError) << "acks=" << acks;
    EXPECT_THROW(Producer::check_config(producer_options({{"acks", acks}})), ConfigError) << "acks=" << acks;
  }
  Producer p(producer_options({{"acks", "-1"}}), no_delivery);  // the numeric spelling of all
  EXPECT_EQ(effective(p.handle(), "acks"), "-1");
}

// contract §5: in exactly-once mode the service sets transactional.id after -X.
TEST(DeliverySettingsTest, UserTransactionalIdDoesNotReplaceTheServicesOwn) {
  auto o = producer_options({{"transactional.id", "someone-else"}});
  o.transactional_id = "payment-service-0";
  Producer p(o, no_delivery);
  EXPECT_EQ(effective(p.handle(), "transactional.id"), "payment-service-0");
}

// contract §8: idempotence and one request in flight are not for -X to undo (a retried batch written
// twice; a failed batch reported delivered by librdkafka 2.0 with several requests in flight).
TEST(DeliverySettingsTest, UserWeakeningOfIdempotenceOrInFlightIsRefused) {
  for (const auto& [key, value] : std::vector<std::pair<std::string, std::string>>{
           {"enable.idempotence", "false"}, {"max.in.flight.requests.per.connection", "5"}}) {
    EXPECT_THROW(Producer(producer_options({{key, value}}), no_delivery), ConfigError) << key << "=" << value;
    EXPECT_THROW(Producer::check_config(producer_options({{key, value}})), ConfigError)
        << key << "=" << value;
  }
  Producer p(
      producer_options({{"enable.idempotence", "true"}, {"max.in.flight.requests.per.connection", "1"}}),
      no_delivery);
  EXPECT_EQ(effective(p.handle(), "enable.idempotence"), "true");
}

// contract §2: -X entries are passed to librdkafka and the later entry wins; §8 lists the only producer
// settings that are refused, and the partitioner is not among them.
TEST(DeliverySettingsTest, OtherUserOverridesOfProducerSettingsWin) {
  Producer p(producer_options({{"partitioner", "consistent_random"}}), no_delivery);
  EXPECT_EQ(effective(p.handle(), "partitioner"), "consistent_random");
}

class NoRebalance final : public RebalanceListener {
 public:
  void on_assigned(const std::vector<TopicPartitionKey>&) override {}
  void on_revoking(const std::vector<TopicPartitionKey>&, bool) override {}
};

ConsumerOptions consumer_options(const std::vector<std::pair<std::string, std::string>>& x = {}) {
  ConsumerOptions o;
  o.properties.set("bootstrap.servers", "127.0.0.1:1");
  o.properties.set("log_level", "0");
  for (const auto& [k, v] : x) o.properties.set(k, v);
  o.group_id = "payment-service";
  o.topics = {"orders"};
  return o;
}

TEST(DeliverySettingsTest, ConsumerCommitsOnlyWhatTheServiceCommits) {
  NoRebalance listener;
  Consumer c(consumer_options(), listener);
  auto& h = c.handle();
  // Offsets are committed by the service after the outputs were acknowledged, never by librdkafka.
  EXPECT_EQ(effective(h, "enable.auto.commit"), "false");
  EXPECT_EQ(effective(h, "enable.auto.offset.store"), "false");
  EXPECT_EQ(effective(h, "group.id"), "payment-service");
}

TEST(DeliverySettingsTest, ExactlyOnceConsumerReadsCommittedWhateverTheUserSets) {
  NoRebalance listener;
  // contract §5: isolation.level=read_committed and group.id are set after -X.
  auto o = consumer_options({{"isolation.level", "read_uncommitted"}, {"group.id", "someone-else"}});
  o.read_committed = true;
  Consumer c(o, listener);
  EXPECT_EQ(effective(c.handle(), "isolation.level"), "read_committed");
  EXPECT_EQ(effective(c.handle(), "group.id"), "payment-service");
  EXPECT_EQ(effective(c.handle(), "enable.auto.commit"), "false");
}

// contract §8: -X enable.auto.commit=true is refused.
TEST(DeliverySettingsTest, UserAutoCommitIsRefused) {
  NoRebalance listener;
  EXPECT_THROW(Consumer(consumer_options({{"enable.auto.commit", "true"}}), listener), ConfigError);
  EXPECT_THROW(Consumer::check_config(consumer_options({{"enable.auto.commit", "true"}})), ConfigError);
}

}  // namespace
}  // namespace orderflow::messaging
