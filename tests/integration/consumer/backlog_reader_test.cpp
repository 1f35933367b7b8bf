// read_backlog (libs/messaging/src/backlog_reader.h) against an in-process mock cluster: the records of
// retry partitions from given offsets to their end, with the identity key ordering gives them (where each
// was first read, from the x-original-* headers, else the record's own position).
#include "backlog_reader.h"

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "orderflow/testing/mock_cluster.h"
#include "orderflow/testing/produce.h"

namespace orderflow::messaging {
namespace {

using namespace std::chrono_literals;

KafkaProperties props(const testing::MockCluster& cluster) {
  KafkaProperties p;
  p.set("bootstrap.servers", cluster.bootstrap());
  p.set("group.id", "backlog-reader-test");
  return p;
}

std::vector<std::pair<std::string, std::string>> origin(std::int64_t offset) {
  return {{"x-original-topic", "orders"},
          {"x-original-partition", "1"},
          {"x-original-offset", std::to_string(offset)}};
}

TEST(BacklogReaderTest, ReadsEachPartitionFromItsOffsetToItsEnd) {
  testing::MockCluster cluster(1, 3, {"svc.retry"});
  for (const auto o : {10, 11, 12}) {
    testing::produce_to_partition(cluster.bootstrap(), "svc.retry", 1,
                                  {{std::string(o == 11 ? "b" : "a"), "v"}}, origin(o));
  }
  testing::produce_to_partition(cluster.bootstrap(), "svc.retry", 2, {{std::string("c"), "v"}});

  std::map<std::int32_t, std::vector<RetryRecordInfo>> out;
  std::string error;
  const auto started = std::chrono::steady_clock::now();
  ASSERT_TRUE(read_backlog(props(cluster), "svc.retry", {{0, -1}, {1, 1}, {2, -1001}}, 20s, out, &error))
      << error;
  EXPECT_LT(std::chrono::steady_clock::now() - started, 10s) << "the end of each partition was not noticed";
  EXPECT_TRUE(out.at(0).empty()) << "an empty partition";
  ASSERT_EQ(out.at(1).size(), 2U) << "from offset 1";
  EXPECT_EQ(out.at(1)[0].offset, 1);
  EXPECT_EQ(out.at(1)[0].key, std::optional<std::string>("b"));
  EXPECT_EQ(out.at(1)[0].origin.topic, "orders");
  EXPECT_EQ(out.at(1)[0].origin.partition, 1);
  EXPECT_EQ(out.at(1)[0].origin.offset, 11);
  EXPECT_EQ(out.at(1)[1].offset, 2);
  EXPECT_EQ(out.at(1)[1].origin.offset, 12);
  ASSERT_EQ(out.at(2).size(), 1U) << "no committed offset: from the beginning";
  EXPECT_EQ(out.at(2)[0].origin.topic, "svc.retry") << "without x-original-* headers: its own position";
  EXPECT_EQ(out.at(2)[0].origin.partition, 2);
  EXPECT_EQ(out.at(2)[0].origin.offset, 0);
}

TEST(BacklogReaderTest, APartitionReadFromItsEndIsEmpty) {
  testing::MockCluster cluster(1, 1, {"svc.retry"});
  testing::produce_to_partition(cluster.bootstrap(), "svc.retry", 0, {{std::string("a"), "v"}}, origin(1));
  std::map<std::int32_t, std::vector<RetryRecordInfo>> out;
  std::string error;
  ASSERT_TRUE(read_backlog(props(cluster), "svc.retry", {{0, 1}}, 20s, out, &error)) << error;
  EXPECT_TRUE(out.at(0).empty());
}

TEST(BacklogReaderTest, NothingToReadIsNoRead) {
  testing::MockCluster cluster(1, 1, {"svc.retry"});
  std::map<std::int32_t, std::vector<RetryRecordInfo>> out{{5, {}}};
  std::string error;
  EXPECT_TRUE(read_backlog(props(cluster), "svc.retry", {}, 1s, out, &error));
  EXPECT_TRUE(out.empty());
}

}  // namespace
}  // namespace orderflow::messaging
