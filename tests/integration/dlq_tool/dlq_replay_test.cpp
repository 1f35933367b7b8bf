// The replay loop in-process, with tiny batches so that every run goes through several
// produce → acknowledge → commit rounds (records that arrive while a commit is in flight are kept),
// and --limit stopping midway: the next run continues exactly where the last one committed.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "orderflow/dlq/replay.h"
#include "orderflow/dlq/topic_scan.h"
#include "orderflow/testing/dev_broker.h"
#include "orderflow/testing/paths.h"
#include "orderflow/testing/produce.h"
#include "orderflow/testing/topic_reader.h"

namespace orderflow::dlq {
namespace {

using namespace std::chrono_literals;

class DlqReplayLoopTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { broker_ = std::make_unique<testing::DevBroker>(); }
  static void TearDownTestSuite() { broker_.reset(); }

  ReplaySummary run(const std::string& dlq, const std::string& group, ReplayOptions options) {
    messaging::KafkaProperties kafka;
    kafka.set("bootstrap.servers", broker_->bootstrap());
    messaging::ProducerOptions producer;
    producer.properties = kafka;
    std::ostringstream out;
    std::atomic<bool> stop{false};
    return replay(ScanOptions{kafka, dlq, group, true, 10s}, producer, options, out, &stop);
  }

  static std::unique_ptr<testing::DevBroker> broker_;
};
std::unique_ptr<testing::DevBroker> DlqReplayLoopTest::broker_;

TEST_F(DlqReplayLoopTest, SmallBatchesAndALimitReplayEachRecordOnce) {
  const std::string dlq = "batches.dlq";
  std::vector<std::pair<std::optional<std::string>, std::string>> exhausted;
  std::vector<std::pair<std::optional<std::string>, std::string>> poison;
  for (int i = 0; i < 20; ++i) {
    exhausted.emplace_back("c-" + std::to_string(i), "exhausted-" + std::to_string(i));
    if (i % 4 == 0) poison.emplace_back("c-" + std::to_string(i), "poison-" + std::to_string(i));
  }
  testing::produce(broker_->bootstrap(), dlq, exhausted,
                   {{"x-original-topic", "orders"}, {"x-error-class", "exhausted"}});
  testing::produce(broker_->bootstrap(), dlq, poison,
                   {{"x-original-topic", "orders"}, {"x-error-class", "poison"}});

  const std::string group = "dlq-tool-test-" + testing::random_hex();
  ReplayOptions options;
  options.to = "batches-target";
  options.error_class = "exhausted";
  options.batch_size = 2;
  options.limit = 7;
  const auto first = run(dlq, group, options);
  EXPECT_TRUE(first.error.empty()) << first.error;
  EXPECT_EQ(first.replayed, 7);
  EXPECT_EQ(first.exit_code(), 0);

  options.limit = 0;
  const auto second = run(dlq, group, options);
  EXPECT_TRUE(second.error.empty()) << second.error;
  EXPECT_EQ(second.replayed, 13);
  EXPECT_EQ(first.skipped + second.skipped, 5);

  const auto third = run(dlq, group, options);
  EXPECT_EQ(third.replayed, 0);
  EXPECT_EQ(third.skipped, 0);

  testing::TopicReader target(broker_->bootstrap(), "batches-target");
  ASSERT_TRUE(target.wait_for_count(20, 20s));
  ASSERT_TRUE(target.drain_to_end(20s));
  std::vector<std::string> values;
  for (const auto& r : target.records()) values.push_back(r.value);
  std::sort(values.begin(), values.end());
  std::vector<std::string> want;
  for (const auto& [k, v] : exhausted) want.push_back(v);
  std::sort(want.begin(), want.end());
  EXPECT_EQ(values, want);  // each exactly once, no poison
}

}  // namespace
}  // namespace orderflow::dlq
