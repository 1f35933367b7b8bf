// Sinks: make_sink parsing, the file sink's JSON lines, the failure-rate wrapper, and the webhook sink
// against a loopback HTTP server (2xx = delivered, anything else or no connection = an error text).
#include "orderflow/notification/sinks.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>
#include <string>
#include <vector>

#include "tiny_http_server.h"

namespace {

using namespace std::chrono_literals;
using orderflow::notification::make_sink;
using orderflow::notification::Sink;
using orderflow::notification::with_failure_rate;
using orderflow::testing::TinyHttpServer;

class CountingSink final : public Sink {
 public:
  std::optional<std::string> deliver(std::string_view json) override {
    delivered.emplace_back(json);
    return std::nullopt;
  }
  std::optional<std::string> flush() override {
    ++flushes;
    return std::nullopt;
  }
  [[nodiscard]] std::string channel() const override { return "counting"; }
  std::vector<std::string> delivered;
  int flushes = 0;
};

class TempDir {
 public:
  TempDir()
      : path_(std::filesystem::temp_directory_path() /
              ("orderflow-sinks-test-" + std::to_string(::getpid()) + "-" +
               ::testing::UnitTest::GetInstance()->current_test_info()->name())) {
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// ---- make_sink
// --------------------------------------------------------------------------------------------------

TEST(MakeSinkTest, LogSinkDeliversToStdout) {
  auto sink = make_sink("log", 1000ms);
  ASSERT_NE(sink, nullptr);
  EXPECT_EQ(sink->channel(), "log");
  ::testing::internal::CaptureStdout();
  EXPECT_EQ(sink->deliver(R"({"kind":"ORDER_RECEIVED"})"), std::nullopt);
  EXPECT_EQ(sink->flush(), std::nullopt);
  EXPECT_EQ(::testing::internal::GetCapturedStdout(), "{\"kind\":\"ORDER_RECEIVED\"}\n");
}

TEST(MakeSinkTest, MalformedSpecsAreRejectedNamingTheSpec) {
  for (const char* bad : {"", "stdout", "file:", "file", "webhook:", "webhook:ftp://host/x",
                          "webhook:https://host/x", "webhook:http://", "webhook:http:///path", "LOG"}) {
    try {
      (void)make_sink(bad, 1000ms);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const std::invalid_argument& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("--sink"), std::string::npos) << what;
      const std::string spec(bad);
      const auto tail = spec.substr(spec.find(':') == std::string::npos ? 0 : spec.find(':') + 1);
      EXPECT_NE(what.find(tail), std::string::npos) << "names '" << bad << "': " << what;
    }
  }
}

TEST(MakeSinkTest, UnopenableFileIsRejectedAtConstruction) {
  TempDir dir;
  const auto path = (dir.path() / "no-such-dir" / "out.jsonl").string();
  try {
    (void)make_sink("file:" + path, 1000ms);
    FAIL() << "opened a file in a missing directory";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
}

// ---- file sink
// -------------------------------------------------------------------------------------------------

TEST(FileSinkTest, WritesOneJsonLinePerNotification) {
  TempDir dir;
  const auto path = dir.path() / "notifications.jsonl";
  auto sink = make_sink("file:" + path.string(), 1000ms);
  EXPECT_EQ(sink->channel(), "file");
  EXPECT_EQ(sink->deliver(R"({"n":1})"), std::nullopt);
  EXPECT_EQ(sink->deliver(R"({"n":2,"s":"é"})"), std::nullopt);
  // Buffered, not written per record: flush() (before the offsets are committed) writes them out.
  EXPECT_EQ(sink->flush(), std::nullopt);
  EXPECT_EQ(read_file(path), "{\"n\":1}\n{\"n\":2,\"s\":\"é\"}\n")
      << "readable after flush, before the sink closes";
}

TEST(FileSinkTest, AppendsToAnExistingFile) {
  TempDir dir;
  const auto path = dir.path() / "notifications.jsonl";
  std::ofstream(path) << "{\"old\":true}\n";
  {
    auto sink = make_sink("file:" + path.string(), 1000ms);
    ASSERT_EQ(sink->deliver(R"({"new":true})"), std::nullopt);
  }
  EXPECT_EQ(read_file(path), "{\"old\":true}\n{\"new\":true}\n");
}

TEST(FileSinkTest, WriteFailureIsAnErrorText) {
  // Every Linux system has /dev/full (a device node of the kernel's mem driver): its absence is a broken
  // test machine, not a reason to skip.
  ASSERT_TRUE(std::filesystem::exists("/dev/full")) << "/dev/full is missing on this machine";
  auto sink = make_sink("file:/dev/full", 1000ms);
  // A small write is buffered: the device's error comes at the latest from the flush before a commit.
  auto err = sink->deliver(R"({"n":1})");
  if (!err) err = sink->flush();
  ASSERT_TRUE(err.has_value());
  EXPECT_NE(err->find("/dev/full"), std::string::npos) << *err;
}

// ---- failure-rate wrapper
// --------------------------------------------------------------------------------------

TEST(FailureRateTest, RateZeroReturnsTheSinkItself) {
  auto inner = std::make_unique<CountingSink>();
  auto* raw = inner.get();
  auto wrapped = with_failure_rate(std::move(inner), 0.0, 1);
  EXPECT_EQ(wrapped.get(), raw);
}

TEST(FailureRateTest, RateOneFailsEveryDeliveryWithoutReachingTheSink) {
  auto inner = std::make_unique<CountingSink>();
  auto* raw = inner.get();
  auto wrapped = with_failure_rate(std::move(inner), 1.0, 1);
  for (int i = 0; i < 100; ++i) {
    const auto err = wrapped->deliver("{}");
    ASSERT_TRUE(err.has_value());
    EXPECT_FALSE(err->empty());
  }
  EXPECT_TRUE(raw->delivered.empty());
  EXPECT_EQ(wrapped->channel(), "counting");
  EXPECT_EQ(wrapped->flush(), std::nullopt);
  EXPECT_EQ(raw->flushes, 1);
}

TEST(FailureRateTest, FailsAboutTheGivenFractionAndPassesTheRestThrough) {
  auto inner = std::make_unique<CountingSink>();
  auto* raw = inner.get();
  auto wrapped = with_failure_rate(std::move(inner), 0.3, 42);
  int failures = 0;
  for (int i = 0; i < 10000; ++i) failures += wrapped->deliver(std::to_string(i)).has_value() ? 1 : 0;
  EXPECT_NEAR(failures, 3000, 300);
  EXPECT_EQ(raw->delivered.size(), static_cast<std::size_t>(10000 - failures));
}

TEST(FailureRateTest, SameSeedSameFailures) {
  auto a = with_failure_rate(std::make_unique<CountingSink>(), 0.5, 99);
  auto b = with_failure_rate(std::make_unique<CountingSink>(), 0.5, 99);
  auto c = with_failure_rate(std::make_unique<CountingSink>(), 0.5, 100);
  int differs = 0;
  for (int i = 0; i < 1000; ++i) {
    const bool fa = a->deliver("{}").has_value();
    ASSERT_EQ(fa, b->deliver("{}").has_value()) << i;
    differs += fa != c->deliver("{}").has_value() ? 1 : 0;
  }
  EXPECT_GT(differs, 100) << "another seed gives another sequence";
}

// ---- webhook sink
// ----------------------------------------------------------------------------------------------

TEST(WebhookSinkTest, PostsTheJsonAndMapsNon2xxToAnError) {
  TinyHttpServer server({200, 500, 204, 404});
  auto sink = make_sink("webhook:" + server.url("/hooks/notify"), 2000ms);
  EXPECT_EQ(sink->channel(), "webhook");
  EXPECT_EQ(sink->deliver(R"({"n":1})"), std::nullopt);
  const auto err = sink->deliver(R"({"n":2})");
  ASSERT_TRUE(err.has_value());
  EXPECT_NE(err->find("500"), std::string::npos) << *err;
  EXPECT_EQ(sink->deliver(R"({"n":3})"), std::nullopt) << "any 2xx is success";
  const auto err404 = sink->deliver(R"({"n":4})");
  ASSERT_TRUE(err404.has_value());
  EXPECT_NE(err404->find("404"), std::string::npos) << *err404;

  const auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 4U);
  EXPECT_EQ(reqs[0].method, "POST");
  EXPECT_EQ(reqs[0].target, "/hooks/notify");
  EXPECT_EQ(reqs[0].content_type, "application/json");
  EXPECT_EQ(reqs[0].body, R"({"n":1})");
  EXPECT_EQ(reqs[1].body, R"({"n":2})");
}

TEST(WebhookSinkTest, UrlWithoutPathPostsToRoot) {
  TinyHttpServer server({200});
  auto sink = make_sink("webhook:http://127.0.0.1:" + std::to_string(server.port()), 2000ms);
  EXPECT_EQ(sink->deliver("{}"), std::nullopt);
  const auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 1U);
  EXPECT_EQ(reqs[0].target, "/");
}

TEST(WebhookSinkTest, RefusedConnectionIsAnErrorText) {
  unsigned short port = 0;
  {
    TinyHttpServer server({200});  // take a free port, then stop listening on it
    port = server.port();
  }
  auto sink = make_sink("webhook:http://127.0.0.1:" + std::to_string(port) + "/x", 2000ms);
  const auto err = sink->deliver("{}");
  ASSERT_TRUE(err.has_value());
  EXPECT_EQ(err->rfind("webhook: ", 0), 0U) << *err;
}

// BUG (services/notification-service/src/sinks.cpp, WebhookSink::deliver): the timeout is set with
// beast::tcp_stream::expires_after, but connect/write/read are the SYNCHRONOUS calls, and Beast applies
// basic_stream timeouts only to asynchronous operations (see boost/beast/core/basic_stream.hpp: "Timeouts are
// not available when performing blocking calls"). A webhook that accepts and never answers blocks the stage
// thread forever instead of failing the delivery as transient after --webhook-timeout.
// Suggested fix: use async_connect/async_write/async_read with io_.run_for()/restart(), or set SO_RCVTIMEO /
// SO_SNDTIMEO on the socket; then enable this test.
TEST(WebhookSinkTest, UnansweredRequestTimesOut) {
  TinyHttpServer server({}, /*hang=*/true);
  auto sink = make_sink("webhook:" + server.url("/slow"), 200ms);
  auto result = std::async(std::launch::async, [&sink] { return sink->deliver("{}"); });
  const bool finished = result.wait_for(3s) == std::future_status::ready;
  server.release();  // unblock the sink either way so the test can end
  EXPECT_TRUE(finished) << "deliver() still blocked 3 s after a 200 ms timeout";
  const auto err = result.get();
  ASSERT_TRUE(err.has_value());
}

}  // namespace
