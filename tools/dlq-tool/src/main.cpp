// dlq-tool: inspect, count and replay dead-letter topics (docs/contract.md §7 Retries and dead letters).
#include <iostream>
#include <string>
#include <vector>

#include "orderflow/dlq/commands.h"
#include "orderflow/dlq/tool_options.h"
#include "orderflow/runtime/cli.h"
#include "orderflow/runtime/logging.h"

using namespace orderflow;

int main(int argc, char** argv) {
  runtime::CommandLine cli;
  cli.program = "dlq-tool";
  cli.usage =
      "dlq-tool list|count|replay --topic TOPIC [--to TOPIC] [--filter-error-class CLASS] [--limit N]\n"
      "                [--json] [--dry-run] [--replay-group GROUP] [--no-transactions] [--timeout-s S]\n"
      "                [--brokers HOST:PORT,…] [-X KEY=VALUE]...";
  cli.description =
      "Inspect, count and replay a dead-letter topic (e.g. payment-service.dlq). Reads are bounded: every\n"
      "partition is read up to the end offsets seen at start, without joining a consumer group.\n"
      "\n"
      "  list    print each record: partition, offset, key, headers and the first 200 bytes of the value\n"
      "          (non-printable bytes as \\xNN); --json: one object per line (with the whole value in\n"
      "          value_base64).\n"
      "  count   records by x-error-class and by x-failed-service, and the total.\n"
      "  replay  send each record's original key and value, with its non-failure headers (traceparent,\n"
      "          x-correlation-id, …), to its x-original-topic or --to TOPIC with an idempotent producer,\n"
      "          and commit the progress in group dlq-tool.<topic>: a second replay sends nothing new.\n"
      "          Each round of 1000 records is one Kafka transaction with its progress, so a replay killed\n"
      "          and run again sends nothing twice to read_committed readers (--no-transactions: commit\n"
      "          after the acknowledgements, for brokers without transactions; a killed replay can then\n"
      "          repeat up to a round). With --filter-error-class, the records of other classes\n"
      "          are committed as consumed too (they will not be replayed later); check with --dry-run\n"
      "          first, which prints what would be replayed and commits nothing. Prints\n"
      "          `replayed=N skipped=M topic=T`.\n"
      "\n"
      "Exit codes: 0 done; 1 brokers unreachable, topic missing, a record or round not replayed, or\n"
      "fenced by a newer replay of the same group; 2 usage; 130 replay interrupted.";
  cli.example = "dlq-tool count --topic payment-service.dlq";
  dlq::add_tool_options(cli);

  auto split = dlq::split_subcommand(cli.options, argc, argv);
  std::vector<const char*> args;
  args.reserve(split.args.size());
  for (const auto& a : split.args) args.push_back(a.c_str());
  auto parsed = runtime::parse_command_line(cli, static_cast<int>(args.size()), args.data());
  if (parsed.exit_code) return *parsed.exit_code;

  dlq::ToolOptions options;
  try {
    if (!split.extra.empty()) throw runtime::UsageError("unexpected argument '" + split.extra.front() + "'");
    if (!split.command) throw runtime::UsageError("missing subcommand: list, count or replay");
    const auto command = dlq::parse_command(*split.command);
    if (!command) {
      throw runtime::UsageError("unknown subcommand '" + *split.command +
                                "' (expected list, count or replay)");
    }
    options = dlq::read_tool_options(*command, parsed.vm);
  } catch (const runtime::UsageError& e) {
    return runtime::usage_error(cli.program, e.what());
  }
  runtime::setup_logging(cli.program, options.common.log_level, options.common.log_format);
  return dlq::run_command(options, std::cout);
}
