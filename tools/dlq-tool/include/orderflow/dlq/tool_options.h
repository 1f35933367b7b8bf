// dlq-tool's command line: the subcommand (list | count | replay), its flags, and their validation
// into a typed ToolOptions. Parse once in main(); not thread-safe. Invalid input throws
// runtime::UsageError naming the flag (→ exit 2).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "orderflow/messaging/kafka_config.h"
#include "orderflow/runtime/cli.h"

namespace orderflow::dlq {

enum class Command { List, Count, Replay };
std::optional<Command> parse_command(std::string_view name);

// The tool's options; their initial values are the flags' defaults (add_tool_options reads them from here).
struct ToolOptions {
  Command command = Command::List;
  std::string topic;
  std::string to;
  std::optional<std::string> error_class;
  std::int64_t limit = 0;  // 0: no limit
  bool json = false;
  bool dry_run = false;
  bool transactions = true;  // replay: one Kafka transaction per round (--no-transactions: off)
  std::string group_id;      // replay's progress; default dlq-tool.<topic>
  std::chrono::seconds timeout{10};
  // brokers, -X, log level and format; a tool run by hand logs only warnings unless asked
  runtime::CommonOptions common{.log_level = "warn"};
  messaging::KafkaProperties kafka;
};

// Adds dlq-tool's flags (and --brokers, -X, --log-level, --log-format with their variables).
void add_tool_options(runtime::CommandLine& cli);

// Takes the subcommand out of argv: the first argument that is neither a flag nor the value of the
// flag before it (so `--topic T list` and `list --topic T` both work). Flags are looked up in
// `options` to know which take a value.
struct SplitArgs {
  std::optional<std::string> command;
  std::vector<std::string> args;   // argv[0] and every flag, in order, for parse_command_line
  std::vector<std::string> extra;  // further positional arguments (an error)
};
SplitArgs split_subcommand(const runtime::po::options_description& options, int argc,
                           const char* const* argv);

// Validates the parsed flags for `command`; throws runtime::UsageError naming the flag.
ToolOptions read_tool_options(Command command, const runtime::po::variables_map& vm);

}  // namespace orderflow::dlq
