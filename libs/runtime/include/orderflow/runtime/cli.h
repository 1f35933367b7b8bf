// Command line and configuration for every orderflow binary (Boost.program_options). Precedence: flag >
// environment variable > --config FILE > default. --help and --version exit 0; an unknown or malformed flag
// exits 2 with one line naming it (docs/contract.md §1 Binaries, §2 Where settings come from). Not
// thread-safe; parse once in main().
#pragma once

#include <functional>
#include <iosfwd>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <boost/program_options.hpp>

#include "orderflow/messaging/kafka_config.h"

namespace orderflow::runtime {

namespace po = boost::program_options;

struct CommandLine {
  std::string program;      // "payment-service"
  std::string usage;        // "payment-service [options]"
  std::string description;  // one paragraph for --help
  std::string example;      // one invocation against a local broker, printed last by --help
  po::options_description options{"Options"};
  std::map<std::string, std::string> env;  // option name → environment variable
};

// Result of parsing: either run with `vm`, or exit with `exit_code` (help/version/errors printed).
struct ParseResult {
  po::variables_map vm;
  std::optional<int> exit_code;
};

ParseResult parse_command_line(CommandLine& cli, int argc, const char* const* argv);

// Adds --brokers, --metrics-address, -X, --log-level, --log-format, --check-config (and --group-id,
// --guarantee for consumers) with their environment variables.
struct CommonDefaults {
  std::string metrics_address;  // e.g. "0.0.0.0:9102"
  bool consumer = true;
  std::string group_id;  // consumers: the service's name
};
void add_common_options(CommandLine& cli, const CommonDefaults& defaults);

// The common options; their initial values are the flags' defaults (add_common_options reads them from
// here). The metrics address and the group id are each binary's own (CommonDefaults); the guarantee is only
// a consumer's. Every member has an initializer, so that a binary can start from these with only its own
// default changed (`CommonOptions{.log_level = "warn"}`).
struct CommonOptions {
  std::string brokers = "localhost:9092";
  std::string metrics_address{};
  std::string group_id{};
  std::vector<std::string> kafka_properties{};  // -X key=value
  std::string guarantee{};  // consumers only (at-least-once, the flag's default, or exactly-once)
  std::string log_level = "info";
  std::string log_format = "text";
  bool check_config = false;  // --check-config
};

// Reads the common options; throws UsageError (→ exit 2) on an invalid value.
CommonOptions read_common_options(const po::variables_map& vm, bool consumer);

// bootstrap.servers + every -X; throws UsageError naming the -X entry when it is not key=value.
messaging::KafkaProperties kafka_properties(const CommonOptions& common);

class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Prints "<program>: <message>" to stderr and returns 2 (for UsageError in main()).
int usage_error(const std::string& program, const std::string& message);

// The effective configuration as `key = value` lines (option names without --, so the output is itself
// a valid --config file), in declaration order: every option's value wherever it came from (flag,
// environment, --config, default), "# name: not set" for an option without a value, and the merged -X
// entries as `kafka-property = key=value`. Values of secret properties (is_secret_property: passwords,
// keys, tokens …) are printed as ***. --help, --version, --config and --check-config are left out.
void print_effective_config(std::ostream& out, const CommandLine& cli, const po::variables_map& vm);

// --check-config, after every check main() makes before contacting a broker: runs `validate` (the
// Kafka clients' configuration checks; it throws messaging::ConfigError), then prints the effective
// configuration to stdout and returns 0; on a ConfigError it logs the message as a start would and
// returns 2. Never connects to anything.
int check_config(const CommandLine& cli, const po::variables_map& vm, const std::function<void()>& validate);

}  // namespace orderflow::runtime
