// The test-support fixtures themselves: wait_until, paths, Process, MockCluster, produce,
// TopicReader, TestBroker, and the TCP_NODELAY interposer linked into test binaries.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <thread>

#include "orderflow/dev_broker/nodelay_probe.h"
#include "orderflow/testing/dev_broker.h"
#include "orderflow/testing/mock_cluster.h"
#include "orderflow/testing/paths.h"
#include "orderflow/testing/process.h"
#include "orderflow/testing/produce.h"
#include "orderflow/testing/test_broker.h"
#include "orderflow/testing/topic_reader.h"
#include "orderflow/testing/wait.h"
#include "round_trip.h"

namespace orderflow::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Sets an environment variable for one scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) {
      old_ = old;
    }
    if (value == nullptr) {
      ::unsetenv(name);
    } else {
      ::setenv(name, value, 1);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST(WaitUntil, ReturnsTrueAsSoonAsThePredicateHolds) {
  const auto start = Clock::now();
  std::atomic<int> calls{0};
  EXPECT_TRUE(wait_until([&] { return ++calls >= 3; }, 5s, 1ms));
  EXPECT_EQ(calls.load(), 3);
  EXPECT_LT(Clock::now() - start, 2s);
}

TEST(WaitUntil, ReturnsFalseAtTheTimeout) {
  const auto start = Clock::now();
  EXPECT_FALSE(wait_until([] { return false; }, 100ms));
  const auto took = Clock::now() - start;
  EXPECT_GE(took, 100ms);
  EXPECT_LT(took, 2s);
}

TEST(Paths, BinAndSourcePathsComeFromTheEnvironment) {
  EXPECT_EQ(::access(bin_path("kafka-dev-broker").c_str(), X_OK), 0);
  EXPECT_EQ(::access(source_path("CMakeLists.txt").c_str(), R_OK), 0);
  ScopedEnv unset("ORDERFLOW_BIN_DIR", nullptr);
  EXPECT_THROW(bin_path("x"), std::runtime_error);
}

TEST(Paths, MakeTempDirMakesAFreshDirectory) {
  const auto a = make_temp_dir("orderflow-support-test");
  const auto b = make_temp_dir("orderflow-support-test");
  EXPECT_NE(a, b);
  struct stat st {};
  ASSERT_EQ(::stat(a.c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  ::rmdir(a.c_str());
  ::rmdir(b.c_str());
}

TEST(ProcessTest, CapturesOutputAndExitCode) {
  auto p = Process::start("/bin/sh", {"-c", "echo out; echo err >&2; echo $ORDERFLOW_X; exit 3"},
                          {{"ORDERFLOW_X", "from-extra-env"}});
  EXPECT_EQ(p.wait(10s), 3);
  EXPECT_FALSE(p.running());
  EXPECT_NE(p.output().find("out\n"), std::string::npos);
  EXPECT_NE(p.output().find("err\n"), std::string::npos);
  EXPECT_NE(p.output().find("from-extra-env"), std::string::npos);
}

TEST(ProcessTest, StopSendsSigtermAndReportsTheSignal) {
  auto p = Process::start("/bin/sleep", {"30"});
  EXPECT_TRUE(p.running());
  EXPECT_FALSE(p.wait(50ms).has_value());
  EXPECT_EQ(p.stop(5s), 128 + SIGTERM);
}

TEST(ProcessTest, StopEscalatesToSigkill) {
  auto p = Process::start("/bin/sh", {"-c", "trap '' TERM; echo trapped; while :; do sleep 1; done"});
  ASSERT_TRUE(p.wait_for_output("trapped", 10s));
  EXPECT_EQ(p.stop(200ms), 128 + SIGKILL);
}

TEST(ProcessTest, DestructorKillsAndReaps) {
  pid_t pid = 0;
  {
    auto p = Process::start("/bin/sleep", {"30"});
    pid = p.pid();
    ASSERT_EQ(::kill(pid, 0), 0);
  }
  EXPECT_EQ(::kill(pid, 0), -1);  // reaped: no zombie left either
  EXPECT_EQ(errno, ESRCH);
}

TEST(ProcessTest, MoveTransfersOwnership) {
  auto a = Process::start("/bin/sleep", {"30"});
  const pid_t pid = a.pid();
  Process b = std::move(a);
  EXPECT_EQ(b.pid(), pid);
  EXPECT_TRUE(b.running());
  EXPECT_FALSE(a.running());  // NOLINT(bugprone-use-after-move): moved-from is inert by design
  EXPECT_EQ(b.stop(5s), 128 + SIGTERM);
}

TEST(ProcessTest, WaitForOutputGivesUpWhenTheProcessExits) {
  auto p = Process::start("/bin/true", {});
  const auto start = Clock::now();
  EXPECT_FALSE(p.wait_for_output("never", 10s));
  EXPECT_LT(Clock::now() - start, 5s);
}

TEST(ProcessTest, ExplicitLogFileIsKept) {
  const auto dir = make_temp_dir("orderflow-support-test");
  const auto log = dir + "/child.log";
  {
    auto p = Process::start("/bin/echo", {"hello"}, {}, log);
    EXPECT_EQ(p.wait(10s), 0);
    EXPECT_EQ(p.log_file(), log);
  }
  EXPECT_EQ(::access(log.c_str(), R_OK), 0);
  ::unlink(log.c_str());
  ::rmdir(dir.c_str());
}

TEST(ProcessTest, StartThrowsForAMissingProgram) {
  EXPECT_THROW(Process::start("/nonexistent/program", {}), std::runtime_error);
}

TEST(TcpNodelay, AcceptedSocketsGetTcpNodelayInTestBinaries) {
  const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::listen(listener, 1), 0);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const int client = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_EQ(::connect(client, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  const int accepted = ::accept(listener, nullptr, nullptr);
  ASSERT_GE(accepted, 0);
  int nodelay = 0;
  len = sizeof(nodelay);
  ASSERT_EQ(::getsockopt(accepted, IPPROTO_TCP, TCP_NODELAY, &nodelay, &len), 0);
  EXPECT_NE(nodelay, 0);
  ::close(accepted);
  ::close(client);
  ::close(listener);
}

TEST(MockClusterTest, MockSocketsHaveTcpNodelayAndRoundTripsAreFast) {
  MockCluster cluster;
  const auto bootstrap = cluster.bootstrap();
  const auto port = static_cast<std::uint16_t>(std::stoi(bootstrap.substr(bootstrap.rfind(':') + 1)));
  EXPECT_EQ(dev_broker::mock_sockets_have_nodelay(port, 5s), std::optional<bool>(true));
  const double commit_ms = median(commit_round_trips_ms(cluster.bootstrap(), "orders", 21));
  const double flush_ms = median(produce_flush_round_trips_ms(cluster.bootstrap(), "payments", 21));
  std::printf(
      "[ measured ] in-process MockCluster: commitSync median %.2f ms, produce+flush median %.2f "
      "ms\n",
      commit_ms, flush_ms);
  EXPECT_LT(commit_ms, 30.0);
}

TEST(MockClusterTest, ProduceAndReadWithHeadersAndNullKeys) {
  MockCluster cluster(1, 3);
  produce(cluster.bootstrap(), "orders",
          {{std::string("k1"), "v1"}, {std::nullopt, "no-key"}, {std::string("k1"), "v2"}},
          {{"h", "1"}, {"h", "2"}, {"empty", ""}});
  TopicReader reader(cluster.bootstrap(), "orders");
  ASSERT_TRUE(reader.wait_for_count(3, 20s));
  ASSERT_TRUE(reader.drain_to_end(10s));
  ASSERT_EQ(reader.records().size(), 3U);
  EXPECT_EQ(reader.partition_count(), 3);
  const auto k1 = reader.with_key("k1");
  ASSERT_EQ(k1.size(), 2U);
  EXPECT_EQ(k1[0].value, "v1");
  EXPECT_EQ(k1[1].value, "v2");
  EXPECT_GT(k1[1].offset, k1[0].offset);
  const std::vector<std::pair<std::string, std::string>> expected_headers{
      {"h", "1"}, {"h", "2"}, {"empty", ""}};
  for (const auto& r : reader.records()) {
    EXPECT_EQ(r.topic, "orders");
    EXPECT_EQ(r.headers, expected_headers);
    EXPECT_GT(r.timestamp_ms, 0);
    if (r.value == "no-key") {
      EXPECT_FALSE(r.key.has_value());
    }
  }
}

TEST(MockClusterTest, TopicReaderWaitsForATopicThatDoesNotExistYet) {
  MockCluster cluster(1, 2, {});
  TopicReader reader(cluster.bootstrap(), "later");
  EXPECT_FALSE(reader.wait_for_count(1, 300ms));
  cluster.create_topic("later", 2);  // throws if the reader had auto-created it
  produce(cluster.bootstrap(), "later", {{std::string("k"), "v"}});
  ASSERT_TRUE(reader.wait_for_count(1, 20s));
  EXPECT_EQ(reader.records()[0].value, "v");
  EXPECT_EQ(reader.partition_count(), 2);
}

TEST(MockClusterTest, InjectedProduceErrorsAreRetriedWithoutDuplicates) {
  MockCluster cluster(1, 1);
  cluster.push_request_errors(
      0 /* Produce */, {RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
                        RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS});
  std::vector<std::pair<std::optional<std::string>, std::string>> input;
  for (int i = 0; i < 50; ++i) {
    input.emplace_back(std::string("k"), std::to_string(i));
  }
  produce(cluster.bootstrap(), "orders", input);
  TopicReader reader(cluster.bootstrap(), "orders");
  ASSERT_TRUE(reader.wait_for_count(50, 20s));
  ASSERT_TRUE(reader.drain_to_end(10s));
  ASSERT_EQ(reader.records().size(), 50U);
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(reader.records()[static_cast<size_t>(i)].value, std::to_string(i));
  }
}

TEST(MockClusterTest, BrokerDownAndUp) {
  MockCluster cluster(2, 2);
  cluster.broker_down(2);
  cluster.broker_up(2);
  cluster.set_rtt(1, 0);
  cluster.set_partition_leader("orders", 0, 1);
  produce(cluster.bootstrap(), "orders", {{std::string("k"), "v"}});
  TopicReader reader(cluster.bootstrap(), "orders");
  EXPECT_TRUE(reader.wait_for_count(1, 30s));
}

TEST(MockClusterTest, ProduceThrowsWhenDeliveryFails) {
  MockCluster cluster(1, 1);
  std::vector<rd_kafka_resp_err_t> fatal(1, RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
  cluster.push_request_errors(0 /* Produce */, fatal);
  EXPECT_THROW(produce(cluster.bootstrap(), "orders", {{std::string("k"), "v"}}), std::runtime_error);
}

TEST(TestBrokerTest, DefaultsToTheDevBroker) {
  ScopedEnv mode("ORDERFLOW_TEST_BROKER", nullptr);
  TestBroker broker(2);
  EXPECT_FALSE(broker.is_real());
  EXPECT_EQ(broker.bootstrap().rfind("localhost:", 0), 0U) << broker.bootstrap();
  EXPECT_EQ(broker.topic("orders"), "orders");
  EXPECT_EQ(broker.unique_suffix().size(), 10U);
  TestBroker other(1);
  EXPECT_NE(broker.unique_suffix(), other.unique_suffix());
  produce(broker.bootstrap(), "orders", {{std::string("k"), "v"}});
  TopicReader reader(broker.bootstrap(), "orders");
  EXPECT_TRUE(reader.wait_for_count(1, 20s));
  EXPECT_EQ(reader.partition_count(), 2);
}

TEST(TestBrokerTest, RealReadsTheBootstrapFileOrExplains) {
  ScopedEnv mode("ORDERFLOW_TEST_BROKER", "real");
  {
    ScopedEnv file("ORDERFLOW_KAFKA_BOOTSTRAP_FILE", "/nonexistent/bootstrap");
    try {
      TestBroker broker;
      FAIL() << "expected an exception";
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find("/nonexistent/bootstrap"), std::string::npos) << e.what();
    }
  }
  const auto dir = make_temp_dir("orderflow-support-test");
  const auto path = dir + "/bootstrap";
  {
    auto p = Process::start("/bin/sh", {"-c", "printf 'localhost:19092\\n' > " + path});
    ASSERT_EQ(p.wait(10s), 0);
  }
  {
    ScopedEnv file("ORDERFLOW_KAFKA_BOOTSTRAP_FILE", path.c_str());
    TestBroker broker;
    EXPECT_TRUE(broker.is_real());
    EXPECT_EQ(broker.bootstrap(), "localhost:19092");
  }
  ::unlink(path.c_str());
  ::rmdir(dir.c_str());
  ScopedEnv bad("ORDERFLOW_TEST_BROKER", "bogus");
  EXPECT_THROW(TestBroker{}, std::runtime_error);
}

TEST(DevBrokerFixture, ParsesTheReadyLineAndStopsTheBroker) {
  pid_t pid = 0;
  {
    DevBroker broker(1, 1, {"fixture-topic"});
    pid = broker.process().pid();
    EXPECT_EQ(broker.bootstrap(), "localhost:" + std::to_string(broker.port()));
  }
  EXPECT_EQ(::kill(pid, 0), -1);
}

TEST(DevBrokerFixture, ThrowsWhenTheBrokerCannotStart) {
  ScopedEnv bin("ORDERFLOW_BIN_DIR", "/nonexistent");
  EXPECT_THROW(DevBroker{}, std::runtime_error);
}

}  // namespace
}  // namespace orderflow::testing
