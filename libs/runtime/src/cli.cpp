#include "orderflow/runtime/cli.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>

#include "orderflow/runtime/http_server.h"
#include "orderflow/version.h"

namespace orderflow::runtime {

int usage_error(const std::string& program, const std::string& message) {
  std::cerr << program << ": " << message << " (see --help)\n";
  return 2;
}

ParseResult parse_command_line(CommandLine& cli, int argc, const char* const* argv) {
  ParseResult result;
  cli.options.add_options()("help,h", "show this help and exit")("version", "show the version and exit")(
      "config", po::value<std::string>()->value_name("FILE"),
      "read options from FILE (key = value lines, option names without --); env ORDERFLOW_CONFIG");
  try {
    // 1. flags
    const auto parsed = po::command_line_parser(argc, argv).options(cli.options).run();
    for (const auto& option : parsed.options) {
      // Without positional options Boost keeps stray arguments unregistered and store() drops them.
      if (option.position_key >= 0 && !option.value.empty()) {
        result.exit_code = usage_error(cli.program, "unexpected argument '" + option.value.front() + "'");
        return result;
      }
    }
    po::store(parsed, result.vm);
    if (result.vm.count("help") != 0) {
      std::cout << "Usage: " << cli.usage << "\n\n" << cli.description << "\n\n" << cli.options << "\n";
      if (!cli.env.empty()) {
        std::cout << "Environment variables (a flag wins over its variable, a variable over --config):\n";
        for (const auto& [opt, var] : cli.env) std::cout << "  " << var << "  → --" << opt << "\n";
      }
      if (!cli.example.empty()) {
        if (!cli.env.empty()) std::cout << "\n";
        std::cout << "Example (a Kafka broker on localhost:9092):\n  " << cli.example << "\n";
      }
      result.exit_code = 0;
      return result;
    }
    if (result.vm.count("version") != 0) {
      std::cout << cli.program << " " << ORDERFLOW_VERSION << "\n";
      result.exit_code = 0;
      return result;
    }
    const std::size_t flag_properties =
        result.vm.count("kafka-property") != 0
            ? result.vm["kafka-property"].as<std::vector<std::string>>().size()
            : 0;
    // 2. environment
    po::store(po::parse_environment(cli.options,
                                    [&](const std::string& var) -> std::string {
                                      for (const auto& [opt, v] : cli.env) {
                                        // KAFKA_PROPERTIES holds several entries; it is split below.
                                        if (v == var && opt != "kafka-property") return opt;
                                      }
                                      return {};
                                    }),
              result.vm);
    // 3. config file
    std::string config;
    if (result.vm.count("config") != 0) {
      config = result.vm["config"].as<std::string>();
    } else if (const char* c = std::getenv("ORDERFLOW_CONFIG"); c != nullptr && *c != '\0') {
      config = c;
    }
    if (!config.empty()) {
      try {
        po::store(po::parse_config_file<char>(config.c_str(), cli.options, false), result.vm);
      } catch (const po::reading_file&) {
        result.exit_code = usage_error(cli.program, "--config: cannot read " + config);
        return result;
      }
    }
    // -X composes across sources (flags first); later entries win in kafka_properties(), so move the
    // flag entries behind the config-file ones to keep "flag > config file" for -X too.
    // KAFKA_PROPERTIES ("k=v;k=v", or one per line) is the environment form of -X: it sits between the
    // config file and the flags. Values may contain commas (broker lists, SASL configs), hence ';'.
    std::vector<std::string> env_properties;
    if (const char* env = std::getenv("KAFKA_PROPERTIES");
        env != nullptr && cli.options.find_nothrow("kafka-property", false) != nullptr) {
      std::string item;
      for (const char* c = env;; ++c) {
        if (*c == ';' || *c == '\n' || *c == '\0') {
          const auto b = item.find_first_not_of(" \t\r");
          if (b != std::string::npos)
            env_properties.push_back(item.substr(b, item.find_last_not_of(" \t\r") - b + 1));
          item.clear();
          if (*c == '\0') break;
        } else {
          item.push_back(*c);
        }
      }
    }
    if (flag_properties > 0 || !env_properties.empty()) {
      auto& map = static_cast<std::map<std::string, po::variable_value>&>(result.vm);
      if (map.count("kafka-property") == 0)
        map["kafka-property"] = po::variable_value(std::vector<std::string>{}, false);
      auto& all = boost::any_cast<std::vector<std::string>&>(map["kafka-property"].value());
      std::vector<std::string> ordered(all.begin() + static_cast<std::ptrdiff_t>(flag_properties), all.end());
      ordered.insert(ordered.end(), env_properties.begin(), env_properties.end());
      ordered.insert(ordered.end(), all.begin(), all.begin() + static_cast<std::ptrdiff_t>(flag_properties));
      all = std::move(ordered);
    }
    po::notify(result.vm);
  } catch (const po::error& e) {
    result.exit_code = usage_error(cli.program, e.what());
  }
  return result;
}

void add_common_options(CommandLine& cli, const CommonDefaults& d) {
  const CommonOptions defaults;
  cli.options.add_options()(
      "brokers", po::value<std::string>()->default_value(defaults.brokers)->value_name("HOST:PORT,…"),
      "Kafka bootstrap servers")(
      "metrics-address", po::value<std::string>()->default_value(d.metrics_address)->value_name("HOST:PORT"),
      "serve /metrics, /healthz, /readyz here; port 0 disables")(
      "kafka-property,X", po::value<std::vector<std::string>>()->composing()->value_name("KEY=VALUE"),
      "librdkafka property, repeatable (security.protocol, sasl.*, ssl.*, compression.type, …)")(
      "log-level", po::value<std::string>()->default_value(defaults.log_level)->value_name("LEVEL"),
      "trace|debug|info|warn|error")(
      "log-format", po::value<std::string>()->default_value(defaults.log_format)->value_name("FORMAT"),
      "text|json")(
      "check-config", po::bool_switch(),
      "validate the configuration (flags, environment, --config, -X) as a start would, without contacting "
      "Kafka; print it as key = value lines, secrets masked, and exit 0 (2 on a configuration error)");
  cli.env["brokers"] = "KAFKA_BROKERS";
  cli.env["metrics-address"] = "METRICS_ADDRESS";
  cli.env["log-level"] = "LOG_LEVEL";
  cli.env["log-format"] = "LOG_FORMAT";
  cli.env["kafka-property"] = "KAFKA_PROPERTIES";  // "k=v;k=v", parsed below
  if (d.consumer) {
    cli.options.add_options()("group-id",
                              po::value<std::string>()->default_value(d.group_id)->value_name("GROUP"),
                              "consumer group id; also names the .retry and .dlq topics")(
        "guarantee", po::value<std::string>()->default_value("at-least-once")->value_name("MODE"),
        "at-least-once|exactly-once");
    cli.env["group-id"] = "KAFKA_GROUP_ID";
    cli.env["guarantee"] = "PROCESSING_GUARANTEE";
  }
}

CommonOptions read_common_options(const po::variables_map& vm, bool consumer) {
  CommonOptions c;
  c.brokers = vm["brokers"].as<std::string>();
  if (c.brokers.empty()) throw UsageError("--brokers: must not be empty");
  c.metrics_address = vm["metrics-address"].as<std::string>();
  try {
    (void)split_host_port(c.metrics_address);
  } catch (const std::invalid_argument& e) {
    throw UsageError(std::string("--metrics-address: ") + e.what());
  }
  if (vm.count("kafka-property") != 0)
    c.kafka_properties = vm["kafka-property"].as<std::vector<std::string>>();
  c.log_level = vm["log-level"].as<std::string>();
  c.log_format = vm["log-format"].as<std::string>();
  c.check_config = vm.count("check-config") != 0 && vm["check-config"].as<bool>();
  if (c.log_format != "text" && c.log_format != "json") {
    throw UsageError("--log-format: must be text or json, got '" + c.log_format + "'");
  }
  static const std::vector<std::string> kLevels = {"trace", "debug",    "info", "warn",
                                                   "error", "critical", "off"};
  if (std::find(kLevels.begin(), kLevels.end(), c.log_level) == kLevels.end()) {
    throw UsageError("--log-level: must be one of trace|debug|info|warn|error, got '" + c.log_level + "'");
  }
  if (consumer) {
    c.group_id = vm["group-id"].as<std::string>();
    if (c.group_id.empty()) throw UsageError("--group-id: must not be empty");
    c.guarantee = vm["guarantee"].as<std::string>();
    if (c.guarantee != "at-least-once" && c.guarantee != "exactly-once") {
      throw UsageError("--guarantee: must be at-least-once or exactly-once, got '" + c.guarantee + "'");
    }
  }
  return c;
}

messaging::KafkaProperties kafka_properties(const CommonOptions& common) {
  messaging::KafkaProperties p;
  p.set("bootstrap.servers", common.brokers);
  for (const auto& kv : common.kafka_properties) {
    try {
      p.set_assignment(kv);
    } catch (const messaging::ConfigError& e) {
      throw UsageError(e.what());
    }
  }
  return p;
}

namespace {

// The option value types the binaries declare; anything else would be a programming error.
std::vector<std::string> value_strings(const boost::any& v) {
  if (const auto* s = boost::any_cast<std::string>(&v)) return {*s};
  if (const auto* b = boost::any_cast<bool>(&v)) return {*b ? "true" : "false"};
  if (const auto* i = boost::any_cast<int>(&v)) return {std::to_string(*i)};
  if (const auto* l = boost::any_cast<long long>(&v)) return {std::to_string(*l)};
  if (const auto* u = boost::any_cast<unsigned long long>(&v)) return {std::to_string(*u)};
  if (const auto* d = boost::any_cast<double>(&v)) return {fmt::format("{}", *d)};
  if (const auto* list = boost::any_cast<std::vector<std::string>>(&v)) return *list;
  return {"<unprintable>"};
}

}  // namespace

void print_effective_config(std::ostream& out, const CommandLine& cli, const po::variables_map& vm) {
  out << "# " << cli.program << " " << ORDERFLOW_VERSION
      << ": effective configuration (flag > environment > --config FILE > default), secrets masked\n";
  if (vm.count("config") != 0) {
    out << "# read --config " << vm["config"].as<std::string>() << "\n";
  } else if (const char* c = std::getenv("ORDERFLOW_CONFIG"); c != nullptr && *c != '\0') {
    out << "# read ORDERFLOW_CONFIG=" << c << "\n";
  }
  for (const auto& option : cli.options.options()) {
    const std::string& name = option->long_name();
    if (name == "help" || name == "version" || name == "config" || name == "check-config") continue;
    if (name == "kafka-property") {
      // The merged -X entries (flags, KAFKA_PROPERTIES, --config): one line per key, the last value wins.
      if (vm.count(name) == 0) continue;
      messaging::KafkaProperties merged;
      for (const auto& kv : vm[name].as<std::vector<std::string>>()) {
        try {
          merged.set_assignment(kv);
        } catch (const messaging::ConfigError&) {
          // Rejected by kafka_properties() before any check gets here.
        }
      }
      for (const auto& [k, v] : merged.entries()) {
        out << name << " = " << k << "=" << (messaging::is_secret_property(k) ? std::string("***") : v)
            << "\n";
      }
      continue;
    }
    if (vm.count(name) == 0 || vm[name].empty()) {
      out << "# " << name << ": not set\n";
      continue;
    }
    for (const auto& value : value_strings(vm[name].value())) {
      out << name << " = " << (messaging::is_secret_property(name) ? std::string("***") : value) << "\n";
    }
  }
  out.flush();
}

int check_config(const CommandLine& cli, const po::variables_map& vm, const std::function<void()>& validate) {
  try {
    validate();
  } catch (const messaging::ConfigError& e) {
    spdlog::error("{}", e.what());
    return 2;
  }
  print_effective_config(std::cout, cli, vm);
  return 0;
}

}  // namespace orderflow::runtime
