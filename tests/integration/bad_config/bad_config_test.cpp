// Every binary with every kind of bad configuration (docs/contract.md §1 Binaries, §11 Exit codes): exit 2
// for usage errors (unknown or malformed flag, invalid value, unknown -X property — librdkafka's own
// message), exit 1 for runtime failures (unreachable broker, metrics port in use), 0 for --help/--version;
// the message names the flag or the address, and comes within a bound. Secrets passed with -X never appear in
// output, /metrics or --help.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "orderflow/testing/held_port.h"
#include "orderflow/testing/paths.h"
#include "orderflow/testing/process.h"
#include "orderflow/testing/wait.h"
#include "pipeline_fixture.h"

namespace orderflow::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

const std::vector<std::string> kAll = {"order-producer", "payment-service", "notification-service",
                                       "dlq-tool",       "lag-exporter",    "kafka-dev-broker"};
const std::vector<std::string> kServices = {"payment-service", "notification-service"};
constexpr const char* kUnreachable = "127.0.0.1:1";
constexpr const char* kSecret = "SuperSecret123";

struct Outcome {
  int code = -1;
  std::string output;
  double seconds = 0;
};

// dlq-tool needs a subcommand and --topic before anything else is checked.
std::vector<std::string> base_args(const std::string& bin) {
  if (bin == "dlq-tool") return {"count", "--topic", "x.dlq"};
  return {};
}

Outcome run(const std::string& bin, std::vector<std::string> args,
            const std::map<std::string, std::string>& env = {}, std::chrono::seconds timeout = 60s) {
  auto all = base_args(bin);
  all.insert(all.end(), args.begin(), args.end());
  const auto start = Clock::now();
  auto p = Process::start(bin_path(bin), all, env);
  Outcome o;
  const auto rc = p.wait(timeout);
  o.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  o.output = p.output();
  o.code = rc ? *rc : -1;
  return o;
}

std::string describe(const std::string& bin, const std::vector<std::string>& args) {
  std::string s = bin;
  for (const auto& a : args) s += " " + a;
  return s;
}

std::size_t lines(const std::string& text) {
  return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

struct UsageCase {
  std::string bin;
  std::vector<std::string> args;
  std::string must_name;  // the flag (or value) the one-line message must contain
  std::map<std::string, std::string> env = {};
};

void expect_usage_error(const UsageCase& c) {
  SCOPED_TRACE(describe(c.bin, c.args));
  const auto o = run(c.bin, c.args, c.env, 30s);
  EXPECT_EQ(o.code, 2) << o.output;
  EXPECT_NE(o.output.find(c.must_name), std::string::npos)
      << "message does not name " << c.must_name << ": " << o.output;
  EXPECT_EQ(lines(o.output), 1U) << "not one line: " << o.output;
  EXPECT_EQ(o.output.rfind(c.bin + ": ", 0), 0U) << "not prefixed with the program name: " << o.output;
  EXPECT_LT(o.seconds, 10.0);
}

TEST(BadConfigTest, HelpAndVersionExitZero) {
  for (const auto& bin : kAll) {
    SCOPED_TRACE(bin);
    const auto help = run(bin, {"--help"});
    EXPECT_EQ(help.code, 0) << help.output;
    EXPECT_NE(help.output.find("Usage: " + bin), std::string::npos) << help.output;
    const auto version = run(bin, {"--version"});
    EXPECT_EQ(version.code, 0) << version.output;
    EXPECT_EQ(version.output.rfind(bin + " ", 0), 0U) << version.output;
    EXPECT_EQ(lines(version.output), 1U) << version.output;
  }
}

// --help reads well: every option that takes a value names it (no Boost "arg" placeholder), the
// usage line shows as required only the options without a default, and the help ends with one example
// invocation built from options it lists.
TEST(BadConfigTest, HelpNamesValuesAndEndsWithAnExample) {
  // The flags a usage line may show outside [...]: the ones without a default that every run needs.
  const std::map<std::string, std::set<std::string>> required = {{"dlq-tool", {"--topic"}}};
  const std::regex arg_placeholder(R"(\barg\b)");
  const std::regex flag(R"(--[a-z][a-z0-9-]*)");
  const std::regex bracketed(R"(\[[^\]]*\])");
  auto flags_in = [&flag](const std::string& text) {
    std::set<std::string> found;
    for (auto it = std::sregex_iterator(text.begin(), text.end(), flag); it != std::sregex_iterator(); ++it) {
      found.insert(it->str());
    }
    return found;
  };
  for (const auto& bin : kAll) {
    SCOPED_TRACE(bin);
    const auto help = run(bin, {"--help"});
    ASSERT_EQ(help.code, 0) << help.output;
    std::vector<std::string> text;
    std::istringstream in(help.output);
    for (std::string line; std::getline(in, line);) text.push_back(line);
    while (!text.empty() && text.back().empty()) text.pop_back();
    ASSERT_GE(text.size(), 3U) << help.output;

    // Option lines ("  --name VALUE (=default)   description", "  -X [ --long ] VALUE …").
    std::set<std::string> options;
    for (const auto& line : text) {
      if (line.rfind("  -", 0) != 0) continue;
      EXPECT_FALSE(std::regex_search(line, arg_placeholder)) << "value without a name: " << line;
      std::smatch m;
      if (std::regex_search(line, m, flag)) options.insert(m.str());
    }
    EXPECT_GT(options.size(), 3U) << help.output;
    EXPECT_EQ(help.output.find("arg (="), std::string::npos) << help.output;

    // The usage line (and its continuation lines, up to the first blank line).
    ASSERT_EQ(text.front().rfind("Usage: " + bin, 0), 0U) << help.output;
    std::string usage;
    for (const auto& line : text) {
      if (line.empty()) break;
      usage += line + " ";
    }
    for (const auto& f : flags_in(usage)) EXPECT_EQ(options.count(f), 1U) << "usage names unknown " << f;
    const auto it = required.find(bin);
    EXPECT_EQ(flags_in(std::regex_replace(usage, bracketed, "")),
              it == required.end() ? std::set<std::string>{} : it->second)
        << "shown as required in: " << usage;

    // The example: the last line, under a line starting "Example", using only listed options.
    const auto& example = text.back();
    EXPECT_EQ(text[text.size() - 2].rfind("Example", 0), 0U) << help.output;
    EXPECT_EQ(example.rfind("  " + bin + " ", 0), 0U) << help.output;
    for (const auto& f : flags_in(example)) EXPECT_EQ(options.count(f), 1U) << "example uses unknown " << f;
  }
}

TEST(BadConfigTest, UnknownAndMalformedFlagsExitTwoNamingTheFlag) {
  std::vector<UsageCase> cases;
  for (const auto& bin : kAll) {
    cases.push_back({bin, {"--no-such-flag"}, "--no-such-flag"});
    cases.push_back({bin, {"--no-such-flag=1"}, "--no-such-flag"});
    cases.push_back({bin, {"--brokers"}, "--brokers"});  // value missing
  }
  cases.push_back({"order-producer", {"--count", "abc"}, "--count"});
  cases.push_back({"order-producer", {"--rate", "fast"}, "--rate"});
  cases.push_back({"order-producer", {"--customers", "1e3"}, "--customers"});
  cases.push_back({"order-producer", {"--count", "99999999999999999999"}, "--count"});
  cases.push_back({"payment-service", {"--max-attempts", "abc"}, "--max-attempts"});
  cases.push_back({"payment-service", {"--max-record-bytes", "99999999999"}, "--max-record-bytes"});
  cases.push_back({"notification-service", {"--dedupe-window", "many"}, "--dedupe-window"});
  cases.push_back({"dlq-tool", {"--limit", "abc"}, "--limit"});
  cases.push_back({"kafka-dev-broker", {"--port", "abc"}, "--port"});
  for (const auto& bin :
       {"order-producer", "payment-service", "notification-service", "dlq-tool", "lag-exporter"}) {
    cases.push_back({bin, {"-X"}, "kafka-property"});         // value missing
    cases.push_back({bin, {"-X", "novalue"}, "-X novalue"});  // not key=value
    cases.push_back({bin, {"--log-level", "loud"}, "--log-level"});
    cases.push_back({bin, {"--log-format", "xml"}, "--log-format"});
  }
  for (const auto& c : cases) expect_usage_error(c);
}

TEST(BadConfigTest, InvalidValuesExitTwoNamingTheFlag) {
  std::vector<UsageCase> cases = {
      {"payment-service", {"--guarantee", "exactly-twice"}, "--guarantee"},
      {"notification-service", {"--guarantee", "maybe"}, "--guarantee"},
      {"payment-service", {}, "--guarantee", {{"PROCESSING_GUARANTEE", "sometimes"}}},
      {"order-producer", {"--rate", "-1"}, "--rate"},
      {"order-producer", {"--rate", "nan"}, "--rate"},
      {"order-producer", {"--count", "-5"}, "--count"},
      {"order-producer", {"--customers", "0"}, "--customers"},
      {"order-producer", {"--invalid-ratio", "-0.1"}, "--invalid-ratio"},
      {"order-producer", {"--invalid-ratio", "1.5"}, "--invalid-ratio"},
      {"order-producer", {"--timeout-s", "0"}, "--timeout-s"},
      {"order-producer", {}, "--count", {{"ORDER_COUNT", "-3"}}},
      {"payment-service", {"--gateway-failure-rate", "-0.5"}, "--gateway-failure-rate"},
      {"payment-service", {"--gateway-latency-ms", "-1"}, "--gateway-latency-ms"},
      {"payment-service", {"--max-amount-cents", "-1"}, "--max-amount-cents"},
      {"payment-service", {"--max-attempts", "-1"}, "--max-attempts"},
      {"payment-service", {"--max-attempts", "0"}, "--max-attempts"},
      {"payment-service", {"--max-record-bytes", "-1"}, "--max-record-bytes"},
      {"payment-service", {"--retry-backoff-ms", "-1"}, "--retry-backoff-ms"},
      {"payment-service", {"--commit-interval-ms", "0"}, "--commit-interval-ms"},
      {"payment-service", {"--retry-ordering", "sometimes"}, "--retry-ordering"},
      {"payment-service", {"--retry-ordering-max-keys", "-1"}, "--retry-ordering-max-keys"},
      {"payment-service", {"--startup-timeout-s", "-2"}, "--startup-timeout-s"},
      {"payment-service", {"--group-id", ""}, "--group-id"},
      {"payment-service", {"--brokers", ""}, "--brokers"},
      {"notification-service", {"--dedupe-window", "-1"}, "--dedupe-window"},
      {"notification-service", {"--sink-failure-rate", "2"}, "--sink-failure-rate"},
      {"notification-service", {"--webhook-timeout-ms", "0"}, "--webhook-timeout-ms"},
      {"notification-service", {"--channel", ""}, "--channel"},
      {"notification-service", {"--max-record-bytes", "0"}, "--max-record-bytes"},
      {"dlq-tool", {"--limit", "-1"}, "--limit"},
      {"dlq-tool", {"--timeout-s", "0"}, "--timeout-s"},
      {"dlq-tool", {"--filter-error-class", "fatal"}, "--filter-error-class"},
      {"lag-exporter", {"--interval-ms", "0"}, "--interval-ms"},
      {"lag-exporter", {"--groups", "payment-service:orders+"}, "--groups"},
      {"kafka-dev-broker", {"--partitions", "-1"}, "--partitions"},
      {"kafka-dev-broker", {"--brokers", "0"}, "--brokers"},
      {"kafka-dev-broker", {"--port", "-1"}, "--port"},
      {"kafka-dev-broker", {"--port", "70000"}, "--port"},
      {"kafka-dev-broker", {"--watermark-interval-ms", "-5"}, "--watermark-interval-ms"},
      {"kafka-dev-broker", {"--topic", "bad topic!"}, "--topic"},
  };
  for (const auto& c : cases) expect_usage_error(c);
}

TEST(BadConfigTest, UnknownKafkaPropertyExitsTwoWithLibrdkafkasMessage) {
  for (const auto& bin :
       {"order-producer", "payment-service", "notification-service", "dlq-tool", "lag-exporter"}) {
    const std::vector<std::string> args = {"--brokers",   kUnreachable, "--metrics-address",
                                           "127.0.0.1:0", "-X",         "no.such.property=1"};
    const bool dlq = std::string(bin) == "dlq-tool";
    const auto o = run(
        bin, dlq ? std::vector<std::string>{"--brokers", kUnreachable, "-X", "no.such.property=1"} : args);
    SCOPED_TRACE(bin);
    EXPECT_EQ(o.code, 2) << o.output;
    // librdkafka's own wording, naming the property.
    EXPECT_NE(o.output.find("No such configuration property: \"no.such.property\""), std::string::npos)
        << o.output;
    EXPECT_LT(o.seconds, 10.0) << "a bad property must not wait for the broker";
  }
  // An invalid value of a known property: librdkafka's message again.
  const auto o = run("payment-service",
                     {"--brokers", kUnreachable, "--metrics-address", "127.0.0.1:0", "-X", "acks=sometimes"});
  EXPECT_EQ(o.code, 2) << o.output;
  EXPECT_NE(o.output.find("acks"), std::string::npos) << o.output;
}

TEST(BadConfigTest, UnreachableBrokerExitsOneWithinBoundNamingTheAddress) {
  const std::vector<std::pair<std::string, std::vector<std::string>>> cases = {
      {"payment-service",
       {"--brokers", kUnreachable, "--startup-timeout-s", "2", "--metrics-address", "127.0.0.1:0"}},
      {"notification-service",
       {"--brokers", kUnreachable, "--startup-timeout-s", "2", "--metrics-address", "127.0.0.1:0"}},
      {"order-producer",
       {"--brokers", kUnreachable, "--timeout-s", "2", "--metrics-address", "127.0.0.1:0", "--count", "1"}},
      {"dlq-tool", {"--brokers", kUnreachable, "--timeout-s", "2"}},
  };
  for (const auto& [bin, args] : cases) {
    SCOPED_TRACE(describe(bin, args));
    const auto o = run(bin, args);
    EXPECT_EQ(o.code, 1) << o.output;
    EXPECT_NE(o.output.find(std::string("cannot reach Kafka at ") + kUnreachable), std::string::npos)
        << o.output;
    EXPECT_GE(o.seconds, 1.5) << "gave up before the timeout";
    EXPECT_LT(o.seconds, 12.0) << "a 2 s timeout must not take this long";
  }
}

TEST(BadConfigTest, PortInUseExitsOneNamingTheAddress) {
  HeldPort held;
  const std::string address = "127.0.0.1:" + std::to_string(held.port());
  for (const auto& bin : {"order-producer", "payment-service", "notification-service"}) {
    SCOPED_TRACE(bin);
    // The broker is unreachable on purpose: the port check must come first, without waiting for Kafka.
    const auto o = run(bin, {"--brokers", kUnreachable, "--metrics-address", address});
    EXPECT_EQ(o.code, 1) << o.output;
    EXPECT_NE(o.output.find("cannot serve metrics on " + address), std::string::npos) << o.output;
    EXPECT_NE(o.output.find("in use"), std::string::npos) << o.output;
    EXPECT_LT(o.seconds, 5.0);
  }
  const auto broker = run("kafka-dev-broker", {"--port", std::to_string(held.port())});
  EXPECT_EQ(broker.code, 1) << broker.output;
  EXPECT_NE(broker.output.find(address), std::string::npos) << broker.output;
}

TEST(BadConfigTest, SecretsNeverAppearInOutputMetricsOrHelp) {
  TestBroker broker{1};
  const std::vector<std::string> sasl = {"-X", std::string("sasl.password=") + kSecret,
                                         "-X", "security.protocol=sasl_plaintext",
                                         "-X", "sasl.mechanisms=PLAIN",
                                         "-X", "sasl.username=u"};
  // A service against the dev broker: SASL fails (the mock does not speak it) or not — either way.
  const int port = free_port();
  std::vector<std::string> args = {"--brokers",           broker.bootstrap(),
                                   "--metrics-address",   "127.0.0.1:" + std::to_string(port),
                                   "--startup-timeout-s", "5",
                                   "--log-level",         "debug"};
  args.insert(args.end(), sasl.begin(), sasl.end());
  auto p = Process::start(bin_path("payment-service"), args);
  ASSERT_TRUE(wait_until([&] { return http_get(port, "/healthz").first == 200; }, 10s)) << p.output();
  const auto metrics = http_get(port, "/metrics");
  EXPECT_EQ(metrics.first, 200);
  EXPECT_EQ(metrics.second.find(kSecret), std::string::npos) << "secret in /metrics";
  const auto ready = http_get(port, "/readyz");
  EXPECT_EQ(ready.second.find(kSecret), std::string::npos) << "secret in /readyz";
  const auto rc = p.wait(30s);
  if (!rc) p.stop(10s);
  EXPECT_EQ(p.output().find(kSecret), std::string::npos) << "secret in the log:\n" << p.output();
  EXPECT_NE(p.output().find("sasl.password=***"), std::string::npos) << "the masked property is logged:\n"
                                                                     << p.output();

  // The other clients, and --help with the secret on the command line.
  for (const auto& bin : {"order-producer", "notification-service", "dlq-tool"}) {
    SCOPED_TRACE(bin);
    std::vector<std::string> a = {"--brokers", broker.bootstrap()};
    if (std::string(bin) == "order-producer")
      a.insert(a.end(), {"--count", "1", "--timeout-s", "3", "--metrics-address", "127.0.0.1:0"});
    if (std::string(bin) == "notification-service")
      a.insert(a.end(), {"--startup-timeout-s", "3", "--metrics-address", "127.0.0.1:0"});
    if (std::string(bin) == "dlq-tool") a.insert(a.end(), {"--timeout-s", "3", "--log-level", "debug"});
    a.insert(a.end(), sasl.begin(), sasl.end());
    const auto o = run(bin, a);
    EXPECT_NE(o.code, 0);
    EXPECT_EQ(o.output.find(kSecret), std::string::npos) << o.output;
  }
  for (const auto& bin : kAll) {
    std::vector<std::string> a = {"--help"};
    if (bin != "kafka-dev-broker") a.insert(a.end(), sasl.begin(), sasl.end());
    const auto o = run(bin, a);
    EXPECT_EQ(o.code, 0) << bin << ": " << o.output;
    EXPECT_EQ(o.output.find(kSecret), std::string::npos) << bin << " --help: " << o.output;
  }
}

// An -X entry that is not key=value is not echoed in the usage error when it looks like a secret property:
// a typo such as `-X sasl.password:SuperSecret123` (or a missing '=') would otherwise print the secret to
// stderr — and into the logs of whatever runs the service.
TEST(BadConfigTest, MalformedSecretPropertyIsNotEchoed) {
  for (const auto& entry :
       {std::string("sasl.password") + kSecret, std::string("sasl.password:") + kSecret}) {
    const auto bad = run("payment-service", {"-X", entry});
    EXPECT_EQ(bad.code, 2) << bad.output;
    EXPECT_EQ(bad.output.find(kSecret), std::string::npos)
        << "a malformed -X echoes the secret: " << bad.output;
  }
}

// order-producer rejects "enable.idempotence=true with acks=1" at start-up, before waiting for brokers
// (docs/contract.md §8 Delivery guarantees): exit 2 at once, not "cannot reach Kafka" later.
TEST(BadConfigTest, IdempotenceWithoutAcksAllIsRejectedBeforeConnecting) {
  for (const auto& bin : {"order-producer", "payment-service", "notification-service"}) {
    const auto timeout_flag = std::string(bin) == "order-producer" ? "--timeout-s" : "--startup-timeout-s";
    const auto o = run(bin, {"--brokers", kUnreachable, "--metrics-address", "127.0.0.1:0", timeout_flag, "5",
                             "-X", "acks=1"});
    EXPECT_EQ(o.code, 2) << bin << ": " << o.output;
    EXPECT_NE(o.output.find("acks=all"), std::string::npos) << bin << ": " << o.output;
    EXPECT_LT(o.seconds, 3.0) << bin;
  }
}

// A stray positional argument is a usage error (exit 2, "unexpected argument '…'"), in every binary:
// Boost.program_options without positional options would keep it unregistered and ignore it, so a typo
// such as `--max-attempts 3 5` or `-X acks all` would run with a configuration nobody asked for.
TEST(BadConfigTest, StrayPositionalArgumentIsAUsageError) {
  for (const auto& bin : {"order-producer", "payment-service", "notification-service"}) {
    SCOPED_TRACE(bin);
    const std::string timeout_flag =
        std::string(bin) == "order-producer" ? "--timeout-s" : "--startup-timeout-s";
    const auto o = run(
        bin,
        {"--brokers", kUnreachable, timeout_flag, "2", "--metrics-address", "127.0.0.1:0", "stray-argument"},
        {}, 20s);
    EXPECT_EQ(o.code, 2) << o.output;
    EXPECT_NE(o.output.find("stray-argument"), std::string::npos) << o.output;
  }
}

// A malformed --metrics-address ("nonsense", port 99999) is a usage error found while parsing (exit 2, the
// flag named), not an HTTP server that fails to start later (docs/contract.md §1 Binaries).
TEST(BadConfigTest, MalformedMetricsAddressIsAUsageError) {
  for (const auto& bin : {"order-producer", "payment-service", "notification-service"}) {
    for (const auto& address : {"nonsense", "127.0.0.1:99999", "127.0.0.1:http"}) {
      SCOPED_TRACE(std::string(bin) + " --metrics-address " + address);
      const auto o = run(bin, {"--brokers", kUnreachable, "--metrics-address", address});
      EXPECT_EQ(o.code, 2) << o.output;
      EXPECT_NE(o.output.find("--metrics-address"), std::string::npos) << o.output;
    }
  }
}

// ---- --check-config
// ---------------------------------------------------------------------------------------------- Parses
// flags, environment, --config and -X as a start does, runs the same checks (including creating the Kafka
// clients' configuration, which reports an invalid -X), prints the effective configuration with secrets
// masked and exits 0 — or exits 2 with the start's message. It never connects to a broker.

const std::vector<std::string> kCheckedServices = {"order-producer", "payment-service",
                                                   "notification-service"};

// The message of the error line a service logs ("<ts> error [<service>] <message>"), or "" when none.
std::string logged_error(const std::string& output) {
  std::istringstream in(output);
  for (std::string line; std::getline(in, line);) {
    const auto at = line.find(" error [");
    if (at == std::string::npos) continue;
    const auto end = line.find("] ", at);
    if (end != std::string::npos) return line.substr(end + 2);
  }
  return {};
}

TEST(BadConfigTest, CheckConfigExitsZeroPrintingTheConfigurationWithSecretsMasked) {
  HeldPort broker;  // listens, never answers: a check must not even connect
  const auto conf =
      std::filesystem::temp_directory_path() / ("check-config-" + std::to_string(::getpid()) + ".conf");
  std::ofstream(conf) << "kafka-property = ssl.key.password=" << kSecret << "\nlog-format = json\n";
  for (const auto& bin : kCheckedServices) {
    for (const bool exactly_once : {false, true}) {
      if (exactly_once && bin == "order-producer") continue;
      std::vector<std::string> args = {"--check-config",
                                       "--brokers",
                                       broker.address(),
                                       "--config",
                                       conf.string(),
                                       "-X",
                                       std::string("sasl.password=") + kSecret,
                                       "-X",
                                       "sasl.mechanisms=PLAIN",
                                       "-X",
                                       "security.protocol=sasl_plaintext"};
      if (exactly_once) args.insert(args.end(), {"--guarantee", "exactly-once"});
      SCOPED_TRACE(describe(bin, args));
      const auto o = run(
          bin, args, {{"KAFKA_PROPERTIES", "sasl.username=u;client.id=check"}, {"LOG_LEVEL", "debug"}}, 20s);
      EXPECT_EQ(o.code, 0) << o.output;
      EXPECT_EQ(o.output.find(kSecret), std::string::npos) << "secret in the output:\n" << o.output;
      for (const auto& line :
           {"kafka-property = sasl.password=***\n", "kafka-property = ssl.key.password=***\n",
            "kafka-property = sasl.username=u\n", "kafka-property = client.id=check\n", "log-level = debug\n",
            "log-format = json\n"}) {
        EXPECT_NE(o.output.find(line), std::string::npos) << "missing " << line << o.output;
      }
      EXPECT_NE(o.output.find("brokers = " + broker.address() + "\n"), std::string::npos) << o.output;
      if (exactly_once) {
        EXPECT_NE(o.output.find("guarantee = exactly-once\n"), std::string::npos) << o.output;
      }
      EXPECT_LT(o.seconds, 5.0);
    }
  }
  std::filesystem::remove(conf);
  // Every run has exited: a connection it made would be waiting in the backlog now.
  EXPECT_FALSE(broker.connected()) << "--check-config connected to the broker";
}

TEST(BadConfigTest, CheckConfigExitsTwoOnABadValueFromTheEnvironment) {
  // Validated by the flag readers: the usual one-line usage error.
  const std::vector<UsageCase> usage = {
      {"payment-service", {"--check-config"}, "--retry-ordering", {{"RETRY_ORDERING", "sometimes"}}},
      {"notification-service", {"--check-config"}, "--guarantee", {{"PROCESSING_GUARANTEE", "maybe"}}},
      {"payment-service", {"--check-config"}, "--max-attempts", {{"MAX_ATTEMPTS", "0"}}},
      {"notification-service", {"--check-config"}, "--sink", {{"NOTIFICATION_SINK", "carrier-pigeon"}}},
      {"order-producer", {"--check-config"}, "--count", {{"ORDER_COUNT", "-3"}}},
      {"order-producer", {"--check-config"}, "--metrics-address", {{"METRICS_ADDRESS", "nonsense"}}},
  };
  for (const auto& c : usage) expect_usage_error(c);
  // Validated by the Kafka configuration: librdkafka's message, logged as at a start.
  for (const auto& bin : kCheckedServices) {
    SCOPED_TRACE(bin);
    const auto o = run(bin, {"--check-config"}, {{"KAFKA_PROPERTIES", "client.id=x;acks=sometimes"}}, 20s);
    EXPECT_EQ(o.code, 2) << o.output;
    EXPECT_NE(logged_error(o.output).find("acks"), std::string::npos) << o.output;
    EXPECT_EQ(o.output.find("brokers = "), std::string::npos) << "configuration printed despite the error";
  }
}

TEST(BadConfigTest, CheckConfigExitsTwoOnABadKafkaPropertyWithTheStartsMessage) {
  struct Case {
    std::vector<std::string> bins;
    std::vector<std::string> x;  // -X entries
    std::string must_name;
  };
  const std::vector<Case> cases = {
      {kCheckedServices, {"no.such.property=1"}, "No such configuration property: \"no.such.property\""},
      {kCheckedServices, {"compression.type=banana"}, "compression.type"},
      // Checked by librdkafka only when a client is created: the check creates one without brokers.
      {kCheckedServices, {"max.in.flight.requests.per.connection=10"}, "max.in.flight"},
      {{"payment-service", "notification-service"}, {"fetch.max.bytes=1000"}, "fetch.max.bytes"},
  };
  for (const auto& c : cases) {
    for (const auto& bin : c.bins) {
      std::vector<std::string> x;
      for (const auto& kv : c.x) x.insert(x.end(), {"-X", kv});
      SCOPED_TRACE(describe(bin, x));
      auto check_args = x;
      check_args.insert(check_args.begin(), "--check-config");
      const auto check = run(bin, check_args, {}, 20s);
      EXPECT_EQ(check.code, 2) << check.output;
      EXPECT_NE(check.output.find(c.must_name), std::string::npos) << check.output;
      EXPECT_LT(check.seconds, 5.0);
      // A start with the same configuration fails with the same message.
      auto start_args = x;
      start_args.insert(start_args.end(),
                        {"--brokers", kUnreachable, "--metrics-address", "127.0.0.1:0",
                         bin == "order-producer" ? "--timeout-s" : "--startup-timeout-s", "3"});
      const auto start = run(bin, start_args, {}, 20s);
      EXPECT_EQ(start.code, 2) << start.output;
      EXPECT_FALSE(logged_error(check.output).empty()) << check.output;
      EXPECT_EQ(logged_error(check.output), logged_error(start.output)) << check.output << "---\n"
                                                                        << start.output;
    }
  }
  const auto missing = run("order-producer", {"--check-config", "--from-file", "/nonexistent/orders.jsonl"});
  EXPECT_EQ(missing.code, 2) << missing.output;
  EXPECT_NE(missing.output.find("--from-file: cannot open /nonexistent/orders.jsonl"), std::string::npos)
      << missing.output;
  // A start says the same, with the same exit code, before any waiting for brokers.
  const auto start =
      run("order-producer", {"--from-file", "/nonexistent/orders.jsonl", "--brokers", kUnreachable,
                             "--metrics-address", "127.0.0.1:0", "--timeout-s", "3"});
  EXPECT_EQ(start.code, 2) << start.output;
  EXPECT_EQ(logged_error(start.output), logged_error(missing.output)) << start.output;
}

}  // namespace
}  // namespace orderflow::testing
