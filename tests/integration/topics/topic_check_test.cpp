// Missing topics are found at start, not at the first record that needs them (docs/contract.md §4 Topics, §10
// HTTP endpoints and logs): with the real binaries, a service whose dead-letter topic does not exist stays
// unready (/readyz 503 naming the topic and how to create it), consumes and commits nothing, and goes on by
// itself once the topic is created; --create-topics creates the retry and dead-letter topics with the input's
// partition count. Runs on the dev broker and, in the `kafka` variant, on real Kafka (no auto-creation
// there). Every test uses topic and group names of its own, and asserts on what landed in the topics and on
// the group's committed offsets.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <librdkafka/rdkafkacpp.h>

#include <map>
#include <memory>

#include "orderflow/messaging/topic_admin.h"
#include "orderflow/testing/mock_cluster.h"
#include "orderflow/testing/paths.h"
#include "orderflow/testing/produce.h"
#include "orderflow/testing/wait.h"
#include "pipeline_fixture.h"

namespace orderflow::testing {
namespace {

using namespace std::chrono_literals;

// What the service waits between two topic checks is 5 s; a window of two checks and a margin.
constexpr auto kTwoChecks = 11s;

std::unique_ptr<RdKafka::KafkaConsumer> client(const std::string& bootstrap, const std::string& group) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string err;
  for (const auto& [k, v] : std::map<std::string, std::string>{{"bootstrap.servers", bootstrap},
                                                               {"group.id", group},
                                                               {"enable.auto.commit", "false"},
                                                               {"allow.auto.create.topics", "false"},
                                                               {"log_level", "3"}}) {
    if (conf->set(k, v, err) != RdKafka::Conf::CONF_OK) throw std::runtime_error(err);
  }
  std::unique_ptr<RdKafka::KafkaConsumer> c(RdKafka::KafkaConsumer::create(conf.get(), err));
  if (!c) throw std::runtime_error(err);
  return c;
}

// Partition count of every existing topic. All-topics metadata: a request naming a topic would make the
// mock create it, and these tests must see whether the service created one.
std::map<std::string, int> existing_topics(const std::string& bootstrap) {
  auto c = client(bootstrap, "topic-check-probe");
  std::map<std::string, int> out;
  RdKafka::Metadata* raw = nullptr;
  if (c->metadata(true, nullptr, &raw, 10000) == RdKafka::ERR_NO_ERROR) {
    std::unique_ptr<RdKafka::Metadata> md(raw);
    for (const auto* t : *md->topics()) {
      if (t->err() == RdKafka::ERR_NO_ERROR) out[t->topic()] = static_cast<int>(t->partitions()->size());
    }
  }
  c->close();
  return out;
}

// Creates `name` as an operator would: the Admin API on real Kafka. The mock has no CreateTopics; it
// creates a topic (4 partitions) when a metadata request names it, which is what an operator of the dev
// broker gets by producing to it or passing --topic. Returns the partition count the topic got.
int make_topic(TestBroker& broker, const std::string& name, int partitions) {
  if (broker.is_real()) {
    create_topics(broker.bootstrap(), {name}, partitions);
  } else {
    auto c = client(broker.bootstrap(), "topic-check-creator");
    std::string err;
    std::unique_ptr<RdKafka::Topic> topic(RdKafka::Topic::create(c.get(), name, nullptr, err));
    RdKafka::Metadata* raw = nullptr;
    if (c->metadata(false, topic.get(), &raw, 10000) == RdKafka::ERR_NO_ERROR) delete raw;
    topic.reset();
    c->close();
  }
  int got = 0;
  wait_until(
      [&] {
        const auto topics = existing_topics(broker.bootstrap());
        const auto it = topics.find(name);
        got = it == topics.end() ? 0 : it->second;
        return got > 0;
      },
      30s, 200ms);
  return got;
}

// Sum of the group's committed offsets on `topic` (partitions without one count 0): the number of records
// committed when the group started at the beginning.
std::int64_t committed_total(const std::string& bootstrap, const std::string& group, const std::string& topic,
                             int partitions) {
  auto c = client(bootstrap, group);
  std::vector<RdKafka::TopicPartition*> parts;
  for (int p = 0; p < partitions; ++p) parts.push_back(RdKafka::TopicPartition::create(topic, p));
  std::int64_t total = -1;
  if (c->committed(parts, 10000) == RdKafka::ERR_NO_ERROR) {
    total = 0;
    for (const auto* p : parts) total += p->offset() >= 0 ? p->offset() : 0;
  }
  RdKafka::TopicPartition::destroy(parts);
  c->close();
  return total;
}

struct Names {
  std::string orders, payments, group;
  [[nodiscard]] std::string retry() const { return group + ".retry"; }
  [[nodiscard]] std::string dlq() const { return group + ".dlq"; }
};

Names fresh_names(const std::string& what) {
  const auto sfx = what + "-" + random_hex(8);
  return {"orders-" + sfx, "payments-" + sfx, "payment-" + sfx};
}

Process start_payment(const TestBroker& broker, const Names& n, int port,
                      const std::vector<std::string>& extra = {},
                      const std::map<std::string, std::string>& env = {}) {
  std::vector<std::string> args = {"--brokers",
                                   broker.bootstrap(),
                                   "--metrics-address",
                                   fmt::format("127.0.0.1:{}", port),
                                   "--group-id",
                                   n.group,
                                   "--orders-topic",
                                   n.orders,
                                   "--payments-topic",
                                   n.payments,
                                   "-X",
                                   "session.timeout.ms=6000",
                                   "-X",
                                   "heartbeat.interval.ms=1000",
                                   "-X",
                                   "fetch.wait.max.ms=50",
                                   "--commit-interval-ms",
                                   "200"};
  args.insert(args.end(), extra.begin(), extra.end());
  return Process::start(bin_path("payment-service"), args, env);
}

// Three valid orders from order-producer and one poison record (not an order), all on `topic`.
void produce_inputs(const TestBroker& broker, const std::string& topic) {
  auto p = Process::start(bin_path("order-producer"),
                          {"--brokers", broker.bootstrap(), "--topic", topic, "--count", "3", "--seed", "15",
                           "--metrics-address", "127.0.0.1:0"});
  const auto rc = p.wait(60s);
  ASSERT_EQ(rc.value_or(-1), 0) << p.output();
  produce(broker.bootstrap(), topic, {{std::string("poison-key"), R"({"not":"an order"})"}});
}

// Records taken into processing, from /metrics. orderflow_messages_consumed_total has no sample before the
// first record (a labelled family), so the unlabelled processing histogram proves the scrape saw the service.
double consumed(int port) {
  const auto [status, body] = http_get(port, "/metrics");
  EXPECT_EQ(status, 200) << "no /metrics";
  EXPECT_NE(body.find("orderflow_processing_seconds_count"), std::string::npos) << body;
  return metric_value(body, "orderflow_messages_consumed_total") +
         metric_value(body, "orderflow_processing_seconds_count");
}

// The poison record landed in the dead-letter topic, the valid orders were paid, and every input offset was
// committed.
void expect_processed(const TestBroker& broker, const Names& n, int partitions) {
  TopicReader dlq(broker.bootstrap(), n.dlq());
  ASSERT_TRUE(dlq.wait_for_count(1, 60s)) << "nothing dead-lettered";
  ASSERT_TRUE(dlq.drain_to_end(30s));
  ASSERT_EQ(dlq.records().size(), 1U);
  EXPECT_EQ(dlq.records()[0].value, R"({"not":"an order"})");
  EXPECT_EQ(header(dlq.records()[0], "x-error-class").value_or(""), "poison");
  TopicReader payments(broker.bootstrap(), n.payments);
  EXPECT_TRUE(payments.wait_for_count(3, 60s)) << payments.records().size() << " payments";
  EXPECT_TRUE(wait_until(
      [&] { return committed_total(broker.bootstrap(), n.group, n.orders, partitions) == 4; }, 60s, 250ms))
      << "committed: " << committed_total(broker.bootstrap(), n.group, n.orders, partitions);
}

TEST(TopicCheckTest, MissingDeadLetterTopicHoldsTheServiceUntilItIsCreated) {
  TestBroker broker;
  const auto n = fresh_names("dlq-missing");
  const int partitions = make_topic(broker, n.orders, 3);
  ASSERT_GT(partitions, 0);
  ASSERT_GT(make_topic(broker, n.payments, 3), 0);
  ASSERT_GT(make_topic(broker, n.retry(), 3), 0);
  produce_inputs(broker, n.orders);

  const int port = free_port();
  auto service = start_payment(broker, n, port);
  std::string body;
  ASSERT_TRUE(wait_until(
      [&] {
        const auto r = http_get(port, "/readyz");
        body = r.second;
        return r.first == 503 && body.find(n.dlq()) != std::string::npos;
      },
      60s, 100ms))
      << "readyz: " << body << "\n"
      << service.output();
  EXPECT_EQ(body.find(n.retry()), std::string::npos) << "names a topic that exists: " << body;
  EXPECT_NE(body.find("kafka-topics.sh --bootstrap-server " + broker.bootstrap() + " --create --topic " +
                      n.dlq() + " --partitions " + std::to_string(partitions)),
            std::string::npos)
      << body;
  EXPECT_NE(body.find("--create-topics"), std::string::npos) << body;
  EXPECT_TRUE(service.wait_for_output(n.dlq(), 10s)) << "the log does not name the topic:\n"
                                                     << service.output();

  // Over two re-checks: still unready, nothing consumed or committed, and the check did not create the topic
  // (the mock would, for a metadata request naming it).
  const bool changed = wait_until(
      [&] {
        return !service.running() || http_get(port, "/readyz").first != 503 || consumed(port) != 0 ||
               existing_topics(broker.bootstrap()).count(n.dlq()) != 0;
      },
      kTwoChecks, 500ms);
  ASSERT_FALSE(changed) << "readyz: " << http_get(port, "/readyz").second << "\n" << service.output();
  EXPECT_EQ(committed_total(broker.bootstrap(), n.group, n.orders, partitions), 0);

  ASSERT_GT(make_topic(broker, n.dlq(), 3), 0);
  ASSERT_TRUE(wait_ready(port, 60s)) << http_get(port, "/readyz").second << "\n" << service.output();
  expect_processed(broker, n, partitions);
  EXPECT_EQ(service.stop(), 0) << service.output();
}

// --retry-ordering key rests on input partition p and retry partition p holding all of a key's pending
// records on one instance, which needs one partition count: otherwise the service waits, naming the counts.
TEST(TopicCheckTest, KeyOrderingWaitsWhileInputAndRetryTopicDifferInPartitionCount) {
  TestBroker broker;
  auto n = fresh_names("key-order");
  int retry_partitions = 0;
  if (broker.is_real()) {
    ASSERT_GT(make_topic(broker, n.retry(), 4), 0);
    ASSERT_GT(make_topic(broker, n.dlq(), 3), 0);
  } else {
    // The mock creates named topics with 4 partitions; the dev broker's own retry and dead-letter topics of
    // the standard group have 6.
    n.group = "payment-service";
  }
  const int partitions = make_topic(broker, n.orders, 3);
  ASSERT_GT(partitions, 0);
  ASSERT_GT(make_topic(broker, n.payments, 3), 0);
  retry_partitions = existing_topics(broker.bootstrap()).at(n.retry());
  ASSERT_NE(retry_partitions, partitions);
  produce_inputs(broker, n.orders);

  const int port = free_port();
  auto service = start_payment(broker, n, port, {"--retry-ordering", "key"});
  std::string body;
  const auto counts = fmt::format("{} {}, {} {}", n.orders, partitions, n.retry(), retry_partitions);
  ASSERT_TRUE(wait_until(
      [&] {
        const auto r = http_get(port, "/readyz");
        body = r.second;
        return r.first == 503 && body.find("one partition count") != std::string::npos;
      },
      60s, 100ms))
      << "readyz: " << body << "\n"
      << service.output();
  EXPECT_NE(body.find(counts), std::string::npos) << body;
  EXPECT_TRUE(service.wait_for_output(counts, 10s)) << "the log does not say it:\n" << service.output();
  const bool changed = wait_until(
      [&] { return !service.running() || http_get(port, "/readyz").first != 503 || consumed(port) != 0; },
      kTwoChecks, 500ms);
  EXPECT_FALSE(changed) << "readyz: " << http_get(port, "/readyz").second << "\n" << service.output();
  EXPECT_EQ(committed_total(broker.bootstrap(), n.group, n.orders, partitions), 0);
  EXPECT_EQ(service.stop(), 0) << service.output();
}

TEST(TopicCheckTest, CreateTopicsCreatesRetryAndDeadLetterTopicsLikeTheInput) {
  TestBroker broker;
  const auto n = fresh_names("create");
  const int partitions = make_topic(broker, n.orders, 3);
  ASSERT_GT(partitions, 0);
  ASSERT_GT(make_topic(broker, n.payments, 3), 0);
  produce_inputs(broker, n.orders);

  const int port = free_port();
  auto service = start_payment(broker, n, port, {"--create-topics"});
  if (!broker.is_real()) {
    // The mock answers no CreateTopics request: the service says so and waits, having created nothing.
    std::string body;
    EXPECT_TRUE(wait_until(
        [&] {
          body = http_get(port, "/readyz").second;
          return body.find("--create-topics failed: " + n.retry()) != std::string::npos;
        },
        60s, 200ms))
        << body << "\n"
        << service.output();
    EXPECT_NE(body.find(n.dlq()), std::string::npos) << body;
    const auto topics = existing_topics(broker.bootstrap());
    EXPECT_EQ(topics.count(n.retry()) + topics.count(n.dlq()), 0U);
    EXPECT_EQ(consumed(port), 0);
    EXPECT_EQ(committed_total(broker.bootstrap(), n.group, n.orders, partitions), 0);
    EXPECT_EQ(service.stop(), 0) << service.output();
    return;
  }
  ASSERT_TRUE(wait_ready(port, 60s)) << http_get(port, "/readyz").second << "\n" << service.output();
  const auto topics = existing_topics(broker.bootstrap());
  ASSERT_EQ(topics.count(n.retry()), 1U);
  ASSERT_EQ(topics.count(n.dlq()), 1U);
  EXPECT_EQ(topics.at(n.retry()), partitions);
  EXPECT_EQ(topics.at(n.dlq()), partitions);
  for (const auto& t : {n.retry(), n.dlq()}) {
    EXPECT_NE(service.output().find(fmt::format("created topic {} ({} partitions", t, partitions)),
              std::string::npos)
        << service.output();
  }
  expect_processed(broker, n, partitions);
  EXPECT_EQ(service.stop(), 0) << service.output();
}

// notification-service goes through the same start: its own output topic missing is reported too (it is not
// one --create-topics creates: it is shared with other teams' consumers).
TEST(TopicCheckTest, NotificationServiceNamesItsMissingOutputAndOwnTopics) {
  TestBroker broker;
  const auto n = fresh_names("notify");
  const auto notifications = "notifications-" + n.group;
  const auto group = "notification-" + n.group;
  ASSERT_GT(make_topic(broker, n.orders, 3), 0);
  ASSERT_GT(make_topic(broker, n.payments, 3), 0);
  const int port = free_port();
  auto service =
      Process::start(bin_path("notification-service"),
                     {"--brokers", broker.bootstrap(), "--metrics-address", fmt::format("127.0.0.1:{}", port),
                      "--group-id", group, "--orders-topic", n.orders, "--payments-topic", n.payments,
                      "--notifications-topic", notifications, "--sink", "file:/dev/null"});
  std::string body;
  EXPECT_TRUE(wait_until(
      [&] {
        const auto r = http_get(port, "/readyz");
        body = r.second;
        return r.first == 503 && body.find("missing topic(s)") != std::string::npos;
      },
      60s, 100ms))
      << body << "\n"
      << service.output();
  for (const auto& t : {notifications, group + ".retry", group + ".dlq"}) {
    EXPECT_NE(body.find(t), std::string::npos) << t << " not named: " << body;
  }
  EXPECT_EQ(body.find(n.orders), std::string::npos) << "names an input that exists: " << body;
  EXPECT_EQ(body.find(n.payments), std::string::npos) << "names an input that exists: " << body;
  EXPECT_EQ(service.stop(), 0) << service.output();
}

// The librdkafka facts the check rests on, measured on the mock cluster in this process (re-check them after
// a librdkafka upgrade): all-topics metadata lists topics without creating any, a metadata request naming a
// topic creates it even with allow.auto.create.topics=false, and CreateTopics gets no answer.
TEST(TopicCheckTest, TopicAdminSeesTopicsWithoutCreatingThemAndTheMockHasNoCreateTopics) {
  MockCluster cluster(1, 3, {"present"});
  messaging::KafkaProperties props;
  props.set("bootstrap.servers", cluster.bootstrap());
  messaging::TopicAdmin admin(props);
  const auto now = [&admin] {
    std::string error;
    auto topics = admin.partition_counts(10s, &error);
    EXPECT_TRUE(topics) << error;
    return topics.value_or(std::map<std::string, int>{});
  };
  const auto topics = now();
  EXPECT_EQ(topics.count("present") == 1 ? topics.at("present") : 0, 3);
  EXPECT_EQ(topics.count("absent"), 0U);
  EXPECT_EQ(now().count("absent"), 0U) << "asking twice created it";

  auto c = client(cluster.bootstrap(), "named-metadata");
  std::string err;
  std::unique_ptr<RdKafka::Topic> named(RdKafka::Topic::create(c.get(), "absent", nullptr, err));
  RdKafka::Metadata* raw = nullptr;
  ASSERT_EQ(c->metadata(false, named.get(), &raw, 10000), RdKafka::ERR_NO_ERROR);
  delete raw;
  named.reset();
  c->close();
  EXPECT_EQ(now().count("absent"), 1U) << "the mock no longer auto-creates";

  const auto created = admin.create({"never"}, 3, 2s);
  ASSERT_EQ(created.size(), 1U);
  EXPECT_FALSE(created[0].error.empty())
      << "the mock answered CreateTopics: --create-topics can be tested on it";
  EXPECT_EQ(now().count("never"), 0U);
}

// The environment form of the flag, as --check-config shows it (no broker needed).
TEST(TopicCheckTest, CreateTopicsComesFromTheEnvironmentToo) {
  for (const char* bin : {"payment-service", "notification-service"}) {
    auto off = Process::start(bin_path(bin), {"--check-config", "--brokers", "127.0.0.1:1"});
    ASSERT_EQ(off.wait(30s).value_or(-1), 0) << off.output();
    EXPECT_NE(off.output().find("create-topics = false"), std::string::npos) << off.output();
    auto on = Process::start(bin_path(bin), {"--check-config", "--brokers", "127.0.0.1:1"},
                             {{"ORDERFLOW_CREATE_TOPICS", "true"}});
    ASSERT_EQ(on.wait(30s).value_or(-1), 0) << on.output();
    EXPECT_NE(on.output().find("create-topics = true"), std::string::npos) << on.output();
  }
}

}  // namespace
}  // namespace orderflow::testing
