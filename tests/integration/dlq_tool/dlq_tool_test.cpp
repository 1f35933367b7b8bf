// build/bin/dlq-tool end to end against kafka-dev-broker: count, list (text and JSON), replay into the
// original topic and elsewhere, a second replay sending nothing, dry runs, and the CLI contract
// (usage errors exit 2, an unreachable broker exits 1 within --timeout-s).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "orderflow/testing/dev_broker.h"
#include "orderflow/testing/paths.h"
#include "orderflow/testing/process.h"
#include "orderflow/testing/produce.h"
#include "orderflow/testing/topic_reader.h"

namespace orderflow::testing {
namespace {

using namespace std::chrono_literals;
using namespace std::string_literals;
using Headers = std::vector<std::pair<std::string, std::string>>;
using Records = std::vector<std::pair<std::optional<std::string>, std::string>>;

struct ToolRun {
  int code = -1;
  std::string output;  // stdout and stderr
  std::chrono::milliseconds elapsed{0};
};

ToolRun run_tool(const std::vector<std::string>& args, std::chrono::seconds timeout = 60s) {
  const auto start = std::chrono::steady_clock::now();
  auto p = Process::start(bin_path("dlq-tool"), args);
  ToolRun r;
  const auto code = p.wait(timeout);
  r.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
  r.output = p.output();
  r.code = code ? *code : p.stop(1s);
  return r;
}

std::vector<nlohmann::json> json_lines(const std::string& output) {
  std::vector<nlohmann::json> out;
  std::istringstream in(output);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.front() == '{') out.push_back(nlohmann::json::parse(line));
  }
  return out;
}

std::string decode_base64(const std::string& in) {
  static const std::string kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  unsigned bits = 0;
  int count = 0;
  for (const char c : in) {
    if (c == '=') break;
    bits = (bits << 6U) | static_cast<unsigned>(kAlphabet.find(c));
    count += 6;
    if (count >= 8) {
      count -= 8;
      out += static_cast<char>((bits >> static_cast<unsigned>(count)) & 0xFFU);
    }
  }
  return out;
}

Headers failure_headers(const std::string& error_class, const std::string& original_topic = "orders") {
  Headers h;
  if (!original_topic.empty()) h.emplace_back("x-original-topic", original_topic);
  h.insert(h.end(), {{"x-original-partition", "2"},
                     {"x-original-offset", "41"},
                     {"x-attempt", error_class == "poison" ? "1" : "4"},
                     {"x-error-class", error_class},
                     {"x-error-message", error_class == "poison" ? "not valid JSON" : "gateway timeout"},
                     {"x-failed-service", "payment-service"},
                     {"x-failed-at", "1767225600000"},
                     {"traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
                     {"x-correlation-id", "corr-" + error_class}});
  return h;
}

bool has_header(const Record& r, const std::string& name) {
  return std::any_of(r.headers.begin(), r.headers.end(), [&](const auto& h) { return h.first == name; });
}

const std::string kDlq = "payment-service.dlq";
const std::string kBinary = "\x00\x01\x02 binary \xff\xfe tail"s;  // a NUL and invalid UTF-8
const Records kPoison = {{"c-1", "not json"}, {"c-2", "{\"order_id\":"}};
const Records kExhausted = {
    {"c-3", kBinary}, {"c-4", "{\"order_id\":\"o-4\"}"}, {std::nullopt, "{\"order_id\":\"o-5\"}"}};

class DlqToolTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    broker_ = std::make_unique<DevBroker>();
    produce(broker_->bootstrap(), kDlq, kPoison, failure_headers("poison"));
    produce(broker_->bootstrap(), kDlq, kExhausted, failure_headers("exhausted"));
  }
  static void TearDownTestSuite() { broker_.reset(); }

  static ToolRun tool(std::vector<std::string> args, std::chrono::seconds timeout = 60s) {
    args.push_back("--brokers");
    args.push_back(broker_->bootstrap());
    return run_tool(args, timeout);
  }
  static const std::string& bootstrap() { return broker_->bootstrap(); }

  static std::unique_ptr<DevBroker> broker_;
};
std::unique_ptr<DevBroker> DlqToolTest::broker_;

TEST_F(DlqToolTest, CountsByErrorClassAndFailedService) {
  const auto json = tool({"count", "--topic", kDlq, "--json"});
  ASSERT_EQ(json.code, 0) << json.output;
  const auto lines = json_lines(json.output);
  ASSERT_EQ(lines.size(), 1U) << json.output;
  const auto& j = lines.front();
  EXPECT_EQ(j["topic"], kDlq);
  EXPECT_EQ(j["total"], 5);
  EXPECT_EQ(j["by_error_class"], (nlohmann::json{{"exhausted", 3}, {"poison", 2}}));
  EXPECT_EQ(j["by_failed_service"], (nlohmann::json{{"payment-service", 5}}));

  const auto text = tool({"count", "--topic", kDlq});
  ASSERT_EQ(text.code, 0) << text.output;
  EXPECT_NE(text.output.find("by x-error-class"), std::string::npos) << text.output;
  EXPECT_NE(text.output.find("by x-failed-service"), std::string::npos) << text.output;

  const auto filtered = tool({"count", "--topic", kDlq, "--json", "--filter-error-class", "poison"});
  ASSERT_EQ(filtered.code, 0) << filtered.output;
  EXPECT_EQ(json_lines(filtered.output).at(0)["total"], 2);
}

TEST_F(DlqToolTest, ListJsonLinesCarryHeadersKeyAndExactValue) {
  const auto run = tool({"list", "--topic", kDlq, "--json"});
  ASSERT_EQ(run.code, 0) << run.output;
  const auto lines = json_lines(run.output);
  ASSERT_EQ(lines.size(), 5U) << run.output;
  int poison = 0;
  bool saw_binary = false;
  bool saw_null_key = false;
  for (const auto& j : lines) {
    EXPECT_EQ(j["topic"], kDlq);
    EXPECT_GE(j["partition"].get<int>(), 0);
    EXPECT_GE(j["offset"].get<long long>(), 0);
    EXPECT_EQ(j["headers"]["x-original-topic"], "orders");
    EXPECT_EQ(j["headers"]["x-failed-service"], "payment-service");
    EXPECT_TRUE(j["headers"].contains("traceparent"));
    if (j["headers"]["x-error-class"] == "poison") ++poison;
    if (j["key"].is_null()) saw_null_key = true;
    if (j["key"] == "c-3") {
      saw_binary = true;
      EXPECT_EQ(decode_base64(j["value_base64"].get<std::string>()), kBinary);
      EXPECT_EQ(j["value"], "\\x00\\x01\\x02 binary \\xff\\xfe tail");
      EXPECT_EQ(j["value_bytes"], kBinary.size());
    }
  }
  EXPECT_EQ(poison, 2);
  EXPECT_TRUE(saw_binary);
  EXPECT_TRUE(saw_null_key);
}

TEST_F(DlqToolTest, ListTextFilterAndLimit) {
  const auto text = tool({"list", "--topic", kDlq, "--filter-error-class", "poison"});
  ASSERT_EQ(text.code, 0) << text.output;
  EXPECT_NE(text.output.find("key \"c-1\""), std::string::npos) << text.output;
  EXPECT_NE(text.output.find("  x-error-class: poison"), std::string::npos) << text.output;
  EXPECT_NE(text.output.find("  value: not json"), std::string::npos) << text.output;
  EXPECT_EQ(text.output.find("exhausted"), std::string::npos) << text.output;
  EXPECT_NE(text.output.find("listed=2 topic=" + kDlq), std::string::npos) << text.output;

  const auto limited = tool({"list", "--topic", kDlq, "--json", "--limit", "2"});
  ASSERT_EQ(limited.code, 0) << limited.output;
  EXPECT_EQ(json_lines(limited.output).size(), 2U) << limited.output;
}

TEST_F(DlqToolTest, ReplayFilteredPutsExactlyTheExhaustedOnesIntoOrders) {
  const auto first = tool({"replay", "--topic", kDlq, "--filter-error-class", "exhausted"});
  ASSERT_EQ(first.code, 0) << first.output;
  EXPECT_NE(first.output.find("replayed=3 skipped=2 topic=" + kDlq), std::string::npos) << first.output;

  TopicReader orders(bootstrap(), "orders");
  ASSERT_TRUE(orders.drain_to_end(20s));
  ASSERT_EQ(orders.records().size(), 3U);
  Records got;
  for (const auto& r : orders.records()) {
    got.emplace_back(r.key, r.value);
    EXPECT_FALSE(has_header(r, "x-error-class"));
    EXPECT_FALSE(has_header(r, "x-original-topic"));
    EXPECT_FALSE(has_header(r, "x-failed-service"));
    EXPECT_TRUE(has_header(r, "traceparent"));
    EXPECT_TRUE(has_header(r, "x-correlation-id"));
  }
  auto want = kExhausted;
  std::sort(got.begin(), got.end());
  std::sort(want.begin(), want.end());
  EXPECT_EQ(got, want);  // original key and value bytes, the NUL included

  const auto second = tool({"replay", "--topic", kDlq});
  ASSERT_EQ(second.code, 0) << second.output;
  EXPECT_NE(second.output.find("replayed=0 skipped=0 topic=" + kDlq), std::string::npos) << second.output;
  TopicReader again(bootstrap(), "orders");
  ASSERT_TRUE(again.drain_to_end(20s));
  EXPECT_EQ(again.records().size(), 3U);

  // list and count still show the whole topic: replay does not delete dead letters.
  EXPECT_EQ(json_lines(tool({"count", "--topic", kDlq, "--json"}).output).at(0)["total"], 5);
}

TEST_F(DlqToolTest, ReplayToAnotherTopic) {
  const std::string dlq = "notification-service.dlq";
  produce(bootstrap(), dlq, {{"c-7", "{\"n\":1}"}, {"c-8", "{\"n\":2}"}},
          failure_headers("exhausted", "payments"));
  const auto run = tool({"replay", "--topic", dlq, "--to", "other-topic"});
  ASSERT_EQ(run.code, 0) << run.output;
  EXPECT_NE(run.output.find("replayed=2 skipped=0 topic=" + dlq), std::string::npos) << run.output;
  TopicReader other(bootstrap(), "other-topic");
  ASSERT_TRUE(other.wait_for_count(2, 20s));
  ASSERT_TRUE(other.drain_to_end(20s));
  EXPECT_EQ(other.records().size(), 2U);
  TopicReader payments(bootstrap(), "payments");
  ASSERT_TRUE(payments.drain_to_end(20s));
  EXPECT_TRUE(payments.records().empty());
}

TEST_F(DlqToolTest, DryRunPrintsAndCommitsNothing) {
  const std::string dlq = "dry-run.dlq";
  produce(bootstrap(), dlq, {{"c-1", "a"}, {"c-2", "b"}}, failure_headers("exhausted"));
  produce(bootstrap(), dlq, {{"c-3", "c"}}, failure_headers("poison"));
  const auto dry = tool({"replay", "--topic", dlq, "--to", "dry-run-target", "--filter-error-class",
                         "exhausted", "--dry-run", "--json"});
  ASSERT_EQ(dry.code, 0) << dry.output;
  const auto lines = json_lines(dry.output);
  ASSERT_EQ(lines.size(), 3U) << dry.output;  // two records and the summary
  EXPECT_EQ(lines[0]["replay_to"], "dry-run-target");
  EXPECT_EQ(lines[2]["replayed"], 0);
  EXPECT_EQ(lines[2]["would_replay"], 2);
  EXPECT_EQ(lines[2]["skipped"], 1);
  EXPECT_EQ(lines[2]["dry_run"], true);

  const auto real = tool({"replay", "--topic", dlq, "--to", "dry-run-target"});
  ASSERT_EQ(real.code, 0) << real.output;
  EXPECT_NE(real.output.find("replayed=3 skipped=0"), std::string::npos) << real.output;
}

TEST_F(DlqToolTest, RecordWithoutOriginalTopicNeedsTo) {
  const std::string dlq = "unroutable.dlq";
  produce(bootstrap(), dlq, {{"c-1", "x"}}, failure_headers("exhausted", ""));
  const auto run = tool({"replay", "--topic", dlq});
  EXPECT_EQ(run.code, 1) << run.output;
  EXPECT_NE(run.output.find("unroutable=1"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("--to"), std::string::npos) << run.output;
  const auto with_to = tool({"replay", "--topic", dlq, "--to", "unroutable-target"});
  EXPECT_EQ(with_to.code, 0) << with_to.output;
  EXPECT_NE(with_to.output.find("replayed=1 skipped=0"), std::string::npos) << with_to.output;
}

// Transactions are the default. Their transactional.id comes from the replay group, the same on every
// run (so a new run fences a killed one), and never equals a service's `<group>-<instance>`. The mock
// behind kafka-dev-broker accepts offsets sent in a transaction without keeping them (and writes no
// transaction markers): replay notices after its first round, says so, and commits its progress
// directly too, so a second run still sends nothing again. Exactly-once itself is proven on real Kafka
// (dlq_eos_test).
TEST_F(DlqToolTest, ReplayTransactionalIdIsStablePerReplayGroup) {
  const std::string dlq = "txn-id.dlq";
  const std::string target = "txn-id-target";
  produce(bootstrap(), dlq, {{"c-1", "a"}, {"c-2", "b"}}, failure_headers("exhausted"));
  const std::vector<std::string> args = {"replay", "--topic", dlq, "--to", target, "--log-level", "info"};
  const auto first = tool(args);
  ASSERT_EQ(first.code, 0) << first.output;
  EXPECT_NE(first.output.find("transactional.id=dlq-tool.txn-id.dlq)"), std::string::npos) << first.output;
  EXPECT_NE(first.output.find("replayed=2 skipped=0"), std::string::npos) << first.output;
  EXPECT_NE(first.output.find("did not keep the offsets sent with the transaction"), std::string::npos)
      << first.output;

  produce(bootstrap(), dlq, {{"c-3", "c"}}, failure_headers("exhausted"));
  const auto second = tool(args);
  ASSERT_EQ(second.code, 0) << second.output;
  EXPECT_NE(second.output.find("transactional.id=dlq-tool.txn-id.dlq)"), std::string::npos) << second.output;
  EXPECT_NE(second.output.find("replayed=1 skipped=0"), std::string::npos) << second.output;

  // A group of the operator's own naming gets the tool's prefix.
  const auto custom = tool({"replay", "--topic", dlq, "--to", target, "--replay-group", "payment-service-0",
                            "--log-level", "info"});
  ASSERT_EQ(custom.code, 0) << custom.output;
  EXPECT_NE(custom.output.find("transactional.id=dlq-tool.payment-service-0)"), std::string::npos)
      << custom.output;
  EXPECT_NE(custom.output.find("replayed=3 skipped=0"), std::string::npos) << custom.output;

  TopicReader out(bootstrap(), target);
  ASSERT_TRUE(out.wait_for_count(6, 20s));
  ASSERT_TRUE(out.drain_to_end(20s));
  EXPECT_EQ(out.records().size(), 6U);  // 2 + 1 by the default group, all 3 again by the new group
}

TEST_F(DlqToolTest, NoTransactionsReplaysAndKeepsProgressInTheSameGroup) {
  const std::string dlq = "no-txn.dlq";
  const std::string target = "no-txn-target";
  produce(bootstrap(), dlq, {{"c-1", "a"}, {"c-2", "b"}, {"c-3", "c"}}, failure_headers("exhausted"));
  const std::vector<std::string> args = {"replay", "--topic",           dlq,           "--to",
                                         target,   "--no-transactions", "--log-level", "info"};
  const auto first = tool(args);
  ASSERT_EQ(first.code, 0) << first.output;
  EXPECT_NE(first.output.find("replayed=3 skipped=0"), std::string::npos) << first.output;
  EXPECT_EQ(first.output.find("transactional.id"), std::string::npos) << first.output;
  EXPECT_EQ(first.output.find("did not keep the offsets"), std::string::npos) << first.output;
  const auto second = tool(args);
  ASSERT_EQ(second.code, 0) << second.output;
  EXPECT_NE(second.output.find("replayed=0 skipped=0"), std::string::npos) << second.output;
  // Both modes keep their progress in the same group: a transactional run continues from there.
  const auto transactional = tool({"replay", "--topic", dlq, "--to", target, "--json"});
  ASSERT_EQ(transactional.code, 0) << transactional.output;
  const auto summary = json_lines(transactional.output);
  ASSERT_EQ(summary.size(), 1U) << transactional.output;
  EXPECT_EQ(summary[0]["replayed"], 0);

  TopicReader out(bootstrap(), target);
  ASSERT_TRUE(out.wait_for_count(3, 20s));
  ASSERT_TRUE(out.drain_to_end(20s));
  EXPECT_EQ(out.records().size(), 3U);
}

TEST_F(DlqToolTest, MissingTopicExitsOne) {
  const auto run = tool({"list", "--topic", "no-such-topic.dlq", "--timeout-s", "5"});
  EXPECT_EQ(run.code, 1) << run.output;
  EXPECT_NE(run.output.find("no-such-topic.dlq"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("does not exist"), std::string::npos) << run.output;
}

// --- the CLI contract, no broker needed ---

TEST(DlqToolCli, HelpAndVersionExitZero) {
  const auto help = run_tool({"--help"});
  EXPECT_EQ(help.code, 0) << help.output;
  EXPECT_NE(help.output.find("Usage: dlq-tool list|count|replay"), std::string::npos) << help.output;
  EXPECT_NE(help.output.find("--filter-error-class"), std::string::npos);
  const auto version = run_tool({"--version"});
  EXPECT_EQ(version.code, 0) << version.output;
  EXPECT_EQ(version.output.rfind("dlq-tool ", 0), 0U) << version.output;
}

TEST(DlqToolCli, UsageErrorsExitTwoNamingTheProblem) {
  const auto one_line = [](const ToolRun& r) {
    return std::count(r.output.begin(), r.output.end(), '\n') == 1;
  };
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"list", "--topic", "t", "--bogus"}, "--bogus"},
      {{"--topic", "t"}, "missing subcommand"},
      {{"list"}, "--topic"},
      {{"frobnicate", "--topic", "t"}, "frobnicate"},
      {{"count", "--topic", "t", "--limit", "many"}, "--limit"},
      {{"count", "--topic", "t", "--limit", "-1"}, "--limit"},
      {{"replay", "--topic", "t", "--filter-error-class", "bad"}, "--filter-error-class"},
      {{"list", "--topic", "t", "--to", "x"}, "--to"},
      {{"replay", "--topic", "t", "-X", "novalue"}, "novalue"},
      {{"list", "--topic", "t", "--timeout-s", "0"}, "--timeout-s"},
      {{"count", "--topic", "t", "--no-transactions"}, "--no-transactions"},
  };
  for (const auto& [args, needle] : cases) {
    const auto r = run_tool(args);
    EXPECT_EQ(r.code, 2) << r.output;
    EXPECT_NE(r.output.find(needle), std::string::npos) << r.output;
    EXPECT_TRUE(one_line(r)) << r.output;
  }
}

TEST(DlqToolCli, UnreachableBrokerExitsOneWithinTheTimeout) {
  const auto r = run_tool(
      {"count", "--topic", "payment-service.dlq", "--brokers", "127.0.0.1:1", "--timeout-s", "2"}, 30s);
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("127.0.0.1:1"), std::string::npos) << r.output;
  EXPECT_LT(r.elapsed, 10s) << r.output;
}

}  // namespace
}  // namespace orderflow::testing
