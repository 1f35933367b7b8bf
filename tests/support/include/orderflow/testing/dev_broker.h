// Runs build/bin/kafka-dev-broker on an ephemeral port for one test (or fixture) and stops it
// after. The constructor waits (at most 15 s) for the ready line and throws std::runtime_error,
// with the broker's log, if it does not come. Not thread-safe (one owner).
#pragma once

#include <string>
#include <vector>

#include "orderflow/testing/process.h"

namespace orderflow::testing {

class DevBroker {
 public:
  explicit DevBroker(int partitions = 6, int brokers = 1, std::vector<std::string> extra_topics = {});
  ~DevBroker();  // SIGTERM, then SIGKILL after 10 s
  DevBroker(DevBroker&&) noexcept = default;
  DevBroker& operator=(DevBroker&&) noexcept = default;

  const std::string& bootstrap() const { return bootstrap_; }  // "localhost:PORT"
  int port() const { return port_; }
  Process& process() { return process_; }

 private:
  Process process_;
  std::string bootstrap_;
  int port_ = 0;
};

}  // namespace orderflow::testing
