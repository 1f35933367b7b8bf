// The broker-free parts of dlq-tool: escaping, JSON lines, header filtering, replay decisions,
// counting and splitting the subcommand out of argv.
#include <gtest/gtest.h>
#include <librdkafka/rdkafkacpp.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "orderflow/dlq/dlq_record.h"
#include "orderflow/dlq/error_counts.h"
#include "orderflow/dlq/replay.h"
#include "orderflow/dlq/tool_options.h"
#include "orderflow/messaging/consumer.h"

namespace orderflow::dlq {
namespace {

using namespace std::string_literals;

DlqRecord record(std::string error_class, std::optional<std::string> original_topic = "orders") {
  DlqRecord r;
  r.topic = "payment-service.dlq";
  r.partition = 1;
  r.offset = 7;
  r.key = "c-1";
  r.value = "{\"a\":1}";
  if (original_topic) r.headers.emplace_back("x-original-topic", *original_topic);
  r.headers.emplace_back("x-error-class", std::move(error_class));
  r.headers.emplace_back("x-failed-service", "payment-service");
  r.headers.emplace_back("traceparent", "00-abc-def-01");
  r.headers.emplace_back("x-correlation-id", "corr-1");
  return r;
}

TEST(DlqFormat, EscapesNonPrintableBytesButKeepsUtf8) {
  EXPECT_EQ(escape_bytes("plain text"), "plain text");
  EXPECT_EQ(escape_bytes("a\0b"s), "a\\x00b");
  EXPECT_EQ(escape_bytes("tab\tnl\nback\\"), "tab\\tnl\\nback\\\\");
  EXPECT_EQ(escape_bytes("caf\xc3\xa9"), "caf\xc3\xa9");  // é passes through
  EXPECT_EQ(escape_bytes("\xff\xc3"), "\\xff\\xc3");      // invalid and truncated UTF-8
  EXPECT_EQ(escape_bytes("\xc2\x85"), "\\xc2\\x85");      // C1 control
  EXPECT_EQ(escape_bytes("\x7f"), "\\x7f");
}

TEST(DlqFormat, Base64) {
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  EXPECT_EQ(base64_encode("a\0b"s), "YQBi");
}

TEST(DlqFormat, TextBlockShowsHeadersAndAValuePreview) {
  auto r = record("poison");
  r.value = std::string(250, 'v');
  const auto text = format_text(r);
  EXPECT_NE(text.find("partition 1 offset 7 key \"c-1\" value 250 bytes\n"), std::string::npos) << text;
  EXPECT_NE(text.find("  x-error-class: poison\n"), std::string::npos) << text;
  EXPECT_NE(text.find("  value: " + std::string(200, 'v') + "… (50 more bytes)\n"), std::string::npos)
      << text;
  r.key.reset();
  EXPECT_NE(format_text(r).find("key (null)"), std::string::npos);
}

TEST(DlqFormat, JsonLineCarriesHeadersAndExactValue) {
  auto r = record("exhausted");
  r.value = "bin\0ary\xff"s;
  const auto j = nlohmann::json::parse(format_json(r));
  EXPECT_EQ(j["partition"], 1);
  EXPECT_EQ(j["offset"], 7);
  EXPECT_EQ(j["key"], "c-1");
  EXPECT_EQ(j["headers"]["x-error-class"], "exhausted");
  EXPECT_EQ(j["headers"]["traceparent"], "00-abc-def-01");
  EXPECT_EQ(j["value"], "bin\\x00ary\\xff");
  EXPECT_EQ(j["value_bytes"], 8);
  EXPECT_EQ(j["value_truncated"], false);
  EXPECT_EQ(j["value_base64"], base64_encode(r.value));
  EXPECT_FALSE(j.contains("replay_to"));
  r.key.reset();
  EXPECT_TRUE(nlohmann::json::parse(format_json(r, 200, "orders"))["key"].is_null());
}

TEST(DlqReplayHeaders, DropsOnlyTheFailureHeaders) {
  auto r = record("exhausted");
  r.headers.emplace_back("x-original-partition", "3");
  r.headers.emplace_back("x-not-before", "1");
  r.headers.emplace_back("x-order-occurred-at", "2026-01-01T00:00:00.000Z");
  const auto kept = replay_headers(r.headers);
  const messaging::Headers expected = {{"traceparent", "00-abc-def-01"},
                                       {"x-correlation-id", "corr-1"},
                                       {"x-order-occurred-at", "2026-01-01T00:00:00.000Z"}};
  EXPECT_EQ(kept, expected);
}

TEST(DlqReplayDecision, FilterTargetAndUnroutable) {
  ReplayOptions o;
  EXPECT_EQ(decide(record("poison"), o).kind, ReplayDecision::Kind::Replay);
  EXPECT_EQ(decide(record("poison"), o).target, "orders");
  o.error_class = "exhausted";
  EXPECT_EQ(decide(record("poison"), o).kind, ReplayDecision::Kind::Skip);
  EXPECT_EQ(decide(record("exhausted", std::nullopt), o).kind, ReplayDecision::Kind::Unroutable);
  o.to = "elsewhere";
  EXPECT_EQ(decide(record("exhausted", std::nullopt), o).target, "elsewhere");
}

TEST(DlqReplaySummary, LineAndExitCode) {
  ReplaySummary s;
  s.topic = "t.dlq";
  s.replayed = 3;
  s.skipped = 2;
  EXPECT_EQ(s.line(false), "replayed=3 skipped=2 topic=t.dlq");
  EXPECT_EQ(s.exit_code(), 0);
  s.failed = 1;
  EXPECT_EQ(s.line(false), "replayed=3 skipped=2 topic=t.dlq failed=1");
  EXPECT_EQ(s.exit_code(), 1);
  EXPECT_EQ(nlohmann::json::parse(s.line(true))["failed"], 1);
  s.failed = 0;
  s.dry_run = true;
  EXPECT_EQ(s.line(false), "would_replay=3 skipped=2 topic=t.dlq dry_run=true");
}

TEST(DlqReplayTransactions, TransactionalIdComesFromTheReplayGroup) {
  EXPECT_EQ(replay_transactional_id("dlq-tool.payment-service.dlq"), "dlq-tool.payment-service.dlq");
  EXPECT_EQ(replay_transactional_id("ops-7"), "dlq-tool.ops-7");
  // Never a service instance's own transactional.id (`<group>-<instance>`), which it would fence.
  EXPECT_EQ(replay_transactional_id("payment-service-0"), "dlq-tool.payment-service-0");
  EXPECT_EQ(replay_transactional_id("dlq-tool"), "dlq-tool.dlq-tool");
  EXPECT_EQ(replay_transactional_id("ops-7"), replay_transactional_id("ops-7"));
}

TEST(DlqReplayTransactions, FailureActions) {
  using A = TxnFailureAction;
  // retriable, abortable, fatal, attempt, max
  EXPECT_EQ(txn_failure_action(false, false, true, 1, 3), A::Fatal);
  EXPECT_EQ(txn_failure_action(true, true, true, 1, 3), A::Fatal);  // fenced wins over everything
  EXPECT_EQ(txn_failure_action(false, true, false, 1, 3), A::Abort);
  EXPECT_EQ(txn_failure_action(true, true, false, 1, 3), A::Abort);
  EXPECT_EQ(txn_failure_action(true, false, false, 1, 3), A::Retry);
  EXPECT_EQ(txn_failure_action(true, false, false, 2, 3), A::Retry);
  EXPECT_EQ(txn_failure_action(true, false, false, 3, 3), A::Abort);  // retries used up
  EXPECT_EQ(txn_failure_action(false, false, false, 1, 3), A::Abort);
}

TEST(DlqReplayTransactions, OffsetsStored) {
  const std::map<std::int32_t, std::int64_t> sent = {{0, 10}, {3, 7}};
  EXPECT_TRUE(offsets_stored(sent, {{0, 10}, {3, 7}}));
  EXPECT_TRUE(offsets_stored(sent, {{0, 10}, {1, 4}, {3, 7}}));  // other partitions do not matter
  EXPECT_FALSE(offsets_stored(sent, {{0, 10}}));                 // nothing stored for partition 3
  EXPECT_FALSE(offsets_stored(sent, {{0, 10}, {3, 5}}));         // an older offset
  EXPECT_FALSE(offsets_stored(sent, {{0, 10}, {3, -1001}}));     // librdkafka's "no offset"
  EXPECT_TRUE(offsets_stored({}, {}));
}

TEST(DlqReplayTransactions, OnByDefaultOffWithNoTransactions) {
  runtime::CommandLine cli;
  add_tool_options(cli);
  const auto parse = [&](std::vector<const char*> argv) {
    runtime::po::variables_map vm;
    runtime::po::store(
        runtime::po::parse_command_line(static_cast<int>(argv.size()), argv.data(), cli.options), vm);
    runtime::po::notify(vm);
    return read_tool_options(Command::Replay, vm);
  };
  EXPECT_TRUE(parse({"dlq-tool", "--topic", "t"}).transactions);
  EXPECT_FALSE(parse({"dlq-tool", "--topic", "t", "--no-transactions"}).transactions);
}

// The guarantee of a transactional replay holds for read_committed readers. The services read that way
// in both modes: exactly-once sets it, and at-least-once leaves librdkafka's default, read_committed.
TEST(DlqReplayTransactions, ServiceConsumersReadCommittedInBothGuarantees) {
  messaging::ConsumerOptions o;
  o.group_id = "payment-service";
  o.properties.set("bootstrap.servers", "127.0.0.1:1");
  const auto at_least_once = messaging::consumer_properties(o);
  EXPECT_EQ(at_least_once.find("isolation.level"), nullptr);
  std::unique_ptr<RdKafka::Conf> defaults(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string level;
  ASSERT_EQ(defaults->get("isolation.level", level), RdKafka::Conf::CONF_OK);
  EXPECT_EQ(level, "read_committed");
  o.read_committed = true;
  EXPECT_EQ(*messaging::consumer_properties(o).find("isolation.level"), "read_committed");
}

TEST(DlqCount, TalliesMissingHeadersAsNone) {
  ErrorCounts c;
  c.topic = "t.dlq";
  c.add(record("poison"));
  c.add(record("exhausted"));
  c.add(record("exhausted"));
  DlqRecord bare;
  c.add(bare);
  const auto j = nlohmann::json::parse(c.to_json());
  EXPECT_EQ(j["total"], 4);
  EXPECT_EQ(j["by_error_class"]["exhausted"], 2);
  EXPECT_EQ(j["by_error_class"]["(none)"], 1);
  EXPECT_EQ(j["by_failed_service"]["payment-service"], 3);
  EXPECT_NE(c.to_text().find("exhausted"), std::string::npos);
}

TEST(DlqCommandLine, SplitsTheSubcommandWherever) {
  runtime::CommandLine cli;
  add_tool_options(cli);
  const char* a1[] = {"dlq-tool", "--topic", "list", "count", "-X", "a=b", "--json"};
  auto s = split_subcommand(cli.options, 7, a1);
  ASSERT_TRUE(s.command);
  EXPECT_EQ(*s.command, "count");  // "list" is the value of --topic
  EXPECT_EQ(s.args, (std::vector<std::string>{"dlq-tool", "--topic", "list", "-X", "a=b", "--json"}));
  const char* a2[] = {"dlq-tool", "replay", "--topic=t", "extra"};
  s = split_subcommand(cli.options, 4, a2);
  EXPECT_EQ(*s.command, "replay");
  EXPECT_EQ(s.extra, std::vector<std::string>{"extra"});
  const char* a3[] = {"dlq-tool", "--json"};
  EXPECT_FALSE(split_subcommand(cli.options, 2, a3).command);
}

}  // namespace
}  // namespace orderflow::dlq
