#include "orderflow/dlq/tool_options.h"

#include <algorithm>
#include <array>

namespace orderflow::dlq {

namespace po = runtime::po;

namespace {

constexpr std::array<std::string_view, 3> kErrorClasses = {"poison", "transient", "exhausted"};
constexpr std::array<std::string_view, 7> kLogLevels = {"trace", "debug",    "info", "warn",
                                                        "error", "critical", "off"};

// Whether `--name` / `-n` consumes the next argument. Unknown flags do not (parsing then reports them).
bool takes_value(const po::options_description& options, std::string_view flag) {
  if (flag.rfind("--", 0) == 0) {
    const auto name = flag.substr(2);
    if (name == "config") return true;  // added by parse_command_line itself
    const auto* d = options.find_nothrow(std::string(name), false);
    return d != nullptr && d->semantic()->max_tokens() > 0;
  }
  if (flag.size() == 2) {  // "-X" with its value in the next argument
    for (const auto& d : options.options()) {
      if (d->canonical_display_name(po::command_line_style::allow_dash_for_short) == flag) {
        return d->semantic()->max_tokens() > 0;
      }
    }
  }
  return false;
}

}  // namespace

std::optional<Command> parse_command(std::string_view name) {
  if (name == "list") return Command::List;
  if (name == "count") return Command::Count;
  if (name == "replay") return Command::Replay;
  return std::nullopt;
}

void add_tool_options(runtime::CommandLine& cli) {
  const ToolOptions defaults;
  cli.options.add_options()("topic", po::value<std::string>()->value_name("TOPIC"),
                            "the dead-letter topic, e.g. payment-service.dlq (required)")(
      "filter-error-class", po::value<std::string>()->value_name("CLASS"),
      "only records whose x-error-class is CLASS: poison|transient|exhausted")(
      "limit", po::value<long long>()->default_value(defaults.limit)->value_name("N"),
      "list/count/replay at most N (matching) records; 0 = all")(
      "json", po::bool_switch(),
      "one JSON object per line (list, replay --dry-run) or per result (count, replay)")(
      "to", po::value<std::string>()->value_name("TOPIC"),
      "replay: write here instead of each record's x-original-topic")(
      "dry-run", po::bool_switch(), "replay: print what would be replayed; send nothing, commit nothing")(
      "no-transactions", po::bool_switch(),
      "replay: no Kafka transactions (for brokers without them): each round is produced, acknowledged, "
      "then committed, so a replay killed midway can send up to two rounds again")(
      "replay-group", po::value<std::string>()->value_name("GROUP"),
      "replay: the consumer group that keeps replay progress (default dlq-tool.<topic>)")(
      "timeout-s",
      po::value<int>()->default_value(static_cast<int>(defaults.timeout.count()))->value_name("S"),
      "exit 1 when the brokers do not answer, or no record arrives, within this")(
      "brokers", po::value<std::string>()->default_value(defaults.common.brokers)->value_name("HOST:PORT,…"),
      "Kafka bootstrap servers")("kafka-property,X",
                                 po::value<std::vector<std::string>>()->composing()->value_name("KEY=VALUE"),
                                 "librdkafka property, repeatable (security.protocol, sasl.*, ssl.*, …)")(
      "log-level", po::value<std::string>()->default_value(defaults.common.log_level)->value_name("LEVEL"),
      "trace|debug|info|warn|error")(
      "log-format", po::value<std::string>()->default_value(defaults.common.log_format)->value_name("FORMAT"),
      "text|json");
  // Not --group-id / KAFKA_GROUP_ID: in a service's container (its environment, its --config file)
  // that would make replay commit into the service's own consumer group.
  cli.env["brokers"] = "KAFKA_BROKERS";
  cli.env["log-level"] = "LOG_LEVEL";
  cli.env["log-format"] = "LOG_FORMAT";
}

SplitArgs split_subcommand(const po::options_description& options, int argc, const char* const* argv) {
  SplitArgs out;
  if (argc > 0) out.args.emplace_back(argv[0]);
  bool value_next = false;
  bool only_positional = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (value_next) {
      value_next = false;
      out.args.push_back(arg);
      continue;
    }
    if (!only_positional && arg == "--") {
      only_positional = true;
      continue;
    }
    if (!only_positional && arg.size() > 1 && arg[0] == '-') {
      out.args.push_back(arg);
      value_next = arg.find('=') == std::string::npos && takes_value(options, arg);
      continue;
    }
    if (!out.command) {
      out.command = arg;
    } else {
      out.extra.push_back(arg);
    }
  }
  return out;
}

ToolOptions read_tool_options(Command command, const po::variables_map& vm) {
  ToolOptions o;
  o.command = command;
  if (vm.count("topic") == 0 || vm["topic"].as<std::string>().empty()) {
    throw runtime::UsageError("--topic: required (the dead-letter topic, e.g. payment-service.dlq)");
  }
  o.topic = vm["topic"].as<std::string>();
  if (vm.count("filter-error-class") != 0) {
    o.error_class = vm["filter-error-class"].as<std::string>();
    if (std::find(kErrorClasses.begin(), kErrorClasses.end(), *o.error_class) == kErrorClasses.end()) {
      throw runtime::UsageError("--filter-error-class: must be poison, transient or exhausted, got '" +
                                *o.error_class + "'");
    }
  }
  o.limit = vm["limit"].as<long long>();
  if (o.limit < 0) throw runtime::UsageError("--limit: must not be negative");
  o.json = vm["json"].as<bool>();
  o.dry_run = vm["dry-run"].as<bool>();
  o.transactions = !vm["no-transactions"].as<bool>();
  if (vm.count("to") != 0) o.to = vm["to"].as<std::string>();
  if (command != Command::Replay) {
    if (vm.count("to") != 0) throw runtime::UsageError("--to: only for replay");
    if (o.dry_run) throw runtime::UsageError("--dry-run: only for replay");
    if (vm.count("replay-group") != 0) throw runtime::UsageError("--replay-group: only for replay");
    if (vm["no-transactions"].as<bool>()) throw runtime::UsageError("--no-transactions: only for replay");
  }
  if (vm.count("to") != 0 && o.to.empty()) throw runtime::UsageError("--to: must not be empty");
  if (o.to == o.topic) throw runtime::UsageError("--to: must differ from --topic");
  o.group_id = vm.count("replay-group") != 0 ? vm["replay-group"].as<std::string>() : "dlq-tool." + o.topic;
  if (o.group_id.empty()) throw runtime::UsageError("--replay-group: must not be empty");
  const int timeout = vm["timeout-s"].as<int>();
  if (timeout < 1) throw runtime::UsageError("--timeout-s: must be at least 1");
  o.timeout = std::chrono::seconds(timeout);

  o.common.brokers = vm["brokers"].as<std::string>();
  if (o.common.brokers.empty()) throw runtime::UsageError("--brokers: must not be empty");
  if (vm.count("kafka-property") != 0)
    o.common.kafka_properties = vm["kafka-property"].as<std::vector<std::string>>();
  o.common.log_level = vm["log-level"].as<std::string>();
  if (std::find(kLogLevels.begin(), kLogLevels.end(), o.common.log_level) == kLogLevels.end()) {
    throw runtime::UsageError("--log-level: must be one of trace|debug|info|warn|error, got '" +
                              o.common.log_level + "'");
  }
  o.common.log_format = vm["log-format"].as<std::string>();
  if (o.common.log_format != "text" && o.common.log_format != "json") {
    throw runtime::UsageError("--log-format: must be text or json, got '" + o.common.log_format + "'");
  }
  o.kafka = runtime::kafka_properties(o.common);  // -X entries that are not key=value → UsageError
  return o;
}

}  // namespace orderflow::dlq
