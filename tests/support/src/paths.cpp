#include "orderflow/testing/paths.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <random>
#include <stdexcept>
#include <vector>

namespace orderflow::testing {

namespace {

std::string from_env_dir(const char* var, std::string_view rel) {
  const char* dir = std::getenv(var);
  if (dir == nullptr || *dir == '\0') {
    throw std::runtime_error(
        fmt::format("{} is not set (tests registered with orderflow_test() get it from CTest; run them with "
                    "ctest or set it by hand)",
                    var));
  }
  return fmt::format("{}/{}", dir, rel);
}

}  // namespace

std::string bin_path(std::string_view name) {
  return from_env_dir("ORDERFLOW_BIN_DIR", name);
}

std::string source_path(std::string_view rel) {
  return from_env_dir("ORDERFLOW_SOURCE_DIR", rel);
}

std::string make_temp_dir(std::string_view prefix) {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern = fmt::format("{}/{}-XXXXXX", (tmp != nullptr && *tmp != '\0') ? tmp : "/tmp", prefix);
  std::vector<char> buf(pattern.begin(), pattern.end());
  buf.push_back('\0');
  if (mkdtemp(buf.data()) == nullptr) {
    throw std::runtime_error(fmt::format("mkdtemp {}: {}", pattern, std::strerror(errno)));
  }
  return std::string(buf.data());
}

std::string random_hex(std::size_t length) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(length, '0');
  std::uniform_int_distribution<int> digit(0, 15);
  for (auto& c : out) {
    c = kDigits[digit(rng)];
  }
  return out;
}

}  // namespace orderflow::testing
