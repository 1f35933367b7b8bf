#include "orderflow/testing/dev_broker.h"

#include <fmt/format.h>

#include <chrono>
#include <cstdlib>
#include <stdexcept>

#include "orderflow/testing/paths.h"
#include "orderflow/testing/wait.h"

namespace orderflow::testing {

namespace {

constexpr std::string_view kReady = "ready bootstrap=";

Process start_broker(int partitions, int brokers, const std::vector<std::string>& extra_topics) {
  std::vector<std::string> args{
      "--port", "0", "--partitions", std::to_string(partitions), "--brokers", std::to_string(brokers)};
  for (const auto& t : extra_topics) {
    args.push_back("--topic");
    args.push_back(t);
  }
  return Process::start(bin_path("kafka-dev-broker"), args);
}

}  // namespace

DevBroker::DevBroker(int partitions, int brokers, std::vector<std::string> extra_topics)
    : process_(start_broker(partitions, brokers, extra_topics)) {
  // The ready line is complete once its newline is in the log; stop waiting early if the broker
  // died.
  std::string line;
  const auto ready_or_exited = [&] {
    const bool alive = process_.running();
    const auto out = process_.output();
    const auto at = out.find(kReady);
    const auto end = at == std::string::npos ? std::string::npos : out.find('\n', at);
    if (end != std::string::npos) {
      line = out.substr(at + kReady.size(), end - at - kReady.size());
      return true;
    }
    return !alive;
  };
  if (!wait_until(ready_or_exited, std::chrono::seconds(15)) || line.empty()) {
    process_.stop(std::chrono::seconds(2));
    throw std::runtime_error(fmt::format(
        "kafka-dev-broker did not print its ready line within 15 s (exit code {}); its log:\n{}",
        process_.exit_code() ? std::to_string(*process_.exit_code()) : "none", process_.output()));
  }
  const auto colon = line.rfind(':');
  port_ = colon == std::string::npos ? 0 : std::atoi(line.c_str() + colon + 1);
  if (port_ <= 0) {
    throw std::runtime_error(fmt::format("kafka-dev-broker: cannot parse the ready line '{}'", line));
  }
  bootstrap_ = line;
}

DevBroker::~DevBroker() {
  if (process_.pid() > 0) {
    process_.stop(std::chrono::seconds(10));
  }
}

}  // namespace orderflow::testing
