// Interposes the socket calls librdkafka's mock cluster makes in this process, to make it behave like
// a real broker where it measurably does not:
// - accept()/accept4(): TCP_NODELAY on every accepted TCP socket. The mock writes a response in
//   several pieces and never disables Nagle, so each round trip otherwise waits for the client's
//   delayed ACK (~40 ms). ORDERFLOW_DISABLE_TCP_NODELAY=1 in the environment turns it off (to measure
//   the difference).
// - recvmsg() on an accepted socket: Fetch requests' MaxWaitMs capped (fetch_wait_cap.h), since the
//   mock holds an empty Fetch for its whole MaxWaitMs even when a record arrives meanwhile.
// - close(): forgets the connection's request-stream state.
// Accepted sockets carry requests in the read direction, whoever accepted them (the mock, or the dev
// broker's bootstrap forwarder, whose rewrite the mock then sees again unchanged); sockets this process
// connected (clients, the forwarder's upstream) are never touched.
// Linking this object into a program makes its definitions win over libc's for librdkafka.so's calls
// (symbol interposition through the executable's dynamic symbol table); the real functions are found
// with dlsym(RTLD_NEXT). Thread-safe; setsockopt errors are ignored (the socket still works).
#include <dlfcn.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <unordered_map>

#include "orderflow/dev_broker/fetch_wait_cap.h"

namespace {

using accept_fn = int (*)(int, sockaddr*, socklen_t*);
using accept4_fn = int (*)(int, sockaddr*, socklen_t*, int);
using recvmsg_fn = ssize_t (*)(int, msghdr*, int);
using close_fn = int (*)(int);

template <typename Fn>
Fn real_function(const char* name) {
  // A function-pointer cast from dlsym's void*: conditionally supported, and guaranteed by POSIX.
  return reinterpret_cast<Fn>(dlsym(RTLD_NEXT, name));
}

bool nodelay_disabled() {
  static const bool value = [] {
    const char* env = std::getenv("ORDERFLOW_DISABLE_TCP_NODELAY");
    return env != nullptr && *env != '\0' && std::strcmp(env, "0") != 0;
  }();
  return value;
}

bool is_tcp(int fd) {
  sockaddr_storage local{};
  socklen_t len = sizeof(local);
  return getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len) == 0 &&
         (local.ss_family == AF_INET || local.ss_family == AF_INET6);
}

// The request streams of accepted sockets. Never destroyed: librdkafka's threads may still read or
// close sockets while the process exits.
struct Connections {
  std::mutex mutex;
  std::unordered_map<int, orderflow::dev_broker::FetchWaitCapper> by_fd;
};
Connections& connections() {
  static auto* c = new Connections();
  return *c;
}

void accepted(int fd) {
  const int saved_errno = errno;
  if (is_tcp(fd)) {
    if (!nodelay_disabled()) {
      const int one = 1;
      (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    auto& c = connections();
    const std::lock_guard lock(c.mutex);
    c.by_fd.insert_or_assign(fd, orderflow::dev_broker::FetchWaitCapper{});
  }
  errno = saved_errno;
}

}  // namespace

extern "C" {

int accept(int fd, sockaddr* __restrict addr, socklen_t* __restrict addr_len) {
  static const accept_fn real = real_function<accept_fn>("accept");
  if (real == nullptr) {
    errno = ENOSYS;
    return -1;
  }
  const int s = real(fd, addr, addr_len);
  if (s >= 0) accepted(s);
  return s;
}

int accept4(int fd, sockaddr* __restrict addr, socklen_t* __restrict addr_len, int flags) {
  static const accept4_fn real = real_function<accept4_fn>("accept4");
  if (real == nullptr) {
    errno = ENOSYS;
    return -1;
  }
  const int s = real(fd, addr, addr_len, flags);
  if (s >= 0) accepted(s);
  return s;
}

ssize_t recvmsg(int fd, msghdr* msg, int flags) {
  static const recvmsg_fn real = real_function<recvmsg_fn>("recvmsg");
  if (real == nullptr) {
    errno = ENOSYS;
    return -1;
  }
  const ssize_t n = real(fd, msg, flags);
  if (n > 0 && (flags & MSG_PEEK) == 0) {
    const int saved_errno = errno;
    auto& c = connections();
    const std::lock_guard lock(c.mutex);
    if (auto it = c.by_fd.find(fd); it != c.by_fd.end()) {
      const auto cap = static_cast<std::int32_t>(orderflow::dev_broker::fetch_wait_cap().count());
      it->second.scan(msg->msg_iov, msg->msg_iovlen, static_cast<std::size_t>(n), cap);
    }
    errno = saved_errno;
  }
  return n;
}

int close(int fd) {
  static const close_fn real = real_function<close_fn>("close");
  if (real == nullptr) {
    errno = ENOSYS;
    return -1;
  }
  {
    auto& c = connections();
    const std::lock_guard lock(c.mutex);
    c.by_fd.erase(fd);
  }
  return real(fd);
}

}  // extern "C"
