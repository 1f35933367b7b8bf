// Helpers of the observability tests: promtool lint of a scrape, a real Prometheus server scraping
// the services (own config and data dir, removed afterwards), and small parsers. Not thread-safe.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "orderflow/testing/process.h"

namespace orderflow::testing {

// Full path of `name` on $PATH (or /usr/bin), nullopt when it is not installed.
std::optional<std::string> find_program(const std::string& name);

// `promtool check metrics` on `text` (stdin): {exit code, everything promtool printed}.
std::pair<int, std::string> promtool_check_metrics(const std::string& promtool, const std::string& text);

// "sent=N delivered=N failed=N …" → {"sent": N, …}; empty when the line is missing.
std::map<std::string, long long> parse_summary(const std::string& output);

std::string url_encode(const std::string& s);

class PrometheusServer {
 public:
  // Scrapes 127.0.0.1:<port> for each port every second (job "orderflow"); waits until it is ready.
  // Throws std::runtime_error (with its log) when it does not come up within 60 s.
  PrometheusServer(const std::string& binary, const std::vector<int>& target_ports);
  ~PrometheusServer();
  PrometheusServer(const PrometheusServer&) = delete;
  PrometheusServer& operator=(const PrometheusServer&) = delete;

  // Instant query; the value of the first sample of a vector (or of a scalar), nullopt when empty
  // or on an error.
  std::optional<double> query(const std::string& promql);
  std::string output() const { return process_ ? process_->output() : std::string(); }

 private:
  std::string dir_;
  int port_ = 0;
  std::optional<Process> process_;
};

}  // namespace orderflow::testing
