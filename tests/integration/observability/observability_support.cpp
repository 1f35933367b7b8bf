#include "observability_support.h"

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "orderflow/testing/paths.h"
#include "orderflow/testing/wait.h"
#include "pipeline_fixture.h"

namespace orderflow::testing {

std::optional<std::string> find_program(const std::string& name) {
  std::string path = std::getenv("PATH") != nullptr ? std::getenv("PATH") : "";
  path += ":/usr/bin:/usr/local/bin";
  std::istringstream dirs(path);
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    if (dir.empty()) continue;
    const auto candidate = dir + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return std::nullopt;
}

std::pair<int, std::string> promtool_check_metrics(const std::string& promtool, const std::string& text) {
  const auto dir = make_temp_dir("obs-promtool");
  const auto file = dir + "/scrape.txt";
  {
    std::ofstream out(file);
    out << text;
  }
  const auto cmd = promtool + " check metrics < " + file + " 2>&1";
  std::string output;
  FILE* pipe = ::popen(cmd.c_str(), "r");
  if (pipe == nullptr) throw std::runtime_error("cannot run " + cmd);
  char buf[4096];
  std::size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) output.append(buf, n);
  const int status = ::pclose(pipe);
  std::filesystem::remove_all(dir);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : 128, output};
}

std::map<std::string, long long> parse_summary(const std::string& output) {
  std::map<std::string, long long> out;
  std::smatch m;
  static const std::regex line(R"(sent=(\d+) delivered=(\d+) failed=(\d+) elapsed_s=)");
  if (std::regex_search(output, m, line)) {
    out["sent"] = std::stoll(m[1]);
    out["delivered"] = std::stoll(m[2]);
    out["failed"] = std::stoll(m[3]);
  }
  return out;
}

std::string url_encode(const std::string& s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) != 0 || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4U]);
      out.push_back(kHex[c & 0xFU]);
    }
  }
  return out;
}

PrometheusServer::PrometheusServer(const std::string& binary, const std::vector<int>& target_ports)
    : dir_(make_temp_dir("obs-prometheus")), port_(free_port()) {
  {
    std::ofstream cfg(dir_ + "/prometheus.yml");
    cfg << "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n"
        << "scrape_configs:\n  - job_name: orderflow\n    static_configs:\n      - targets: [";
    for (std::size_t i = 0; i < target_ports.size(); ++i) {
      cfg << (i > 0 ? ", " : "") << "'127.0.0.1:" << target_ports[i] << "'";
    }
    cfg << "]\n";
  }
  process_.emplace(Process::start(
      binary, {"--config.file=" + dir_ + "/prometheus.yml", "--storage.tsdb.path=" + dir_ + "/data",
               "--web.listen-address=127.0.0.1:" + std::to_string(port_)}));
  const bool ready = wait_until([&] { return http_get(port_, "/-/ready").first == 200; },
                                std::chrono::seconds(60), std::chrono::milliseconds(100));
  if (!ready) {
    const auto log = process_->output();
    process_->stop(std::chrono::seconds(5));
    std::filesystem::remove_all(dir_);
    throw std::runtime_error("prometheus did not become ready:\n" + log);
  }
}

PrometheusServer::~PrometheusServer() {
  if (process_) process_->stop(std::chrono::seconds(10));
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::optional<double> PrometheusServer::query(const std::string& promql) {
  const auto [status, body] = http_get(port_, "/api/v1/query?query=" + url_encode(promql));
  if (status != 200) return std::nullopt;
  const auto j = nlohmann::json::parse(body, nullptr, false);
  if (!j.is_object() || j.value("status", "") != "success") return std::nullopt;
  const auto& data = j["data"];
  const auto type = data.value("resultType", "");
  const nlohmann::json* value = nullptr;
  if (type == "vector" && !data["result"].empty()) value = &data["result"][0]["value"];
  if (type == "scalar") value = &data["result"];
  if (value == nullptr || !value->is_array() || value->size() != 2 || !(*value)[1].is_string())
    return std::nullopt;
  return std::stod((*value)[1].get<std::string>());
}

}  // namespace orderflow::testing
