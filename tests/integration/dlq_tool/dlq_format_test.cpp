// The broker-free parts of dlq-tool: escaping, JSON lines, header filtering, replay decisions,
// counting and splitting the subcommand out of argv.
#include <gtest/gtest.h>

#include <string>

#include <nlohmann/json.hpp>

#include "orderflow/dlq/dlq_record.h"
#include "orderflow/dlq/error_counts.h"
#include "orderflow/dlq/replay.h"
#include "orderflow/dlq/tool_options.h"

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
