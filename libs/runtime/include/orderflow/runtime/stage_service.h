// What the two consuming services share around the StageRunner: their stage flags (retries, commits,
// transactions, bounds), turning them into StageOptions, running the stage with signals, the
// metrics/health endpoint and clean exit codes, and main() itself (stage_service_main: a service gives its
// name, help text, own flags and handler). Call from main(); not re-entrant.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "orderflow/messaging/stage.h"
#include "orderflow/runtime/cli.h"
#include "orderflow/runtime/metrics.h"

namespace orderflow::runtime {

// --commit-interval-ms, --retry-backoff-ms, --max-attempts, --retry-ordering, --max-record-bytes,
// --drain-timeout-ms, --startup-timeout-s, --instance-id, --txn-max-records, --txn-max-ms,
// --retry-ordering-max-keys, --create-topics.
void add_stage_options(CommandLine& cli);

// Throws UsageError naming the flag on an invalid value.
messaging::StageOptions read_stage_options(const po::variables_map& vm, const CommonOptions& common,
                                           const std::string& service, std::vector<std::string> input_topics);

// --check-config of a consuming service: check_config() with the stage's producer and consumer checks
// (messaging::StageRunner::check_config, the clients configured as run_stage_service() configures them).
// 0 (configuration printed) or 2 (ConfigError logged). Never contacts a broker or opens a port.
int check_stage_config(const CommandLine& cli, const po::variables_map& vm, messaging::StageOptions options);

// Starts the HTTP endpoint and runs the stage until SIGINT/SIGTERM. Before consuming it waits until
// every topic the stage reads or writes exists (with StageOptions::create_topics it creates the missing
// retry and dead-letter topics), /readyz naming the missing ones meanwhile. Returns the exit code:
// 0 clean stop, 1 runtime failure (broker unreachable, metrics port in use, fatal Kafka error).
int run_stage_service(const messaging::StageOptions& options, const CommonOptions& common,
                      messaging::RecordHandler& handler, ServiceMetrics& metrics);

// Builds a service's handler once it starts (never for --check-config), with the service's metrics registry.
using HandlerFactory = std::function<std::unique_ptr<messaging::RecordHandler>(ServiceMetrics&)>;

// What a consuming service's main() is made of besides the common and stage flags.
struct StageService {
  std::string program;          // "payment-service": the binary, the group id's and the metrics' name
  std::string description;      // for --help
  std::string example;          // for --help
  std::string metrics_address;  // --metrics-address' default
  std::map<std::string, std::string>
      env;  // the service's own flags read from the environment: flag → variable
  // Adds the service's own flags to `cli`.
  std::function<void(CommandLine& cli)> add_options;
  // Reads the service's own flags into `stage` (at least input_topics and output_topics; the stage flags are
  // already in it) and returns how to build its handler. Throws UsageError naming a flag on a bad value.
  std::function<HandlerFactory(const po::variables_map& vm, messaging::StageOptions& stage)> configure;
};

// A consuming service's main(): parses the command line (common, stage and the service's flags), sets up
// logging, then --check-config or run_stage_service with the service's handler. The exit code.
int stage_service_main(int argc, const char* const* argv, const StageService& service);

// Waits up to `timeout` for the brokers to answer a metadata request. Meanwhile the client's connection
// error (authentication, TLS, refused …) is logged once as a warning when it first appears, and passed to
// `on_problem` whenever it changes (e.g. for /readyz). False when no broker answered: "cannot reach Kafka
// at <address> within <timeout> s[: <the last connection error>]" is then logged as an error, or stored in
// `*failure` instead when given.
bool wait_for_broker(const messaging::KafkaProperties& props, std::chrono::seconds timeout,
                     const std::function<void(const std::string&)>& on_problem = {},
                     std::string* failure = nullptr);

}  // namespace orderflow::runtime
