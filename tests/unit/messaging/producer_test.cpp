// Producer behaviour that needs no broker: back-pressure on a full local queue is interruptible, and
// the reliable defaults reject an unsafe combination.
#include "orderflow/messaging/producer.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace orderflow::messaging {
namespace {

using namespace std::chrono_literals;

ProducerOptions unreachable(std::initializer_list<std::pair<const char*, const char*>> extra = {}) {
  ProducerOptions o;
  o.properties.set("bootstrap.servers", "127.0.0.1:1");  // nothing listens: records stay queued
  o.properties.set("log_level", "0");
  for (const auto& [k, v] : extra) o.properties.set(k, v);
  return o;
}

TEST(ProducerTest, FullQueueWaitGivesUpWhenInterrupted) {
  Producer p(unreachable({{"queue.buffering.max.messages", "1"}}), [](const DeliveryReport&) {});
  std::atomic<bool> stop{false};
  p.set_interrupt(&stop);
  const std::string v = "x";
  std::string error;
  ASSERT_TRUE(p.produce("t", nullptr, v.data(), v.size(), {}, nullptr, &error)) << error;
  EXPECT_FALSE(p.interrupted_while_full());

  std::thread stopper([&] {
    std::this_thread::sleep_for(300ms);  // the fault: a shutdown that arrives while produce() waits
    stop = true;
  });
  const auto started = std::chrono::steady_clock::now();
  const bool ok = p.produce("t", nullptr, v.data(), v.size(), {}, nullptr, &error);
  const auto waited = std::chrono::steady_clock::now() - started;
  stopper.join();
  EXPECT_FALSE(ok);
  EXPECT_TRUE(p.interrupted_while_full());
  EXPECT_NE(error.find("queue was full"), std::string::npos) << error;
  EXPECT_GE(waited, 250ms) << "produce() returned before the queue was known to be full";
  EXPECT_LT(waited, 5s);
  p.purge_and_report();
}

TEST(ProducerTest, FullQueueWithoutInterruptKeepsWaiting) {
  Producer p(unreachable({{"queue.buffering.max.messages", "1"}}), [](const DeliveryReport&) {});
  std::atomic<bool> stop{false};
  p.set_interrupt(&stop);
  const std::string v = "x";
  ASSERT_TRUE(p.produce("t", nullptr, v.data(), v.size(), {}, nullptr));
  // The second record waits for room; purge from another thread makes room without interrupting.
  std::thread purger([&] {
    std::this_thread::sleep_for(300ms);
    p.handle().purge(RdKafka::Producer::PURGE_QUEUE);
  });
  std::string error;
  EXPECT_TRUE(p.produce("t", nullptr, v.data(), v.size(), {}, nullptr, &error)) << error;
  EXPECT_FALSE(p.interrupted_while_full());
  purger.join();
  p.purge_and_report();
}

TEST(ProducerTest, IdempotenceWithoutAcksAllIsAConfigError) {
  EXPECT_THROW(Producer(unreachable({{"acks", "1"}}), [](const DeliveryReport&) {}), ConfigError);
}

}  // namespace
}  // namespace orderflow::messaging
