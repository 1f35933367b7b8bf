// Sets TCP_NODELAY on every TCP socket returned by accept()/accept4() in this process.
// librdkafka's mock cluster writes a response in several pieces and never disables Nagle, so each
// round trip otherwise waits for the client's delayed ACK (~40 ms). Linking this object into a
// program makes the program's definitions win over libc's for librdkafka.so's calls (symbol
// interposition through the executable's dynamic symbol table); the real functions are found with
// dlsym(RTLD_NEXT). ORDERFLOW_DISABLE_TCP_NODELAY=1 in the environment turns it off (to measure the
// difference). Thread-safe; errors from setsockopt are ignored (the socket still works).
#include <dlfcn.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace {

using accept_fn = int (*)(int, sockaddr*, socklen_t*);
using accept4_fn = int (*)(int, sockaddr*, socklen_t*, int);

template <typename Fn>
Fn real_function(const char* name) {
  // A function-pointer cast from dlsym's void*: conditionally supported, and guaranteed by POSIX.
  return reinterpret_cast<Fn>(dlsym(RTLD_NEXT, name));
}

bool disabled() {
  static const bool value = [] {
    const char* env = std::getenv("ORDERFLOW_DISABLE_TCP_NODELAY");
    return env != nullptr && *env != '\0' && std::strcmp(env, "0") != 0;
  }();
  return value;
}

void set_nodelay(int fd) {
  if (disabled()) {
    return;
  }
  const int saved_errno = errno;
  sockaddr_storage local{};
  socklen_t len = sizeof(local);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len) == 0 &&
      (local.ss_family == AF_INET || local.ss_family == AF_INET6)) {
    const int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
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
  if (s >= 0) {
    set_nodelay(s);
  }
  return s;
}

int accept4(int fd, sockaddr* __restrict addr, socklen_t* __restrict addr_len, int flags) {
  static const accept4_fn real = real_function<accept4_fn>("accept4");
  if (real == nullptr) {
    errno = ENOSYS;
    return -1;
  }
  const int s = real(fd, addr, addr_len, flags);
  if (s >= 0) {
    set_nodelay(s);
  }
  return s;
}

}  // extern "C"
