// StageRunner against an in-process mock cluster with a handler that throws: whatever a handler
// throws — a std::exception or anything else — is a transient failure: the record goes to
// <group>.retry with its error message, is processed again after its backoff, and the stage keeps
// running. Poison goes to <group>.dlq at once. Both, and the outputs (whose headers the stage adds), carry a
// new span of the input's trace and its x-correlation-id. A handler
// whose side effects cannot be made durable before a commit stops the stage with nothing committed.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>

#include "orderflow/messaging/stage.h"
#include "orderflow/testing/mock_cluster.h"
#include "orderflow/testing/produce.h"
#include "orderflow/testing/topic_reader.h"
#include "orderflow/testing/wait.h"

namespace orderflow::testing {
namespace {

using namespace std::chrono_literals;
using messaging::Failure;
using messaging::HandlerResult;
using messaging::RecordView;

// Value "throw-int" throws an int on its first attempt, "throw-std" a std::runtime_error, "poison"
// fails as poison; everything else (and every second attempt) is echoed to `out`.
class ThrowingHandler final : public messaging::RecordHandler {
 public:
  HandlerResult process(const RecordView& r) override {
    {
      std::lock_guard lock(mu_);
      ++attempts_[std::string(r.value)];
    }
    if (r.attempt == 1 && r.value == "throw-int") throw 42;
    if (r.attempt == 1 && r.value == "throw-std") throw std::runtime_error("gateway exploded");
    if (r.value == "poison") return HandlerResult::fail(Failure::poison("$: not an order"));
    HandlerResult ok;
    ok.outputs.push_back(messaging::OutRecord{
        "out", r.key ? std::optional<std::string>(*r.key) : std::nullopt, std::string(r.value), {}});
    return ok;  // no headers: the stage adds traceparent and x-correlation-id
  }
  int attempts(const std::string& value) {
    std::lock_guard lock(mu_);
    return attempts_[value];
  }

 private:
  std::mutex mu_;
  std::map<std::string, int> attempts_;
};

std::optional<std::string> header_of(const Record& r, std::string_view name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return std::nullopt;
}

// A stage from `in` to `out` as group `group` on `cluster`, with fast commits and bounded waits.
messaging::StageOptions stage_options(MockCluster& cluster, const std::string& group) {
  messaging::StageOptions options;
  options.service = "stage-runner-test";
  options.group_id = group;
  options.input_topics = {"in"};
  options.output_topics = {"out"};
  options.kafka.set("bootstrap.servers", cluster.bootstrap());
  options.commit_interval = 100ms;
  options.drain_timeout = 5s;
  options.startup_timeout = 10s;
  return options;
}

// A one-partition mock cluster with `in`, `out` and group `group`'s retry and dead-letter topics.
std::unique_ptr<MockCluster> cluster_for(const std::string& group) {
  return std::make_unique<MockCluster>(
      1, 1, std::vector<std::string>{"in", "out", group + ".retry", group + ".dlq"});
}

// A StageRunner running on a thread of its own; stop() (or the destructor) ends it.
class RunningStage {
 public:
  RunningStage(const messaging::StageOptions& options, messaging::RecordHandler& handler)
      : runner_(options, handler, observer_), loop_([this] {
          rc_ = runner_.run(stop_);
          returned_ = true;
        }) {}
  ~RunningStage() { stop(); }
  RunningStage(const RunningStage&) = delete;
  RunningStage& operator=(const RunningStage&) = delete;

  // Its exit code, once it has returned.
  int stop() {
    stop_ = true;
    if (loop_.joinable()) loop_.join();
    return rc_;
  }
  // Whether it returned by itself (a fatal error).
  [[nodiscard]] bool returned() const { return returned_.load(); }

 private:
  messaging::StageObserver observer_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> returned_{false};
  int rc_ = -1;
  messaging::StageRunner runner_;
  std::thread loop_;  // last: starts once everything it uses is built
};

TEST(StageRunnerTest, AnyExceptionFromAHandlerIsTransientAndRetried) {
  MockCluster cluster(1, 1, {"in", "out", "g.retry", "g.dlq"});
  auto options = stage_options(cluster, "g");
  options.retry.backoff = 200ms;
  options.retry.max_attempts = 3;

  ThrowingHandler handler;
  RunningStage stage(options, handler);

  const std::string trace = "0af7651916cd43dd8448eb211c80319c";
  const std::string parent = "00-" + trace + "-b7ad6b7169203331-01";
  produce(cluster.bootstrap(), "in",
          {{"k1", "throw-int"}, {"k2", "throw-std"}, {"k3", "poison"}, {"k4", "plain"}},
          {{"traceparent", parent}, {"x-correlation-id", "order-1"}});

  TopicReader out(cluster.bootstrap(), "out");
  ASSERT_TRUE(out.wait_for_count(3, 60s)) << out.records().size() << " of 3 outputs";
  TopicReader retry(cluster.bootstrap(), "g.retry");
  ASSERT_TRUE(retry.wait_for_count(2, 10s));
  TopicReader dlq(cluster.bootstrap(), "g.dlq");
  ASSERT_TRUE(dlq.wait_for_count(1, 10s));
  out.drain_to_end(2s);
  retry.drain_to_end(2s);
  dlq.drain_to_end(2s);

  std::map<std::string, const Record*> retried;
  for (const auto& r : retry.records()) retried[r.value] = &r;
  ASSERT_EQ(retry.records().size(), 2U);
  ASSERT_EQ(retried.count("throw-int"), 1U);
  ASSERT_EQ(retried.count("throw-std"), 1U);
  EXPECT_EQ(header_of(*retried["throw-int"], "x-error-class"), "transient");
  EXPECT_NE(header_of(*retried["throw-int"], "x-error-message")
                .value_or("")
                .find("not derived from std::exception"),
            std::string::npos);
  EXPECT_EQ(header_of(*retried["throw-std"], "x-error-class"), "transient");
  EXPECT_NE(header_of(*retried["throw-std"], "x-error-message").value_or("").find("gateway exploded"),
            std::string::npos);
  EXPECT_EQ(header_of(*retried["throw-int"], "x-attempt"), "1");

  // A retry or dead-letter record is a hop: a new span of the same trace; other headers pass as they are.
  const auto expect_child_span = [&](const Record& r) {
    const auto tp = header_of(r, "traceparent");
    ASSERT_TRUE(tp.has_value()) << r.topic;
    EXPECT_EQ(tp->size(), parent.size()) << *tp;
    EXPECT_EQ(tp->substr(0, 3 + trace.size()), "00-" + trace) << *tp;
    EXPECT_NE(*tp, parent) << r.topic << ": the input's span was passed on instead of a new one";
    EXPECT_EQ(header_of(r, "x-correlation-id"), "order-1") << r.topic;
  };
  for (const auto& r : retry.records()) expect_child_span(r);
  for (const auto& r : dlq.records()) expect_child_span(r);

  ASSERT_EQ(dlq.records().size(), 1U);
  EXPECT_EQ(dlq.records()[0].value, "poison");
  EXPECT_EQ(header_of(dlq.records()[0], "x-error-class"), "poison");

  std::multiset<std::string> outputs;
  for (const auto& r : out.records()) outputs.insert(r.value);
  // The handler sets no headers: the stage adds a new span of the input's trace and the correlation id.
  for (const auto& r : out.records()) expect_child_span(r);
  EXPECT_EQ(outputs, (std::multiset<std::string>{"plain", "throw-int", "throw-std"}));
  EXPECT_EQ(handler.attempts("throw-int"), 2);
  EXPECT_EQ(handler.attempts("throw-std"), 2);

  EXPECT_EQ(stage.stop(), 0);
}

// A typed handler whose events are the values: "poison" does not parse. Counts parses and handles.
class CountingTypedHandler final : public messaging::TypedHandler<std::string> {
 public:
  Parsed parse(const RecordView& r) override {
    ++parses;
    if (r.value == "poison") return Failure::poison("$: not an order");
    return std::string(r.value);
  }
  HandlerResult handle(const std::string& event, const RecordView& /*record*/) override {
    ++handles;
    HandlerResult ok;
    ok.outputs.push_back(messaging::OutRecord{"out", std::nullopt, event + "!", {}});
    return ok;
  }
  std::atomic<int> parses{0};
  std::atomic<int> handles{0};
};

TEST(StageRunnerTest, ATypedHandlerParsesEachRecordOnce) {
  CountingTypedHandler handler;
  const auto cluster = cluster_for("g3");
  produce(cluster->bootstrap(), "in", {{"k1", "a"}, {"k2", "poison"}, {"k3", "b"}});
  RunningStage stage(stage_options(*cluster, "g3"), handler);
  TopicReader out(cluster->bootstrap(), "out");
  TopicReader dlq(cluster->bootstrap(), "g3.dlq");
  const bool done = out.wait_for_count(2, 60s) && dlq.wait_for_count(1, 10s);
  const int rc = stage.stop();
  ASSERT_TRUE(done) << out.records().size() << " outputs, " << dlq.records().size() << " dead letters";
  EXPECT_EQ(rc, 0);
  std::multiset<std::string> outputs;
  for (const auto& r : out.records()) outputs.insert(r.value);
  EXPECT_EQ(outputs, (std::multiset<std::string>{"a!", "b!"}));
  EXPECT_EQ(header_of(dlq.records().at(0), "x-error-class"), "poison");
  EXPECT_EQ(handler.parses.load(), 3) << "one parse per record";
  EXPECT_EQ(handler.handles.load(), 2);
}

// Echoes every record; its side effects can never be made durable (a sink whose flush fails).
class UnflushableHandler final : public messaging::RecordHandler {
 public:
  HandlerResult process(const RecordView& r) override {
    HandlerResult ok;
    ok.outputs.push_back(messaging::OutRecord{"out", std::nullopt, std::string(r.value), {}});
    return ok;
  }
  std::optional<std::string> before_commit() override {
    ++flushes;
    return std::string("disk full");
  }
  std::atomic<int> flushes{0};
};

TEST(StageRunnerTest, SideEffectsThatCannotBeMadeDurableStopTheStageWithoutCommitting) {
  const auto cluster = cluster_for("g2");
  produce(cluster->bootstrap(), "in", {{"k1", "a"}, {"k2", "b"}, {"k3", "c"}});
  UnflushableHandler handler;
  RunningStage stage(stage_options(*cluster, "g2"), handler);
  // It stops by itself at its first commit.
  const bool stopped = wait_until([&] { return stage.returned(); }, 30s);
  const int rc = stage.stop();
  ASSERT_TRUE(stopped) << "the stage kept running although it could not make its side effects durable";
  EXPECT_EQ(rc, 1);
  EXPECT_GE(handler.flushes.load(), 1);

  // Nothing was committed for the group: the records are read again after a restart.
  std::string err;
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  conf->set("bootstrap.servers", cluster->bootstrap(), err);
  conf->set("group.id", "g2", err);
  std::unique_ptr<RdKafka::KafkaConsumer> probe(RdKafka::KafkaConsumer::create(conf.get(), err));
  ASSERT_TRUE(probe) << err;
  std::vector<RdKafka::TopicPartition*> parts{RdKafka::TopicPartition::create("in", 0)};
  ASSERT_EQ(probe->committed(parts, 10000), RdKafka::ERR_NO_ERROR);
  EXPECT_LT(parts[0]->offset(), 0) << "offset " << parts[0]->offset() << " was committed";
  RdKafka::TopicPartition::destroy(parts);
  probe->close();
}

}  // namespace
}  // namespace orderflow::testing
