#include "orderflow/testing/test_broker.h"

#include <fmt/format.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "orderflow/testing/paths.h"

namespace orderflow::testing {

namespace {

std::string trim(const std::string& s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) {
    return {};
  }
  const auto last = s.find_last_not_of(" \t\r\n");
  return s.substr(first, last - first + 1);
}

std::string real_bootstrap() {
  const char* file = std::getenv("ORDERFLOW_KAFKA_BOOTSTRAP_FILE");
  if (file == nullptr || *file == '\0') {
    throw std::runtime_error(
        "ORDERFLOW_TEST_BROKER=real but ORDERFLOW_KAFKA_BOOTSTRAP_FILE is not set (it names the "
        "file "
        "the real-Kafka CTest fixture writes the bootstrap address to)");
  }
  std::ifstream in(file);
  if (!in) {
    throw std::runtime_error(
        fmt::format("ORDERFLOW_TEST_BROKER=real but the bootstrap file {} does not exist: is the real Kafka "
                    "running (make kafka-up, or the kafka CTest fixture)?",
                    file));
  }
  std::ostringstream os;
  os << in.rdbuf();
  auto bootstrap = trim(os.str());
  if (bootstrap.empty()) {
    throw std::runtime_error(fmt::format("the bootstrap file {} is empty", file));
  }
  return bootstrap;
}

}  // namespace

TestBroker::TestBroker(int partitions) : suffix_(random_hex(10)) {
  const char* env = std::getenv("ORDERFLOW_TEST_BROKER");
  const std::string kind = (env == nullptr || *env == '\0') ? "mock" : env;
  if (kind == "mock") {
    dev_ = std::make_unique<DevBroker>(partitions);
    bootstrap_ = dev_->bootstrap();
  } else if (kind == "real") {
    bootstrap_ = real_bootstrap();
  } else {
    throw std::runtime_error(fmt::format("ORDERFLOW_TEST_BROKER must be 'mock' or 'real', got '{}'", kind));
  }
}

TestBroker::~TestBroker() = default;

}  // namespace orderflow::testing
