// With a prefetch queue much smaller than the backlog, librdkafka 2.0.x refills the queue only when its
// broker thread next wakes (about once a second); the Consumer's fetch nudger wakes it while records
// are consumed quickly. Drain the same backlog with and without the nudger and compare.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "orderflow/messaging/consumer.h"
#include "orderflow/testing/mock_cluster.h"
#include "orderflow/testing/produce.h"

namespace orderflow::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

struct NoRebalanceWork : messaging::RebalanceListener {
  void on_assigned(const std::vector<messaging::TopicPartitionKey>& /*partitions*/) override {}
  void on_revoking(const std::vector<messaging::TopicPartitionKey>& /*partitions*/, bool /*lost*/) override {}
};

struct Drain {
  double seconds = 0;  // first record → last record
  std::size_t records = 0;
  std::uint64_t nudges = 0;
};

Drain drain(const std::string& bootstrap, const std::string& topic, std::size_t expected,
            std::chrono::milliseconds nudge_interval, const std::string& group) {
  messaging::ConsumerOptions o;
  o.properties.set("bootstrap.servers", bootstrap);
  o.properties.set("queued.max.messages.kbytes", "256");  // a quarter of the backlog below
  o.properties.set("fetch.max.bytes", "262144");
  o.properties.set("message.max.bytes", "262144");
  o.group_id = group;
  o.topics = {topic};
  o.fetch_nudge_interval = nudge_interval;
  NoRebalanceWork listener;
  messaging::Consumer consumer(o, listener);
  consumer.subscribe();
  Drain d;
  Clock::time_point first{};
  Clock::time_point last{};
  const auto deadline = Clock::now() + 60s;
  while (d.records < expected && Clock::now() < deadline) {
    auto msg = consumer.poll(100ms);
    if (!msg || msg->err() != RdKafka::ERR_NO_ERROR) continue;
    if (d.records++ == 0) first = Clock::now();
    // Work per record, as a service does (parse, decide, produce): the fetcher fills the queue faster
    // than it is drained, so it does find it full.
    const auto done = Clock::now() + 50us;
    while (Clock::now() < done) {
    }
    last = Clock::now();
  }
  d.seconds = std::chrono::duration<double>(last - first).count();
  d.nudges = consumer.fetch_nudges();
  consumer.close();
  return d;
}

TEST(FetchNudge, ADrainingPrefetchQueueIsRefilledWithoutWaitingForTheBrokerThreadsSecond) {
  if (RdKafka::version() >= 0x020200ff) {
    GTEST_FAIL() << "librdkafka " << RdKafka::version_str()
                 << " has fetch.queue.backoff.ms: the nudger is off there; this test is for librdkafka < 2.2";
  }
  MockCluster cluster(1, 1, {"backlog"});
  // 1,600 records of 1 KiB on one partition, in 16 batches of 100 (the mock hands out one batch per
  // partition per fetch): about seven fills of the 256 KiB queue, 80 ms of work in all.
  const std::vector<std::pair<std::optional<std::string>, std::string>> batch(
      100, {std::nullopt, std::string(1024, 'x')});
  std::vector<std::pair<std::optional<std::string>, std::string>> records;
  for (int i = 0; i < 16; ++i) {
    produce(cluster.bootstrap(), "backlog", batch);
    records.insert(records.end(), batch.begin(), batch.end());
  }

  const auto nudged = drain(cluster.bootstrap(), "backlog", records.size(), 20ms, "nudged");
  const auto plain = drain(cluster.bootstrap(), "backlog", records.size(), 0ms, "plain");
  std::printf(
      "[ measured ] 1,600 x 1 KiB through a 256 KiB prefetch queue: %.2f s with the nudger (%llu nudges), "
      "%.2f s without\n",
      nudged.seconds, static_cast<unsigned long long>(nudged.nudges), plain.seconds);
  ASSERT_EQ(nudged.records, records.size());
  ASSERT_EQ(plain.records, records.size());
  EXPECT_GT(nudged.nudges, 0U);
  EXPECT_EQ(plain.nudges, 0U);
  // Without the nudger every refill after the first waits for the broker thread's ~1 s wake-up.
  EXPECT_GT(plain.seconds, 2.0);
  EXPECT_LT(nudged.seconds, plain.seconds / 2);
}

}  // namespace
}  // namespace orderflow::testing
