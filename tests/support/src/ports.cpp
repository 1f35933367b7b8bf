#include "orderflow/testing/ports.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <stdexcept>
#include <string>

namespace orderflow::testing {

namespace {

constexpr int kDefaultLow = 20000;
constexpr int kEphemeralFallback = 32768;

int ephemeral_start() {
  std::ifstream in("/proc/sys/net/ipv4/ip_local_port_range");
  int lo = 0;
  int hi = 0;
  if (in >> lo >> hi && lo > 1024) return lo;
  return kEphemeralFallback;
}

bool bindable(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  // No SO_REUSEADDR: a port with connections in TIME_WAIT is refused too, as the child's bind might be.
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

// Holds an exclusive flock on the port's file until the process exits (the descriptor is never closed).
bool reserve(int port) {
  const char* tmp = std::getenv("TMPDIR");
  const std::filesystem::path dir =
      std::filesystem::path(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") / "orderflow-test-ports";
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  ::chmod(dir.c_str(), 01777);
  const auto file = dir / std::to_string(port);
  const int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
  if (fd < 0) return true;  // cannot lock: fall back to the bind check alone
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    return false;
  }
  return true;
}

}  // namespace

std::pair<int, int> test_port_range() {
  int lo = kDefaultLow;
  int hi = ephemeral_start();
  if (const char* env = std::getenv("ORDERFLOW_TEST_PORTS"); env != nullptr && *env != '\0') {
    const std::string s(env);
    const auto dash = s.find('-');
    const int a = std::atoi(s.substr(0, dash).c_str());
    const int b = dash == std::string::npos ? 0 : std::atoi(s.substr(dash + 1).c_str());
    if (a < 1024 || b <= a + 1 || b > 65536) {
      throw std::runtime_error("ORDERFLOW_TEST_PORTS must be LO-HI with 1024 <= LO < HI <= 65536, got '" + s +
                               "'");
    }
    lo = a;
    hi = b;
  }
  if (hi <= lo + 1) hi = lo + 1000;  // an ephemeral range that starts very low: use the 1000 ports above LO
  return {lo, hi};
}

int free_port() {
  static std::mutex mutex;
  const std::lock_guard lock(mutex);
  static std::mt19937 rng{std::random_device{}()};
  const auto [lo, hi] = test_port_range();
  std::uniform_int_distribution<int> pick(lo, hi - 1);
  for (int i = 0; i < 500; ++i) {
    const int port = pick(rng);
    if (bindable(port) && reserve(port) && bindable(port)) return port;
  }
  throw std::runtime_error("free_port: no free port in " + std::to_string(lo) + "-" + std::to_string(hi) +
                           " after 500 tries");
}

}  // namespace orderflow::testing
