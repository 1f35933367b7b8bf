#include "orderflow/dev_broker/nodelay_probe.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <thread>

namespace orderflow::dev_broker {

namespace {

std::optional<std::uint16_t> inet_port(int fd, bool peer) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  const int rc = peer ? getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len)
                      : getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  if (rc != 0 || ss.ss_family != AF_INET) {
    return std::nullopt;
  }
  return ntohs(reinterpret_cast<const sockaddr_in*>(&ss)->sin_port);
}

// The accepted end of our probe connection: local port = the broker's, peer port = the probe's.
std::optional<bool> find_accepted(std::uint16_t broker_port, std::uint16_t probe_port, int probe_fd) {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) {
    return std::nullopt;
  }
  std::optional<bool> result;
  while (const dirent* entry = readdir(dir)) {
    const int fd = std::atoi(entry->d_name);
    if (fd <= 2 || fd == probe_fd || fd == dirfd(dir)) {
      continue;
    }
    if (inet_port(fd, false) == broker_port && inet_port(fd, true) == probe_port) {
      int nodelay = 0;
      socklen_t len = sizeof(nodelay);
      if (getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &nodelay, &len) == 0) {
        result = nodelay != 0;
        break;
      }
    }
  }
  closedir(dir);
  return result;
}

}  // namespace

std::optional<bool> mock_sockets_have_nodelay(std::uint16_t broker_port, std::chrono::milliseconds timeout) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return std::nullopt;
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(broker_port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::optional<bool> result;
  if (connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0) {
    if (const auto probe_port = inet_port(fd, false)) {
      // The mock accepts on its own thread: look until it has.
      const auto deadline = std::chrono::steady_clock::now() + timeout;
      while (!(result = find_accepted(broker_port, *probe_port, fd)) &&
             std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      }
    }
  }
  close(fd);
  return result;
}

}  // namespace orderflow::dev_broker
