// The client layer without a broker: how each kind of librdkafka event is logged at each client's levels,
// the statistics hand-off and its default interval, the error classification, and the owning partition
// list.
#include "orderflow/messaging/kafka_client.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "orderflow/messaging/testing/fake_event.h"

namespace orderflow::messaging {
namespace {

using testing::FakeEvent;

// The default logger's lines ("<level> <message>") while it lives.
class CapturedLog {
 public:
  CapturedLog()
      : sink_(std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(16)), previous_(spdlog::default_logger()) {
    auto logger = std::make_shared<spdlog::logger>("test", sink_);
    logger->set_level(spdlog::level::trace);
    logger->set_pattern("%l %v");
    spdlog::set_default_logger(logger);
  }
  ~CapturedLog() { spdlog::set_default_logger(previous_); }
  CapturedLog(const CapturedLog&) = delete;
  CapturedLog& operator=(const CapturedLog&) = delete;
  std::vector<std::string> lines() const { return sink_->last_formatted(); }

 private:
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink_;
  std::shared_ptr<spdlog::logger> previous_;
};

std::vector<std::string> logged(ClientKind kind, ClientLogLevels levels) {
  const CapturedLog log;
  ClientEvents events(kind, levels);
  auto fatal = FakeEvent::error(RdKafka::ERR__FATAL, "fenced", true);
  auto error = FakeEvent::error(RdKafka::ERR__TRANSPORT, "refused");
  auto warning = FakeEvent::log(RdKafka::Event::EVENT_SEVERITY_WARNING, "careful", "FAC");
  auto info = FakeEvent::log(RdKafka::Event::EVENT_SEVERITY_INFO, "chatter", "FAC");
  for (RdKafka::Event* e : std::vector<RdKafka::Event*>{&fatal, &error, &warning, &info}) events.event_cb(*e);
  auto lines = log.lines();
  for (auto& l : lines) {
    while (!l.empty() && (l.back() == '\n' || l.back() == '\r')) l.pop_back();
  }
  return lines;
}

TEST(ClientEventsTest, AProducerLogsEveryKindOfEvent) {
  const std::vector<std::string> expected = {
      "critical kafka producer fatal error: Local: Fatal error: fenced",
      "warning kafka producer: Local: Broker transport failure: refused",
      "warning librdkafka producer [FAC]: careful",
      "debug librdkafka producer [FAC]: chatter",
  };
  EXPECT_EQ(logged(ClientKind::Producer, ClientLogLevels{}), expected);
}

TEST(ClientEventsTest, LevelsOffLeaveAKindOut) {
  const std::vector<std::string> expected = {
      "error kafka consumer fatal error: Local: Fatal error: fenced",
      "warning librdkafka consumer [FAC]: careful",
  };
  EXPECT_EQ(logged(ClientKind::Consumer, ClientLogLevels{.fatal_error = EventLogLevel::Error,
                                                         .error = EventLogLevel::Off,
                                                         .log_warning = EventLogLevel::Warn,
                                                         .log = EventLogLevel::Off}),
            expected);
}

TEST(ClientEventsTest, StatisticsGoToTheHandlerNotToTheLog) {
  const CapturedLog log;
  std::string seen;
  ClientEvents events(ClientKind::Consumer, ClientLogLevels{}, [&](std::string_view json) { seen = json; });
  FakeEvent stats(RdKafka::Event::EVENT_STATS, RdKafka::ERR_NO_ERROR, RdKafka::Event::EVENT_SEVERITY_INFO,
                  R"({"name":"c"})");
  events.event_cb(stats);
  EXPECT_EQ(seen, R"({"name":"c"})");
  EXPECT_TRUE(log.lines().empty());
}

TEST(ClientEventsTest, StatisticsIntervalOnlyWithAHandler) {
  KafkaProperties without;
  set_statistics_default(without, {});
  EXPECT_EQ(without.find("statistics.interval.ms"), nullptr);
  KafkaProperties with;
  set_statistics_default(with, [](std::string_view) {});
  ASSERT_NE(with.find("statistics.interval.ms"), nullptr);
  EXPECT_EQ(*with.find("statistics.interval.ms"), kStatisticsIntervalMs);
}

TEST(ClientErrorsTest, PermanentErrorsAreThoseRetryingCannotFix) {
  EXPECT_TRUE(is_permanent_error(RdKafka::ERR__FATAL));
  EXPECT_TRUE(is_permanent_error(RdKafka::ERR__AUTHENTICATION));
  EXPECT_TRUE(is_permanent_error(RdKafka::ERR_TOPIC_AUTHORIZATION_FAILED));
  EXPECT_TRUE(is_permanent_error(RdKafka::ERR_UNKNOWN_TOPIC_OR_PART));
  EXPECT_FALSE(is_permanent_error(RdKafka::ERR__TRANSPORT));
  EXPECT_FALSE(is_permanent_error(RdKafka::ERR__ALL_BROKERS_DOWN));
  EXPECT_FALSE(is_permanent_error(RdKafka::ERR_NOT_LEADER_FOR_PARTITION));
  EXPECT_FALSE(is_permanent_error(RdKafka::ERR__TIMED_OUT));
}

TEST(TopicPartitionListTest, HoldsWhatWasAddedAndMovesOwnership) {
  TopicPartitionList list;
  EXPECT_TRUE(list.empty());
  list.add("orders", 0);
  list.add("orders", 3, 42);
  ASSERT_EQ(list.size(), 2U);
  EXPECT_EQ(list.items()[0]->topic(), "orders");
  EXPECT_EQ(list.items()[0]->offset(), RdKafka::Topic::OFFSET_INVALID);
  EXPECT_EQ(list.items()[1]->partition(), 3);
  EXPECT_EQ(list.items()[1]->offset(), 42);

  TopicPartitionList moved(std::move(list));
  EXPECT_EQ(moved.size(), 2U);
  EXPECT_TRUE(list.empty());  // NOLINT(bugprone-use-after-move): a moved-from list is empty by contract
  TopicPartitionList assigned;
  assigned.add("payments", 1);
  assigned = std::move(moved);  // the list it held is destroyed (ASan reports a leak otherwise)
  ASSERT_EQ(assigned.size(), 2U);
  EXPECT_EQ(assigned.items()[1]->offset(), 42);
}

}  // namespace
}  // namespace orderflow::messaging
