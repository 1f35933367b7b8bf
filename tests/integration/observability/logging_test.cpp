// Structured logs: log_fields() rendered by both formats in-process, and `--log-format json` of a
// real payment-service run: every line one JSON object with ts, level, service, msg; the
// dead-letter warning names the record.
#include "orderflow/runtime/logging.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <regex>
#include <sstream>

#include <nlohmann/json.hpp>

#include "orderflow/testing/paths.h"
#include "orderflow/testing/produce.h"
#include "orderflow/testing/wait.h"
#include "pipeline_fixture.h"

namespace orderflow::testing {
namespace {

using namespace std::chrono_literals;

// Flip to true once stage.cpp's dead-letter warning uses log_fields() (patch in the report).
constexpr bool kDeadLetterLineHasFields = true;

// What `fn` wrote to stderr (fd 2), through the default spdlog logger.
std::string capture_stderr(const std::function<void()>& fn) {
  const auto dir = make_temp_dir("obs-stderr");
  const auto file = dir + "/stderr.txt";
  std::fflush(stderr);
  const int saved = ::dup(2);
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  ::dup2(fd, 2);
  fn();
  spdlog::default_logger()->flush();
  std::fflush(stderr);
  ::dup2(saved, 2);
  ::close(saved);
  ::close(fd);
  std::ifstream in(file);
  std::stringstream ss;
  ss << in.rdbuf();
  std::filesystem::remove_all(dir);
  return ss.str();
}

const std::regex kTs(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z)");

TEST(LogFieldsTest, TextFormatRendersKeyValuePairs) {
  const auto out = capture_stderr([] {
    runtime::setup_logging("obs-test", "info", "text");
    const std::string topic = "orders";
    const std::int32_t partition = 3;
    const std::int64_t offset = 17;
    spdlog::warn("dead-lettering {}[{}]@{}{}", topic, partition, offset,
                 runtime::log_fields({{"topic", topic},
                                      {"partition", partition},
                                      {"offset", offset},
                                      {"order_id", "o-1"},
                                      {"reason", "bad \"json\""}}));
    spdlog::info("plain message");
  });
  EXPECT_NE(out.find("dead-lettering orders[3]@17 topic=orders partition=3 offset=17 order_id=o-1 "
                     "reason=\"bad \\\"json\\\"\"\n"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("[obs-test] plain message\n"), std::string::npos) << out;
  EXPECT_EQ(out.find('\t'), std::string::npos) << out;
  EXPECT_EQ(runtime::render_text_fields("no fields"), "no fields");
  EXPECT_EQ(runtime::render_text_fields("x" + runtime::log_fields({{"ok", true}, {"ratio", 0.5}})),
            "x ok=true ratio=0.5");
  EXPECT_EQ(runtime::log_fields({}), "");
}

TEST(LogFieldsTest, JsonFormatMakesFieldsTopLevel) {
  const auto out = capture_stderr([] {
    runtime::setup_logging("obs-test", "info", "json");
    spdlog::warn("dead-lettering{}", runtime::log_fields({{"topic", "orders"},
                                                          {"partition", 3},
                                                          {"offset", std::int64_t{17}},
                                                          {"msg", "must not replace msg"}}));
    spdlog::info("tab\t{not json");
  });
  std::istringstream lines(out);
  std::string line;
  std::vector<nlohmann::json> objs;
  while (std::getline(lines, line)) objs.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(objs.size(), 2U) << out;
  EXPECT_EQ(objs[0]["msg"], "dead-lettering");
  EXPECT_EQ(objs[0]["level"], "warning");
  EXPECT_EQ(objs[0]["service"], "obs-test");
  EXPECT_TRUE(std::regex_match(objs[0]["ts"].get<std::string>(), kTs)) << objs[0];
  EXPECT_EQ(objs[0]["topic"], "orders");
  EXPECT_EQ(objs[0]["partition"], 3);
  EXPECT_EQ(objs[0]["offset"], 17);
  EXPECT_EQ(objs[1]["msg"], "tab\t{not json");
  runtime::setup_logging("obs-test", "info", "text");
}

TEST(JsonLogTest, EveryLineOfAServiceRunIsAJsonObject) {
  TestBroker broker{6};
  Pipeline pipe{broker};
  const int port = free_port();
  auto pay = pipe.start_payment(port, {"--log-format", "json"});
  ASSERT_TRUE(wait_ready(port, 60s)) << pay.output();
  auto [rc, out] = pipe.produce_orders({"--count", "20", "--seed", "34"});
  ASSERT_EQ(rc, 0) << out;
  produce(broker.bootstrap(), pipe.orders, {{std::string("poison-customer"), "{not json"}},
          {{"x-correlation-id", "poison-order"}});
  TopicReader dlq(broker.bootstrap(), pipe.payment_dlq());
  TopicReader payments(broker.bootstrap(), pipe.payments);
  ASSERT_TRUE(dlq.wait_for_count(1, 60s)) << pay.output();
  ASSERT_TRUE(payments.wait_for_count(20, 60s)) << pay.output();
  ASSERT_EQ(pay.stop(30s), 0) << pay.output();
  const auto& poison = dlq.records().at(0);

  std::istringstream lines(pay.output());
  std::string line;
  int n = 0;
  bool saw_dead_letter = false;
  const std::set<std::string> levels{"trace", "debug", "info", "warning", "error", "critical"};
  while (std::getline(lines, line)) {
    ++n;
    const auto j = nlohmann::json::parse(line, nullptr, false);
    ASSERT_TRUE(j.is_object()) << "line " << n << " is not a JSON object: " << line;
    for (const char* k : {"ts", "level", "service", "msg"}) {
      ASSERT_TRUE(j.contains(k) && j[k].is_string()) << "line " << n << " lacks string " << k << ": " << line;
    }
    EXPECT_TRUE(std::regex_match(j["ts"].get<std::string>(), kTs)) << line;
    EXPECT_EQ(levels.count(j["level"].get<std::string>()), 1U) << line;
    EXPECT_EQ(j["service"], "payment-service") << line;
    if (j["msg"].get<std::string>().find("dead-lettering") != std::string::npos) {
      saw_dead_letter = true;
      EXPECT_EQ(j["level"], "warning") << line;
      if (kDeadLetterLineHasFields) {
        EXPECT_EQ(j.value("topic", ""), pipe.orders) << line;
        EXPECT_EQ(j.value("partition", -1), std::stoi(header(poison, "x-original-partition").value_or("-2")))
            << line;
        EXPECT_EQ(j.value("offset", std::int64_t{-1}),
                  std::stoll(header(poison, "x-original-offset").value_or("-2")))
            << line;
        EXPECT_EQ(j.value("order_id", ""), "poison-order") << line;
      }
    }
  }
  EXPECT_GT(n, 3);
  EXPECT_TRUE(saw_dead_letter) << pay.output();
}

}  // namespace
}  // namespace orderflow::testing
