// KafkaProxy against a fake upstream that answers every Kafka-framed request with a response carrying
// its correlation id and payload: frames survive any split or coalescing of the byte stream, responses
// are dropped by api key and client.id only (the request still reaches upstream), counters move, and
// connections close with either end and with the proxy.
#include "orderflow/testing/kafka_proxy.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace orderflow::testing {
namespace {

using namespace std::chrono_literals;

void put_i16(std::string& out, std::int16_t v) {
  const auto u = static_cast<std::uint16_t>(v);
  out.push_back(static_cast<char>(u >> 8));
  out.push_back(static_cast<char>(u & 0xff));
}

void put_i32(std::string& out, std::int32_t v) {
  const auto u = static_cast<std::uint32_t>(v);
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((u >> shift) & 0xff));
}

std::int32_t get_i32(const std::string& s, std::size_t at) {
  std::uint32_t u = 0;
  for (std::size_t i = 0; i < 4; ++i) u = (u << 8) | static_cast<unsigned char>(s[at + i]);
  return static_cast<std::int32_t>(u);
}

// A request frame: size, api_key, api_version, correlation_id, client.id, then `payload` as the body.
std::string request(std::int16_t api_key, std::int32_t correlation_id, const std::string& client_id,
                    const std::string& payload) {
  std::string body;
  put_i16(body, api_key);
  put_i16(body, 9);
  put_i32(body, correlation_id);
  put_i16(body, static_cast<std::int16_t>(client_id.size()));
  body += client_id;
  body += payload;
  std::string frame;
  put_i32(frame, static_cast<std::int32_t>(body.size()));
  return frame + body;
}

bool send_all(int fd, const std::string& bytes) {
  for (std::size_t at = 0; at < bytes.size();) {
    const ssize_t n = ::send(fd, bytes.data() + at, bytes.size() - at, MSG_NOSIGNAL);
    if (n <= 0) return false;
    at += static_cast<std::size_t>(n);
  }
  return true;
}

// Reads exactly n bytes (the socket has a receive timeout); nullopt on EOF, error or timeout.
std::optional<std::string> recv_exact(int fd, std::size_t n) {
  std::string out(n, '\0');
  for (std::size_t at = 0; at < n;) {
    const ssize_t r = ::recv(fd, out.data() + at, n - at, 0);
    if (r <= 0) return std::nullopt;
    at += static_cast<std::size_t>(r);
  }
  return out;
}

// One frame's body (without the size prefix).
std::optional<std::string> recv_frame(int fd) {
  const auto size = recv_exact(fd, 4);
  if (!size) return std::nullopt;
  return recv_exact(fd, static_cast<std::size_t>(get_i32(*size, 0)));
}

void set_recv_timeout(int fd, std::chrono::milliseconds t) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(t.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((t.count() % 1000) * 1000);
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

int connect_to(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  set_recv_timeout(fd, 5s);
  return fd;
}

// A Kafka "broker" that answers every request with correlation_id + the request's body after its
// header (api_key, version, correlation id, client.id), and remembers the correlation ids it saw.
class FakeUpstream {
 public:
  FakeUpstream() {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 || ::listen(listen_fd_, 16) != 0 ||
        ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      throw std::runtime_error("FakeUpstream: cannot listen");
    }
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
  }
  ~FakeUpstream() {
    ::shutdown(listen_fd_, SHUT_RDWR);
    acceptor_.join();
    {
      std::lock_guard lock(mu_);
      for (const int fd : fds_) ::shutdown(fd, SHUT_RDWR);
    }
    for (auto& t : workers_) t.join();
    for (const int fd : fds_) ::close(fd);
    ::close(listen_fd_);
  }
  FakeUpstream(const FakeUpstream&) = delete;
  FakeUpstream& operator=(const FakeUpstream&) = delete;

  int port() const { return port_; }
  std::vector<std::int32_t> seen() const {
    std::lock_guard lock(mu_);
    return seen_;
  }

 private:
  void accept_loop() {
    for (;;) {
      const int fd = ::accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) return;
      std::lock_guard lock(mu_);
      fds_.push_back(fd);
      workers_.emplace_back([this, fd] { serve(fd); });
    }
  }
  void serve(int fd) {
    while (auto body = recv_frame(fd)) {
      const auto correlation_id = get_i32(*body, 4);
      const auto client_len = static_cast<std::size_t>((static_cast<unsigned char>((*body)[8]) << 8) |
                                                       static_cast<unsigned char>((*body)[9]));
      {
        std::lock_guard lock(mu_);
        seen_.push_back(correlation_id);
      }
      std::string response_body;
      put_i32(response_body, correlation_id);
      response_body += body->substr(10 + client_len);
      std::string frame;
      put_i32(frame, static_cast<std::int32_t>(response_body.size()));
      if (!send_all(fd, frame + response_body)) return;
    }
  }

  int listen_fd_ = -1;
  int port_ = 0;
  std::thread acceptor_;
  mutable std::mutex mu_;
  std::vector<int> fds_;
  std::vector<std::thread> workers_;
  std::vector<std::int32_t> seen_;
};

// A client socket closed at scope exit.
struct Client {
  Client() = default;
  explicit Client(int port) : fd(connect_to(port)) {}
  ~Client() {
    if (fd >= 0) ::close(fd);
  }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;
  int fd = -1;
};

TEST(KafkaProxy, RelaysFramesHoweverTheStreamIsCut) {
  FakeUpstream upstream;
  KafkaProxy proxy(upstream.port());
  ASSERT_GT(proxy.port(), 0);
  Client c(proxy.port());
  ASSERT_GE(c.fd, 0);

  // Two frames in one write, then a 300 KiB frame (several reads on the proxy) sent in odd pieces,
  // then a frame byte by byte.
  const std::string big(std::size_t{300} * 1024, 'x');
  ASSERT_TRUE(send_all(c.fd, request(3, 1, "a", "one") + request(1, 2, "a", "two")));
  const auto third = request(0, 3, "a", big);
  for (std::size_t at = 0; at < third.size(); at += 7777) ASSERT_TRUE(send_all(c.fd, third.substr(at, 7777)));
  for (const char ch : request(18, 4, "a", "four")) ASSERT_TRUE(send_all(c.fd, std::string(1, ch)));

  const std::vector<std::pair<std::int32_t, std::string>> expected{
      {1, "one"}, {2, "two"}, {3, big}, {4, "four"}};
  for (const auto& [id, payload] : expected) {
    const auto body = recv_frame(c.fd);
    ASSERT_TRUE(body) << "no response to correlation id " << id;
    EXPECT_EQ(get_i32(*body, 0), id);
    EXPECT_TRUE(body->substr(4) == payload) << "payload of correlation id " << id << " changed";
  }
  EXPECT_EQ(proxy.connections_accepted(), 1);
  EXPECT_EQ(proxy.responses_forwarded(), 4);
  EXPECT_EQ(proxy.responses_dropped(), 0);
}

TEST(KafkaProxy, DropsTheNextResponsesOfOneApiAndClientOnly) {
  FakeUpstream upstream;
  KafkaProxy proxy(upstream.port());
  proxy.drop_responses(KafkaProxy::kProduce, 2, "payment-");
  EXPECT_EQ(proxy.pending_drops(), 2);
  Client c(proxy.port());
  ASSERT_GE(c.fd, 0);

  ASSERT_TRUE(send_all(c.fd, request(KafkaProxy::kFetch, 1, "payment-service", "fetch") +     // other API
                                 request(KafkaProxy::kProduce, 2, "order-producer", "p") +    // other client
                                 request(KafkaProxy::kProduce, 3, "payment-service", "p") +   // dropped
                                 request(KafkaProxy::kProduce, 4, "payment-service", "p") +   // dropped
                                 request(KafkaProxy::kProduce, 5, "payment-service", "p")));  // drops used up
  std::vector<std::int32_t> answered;
  while (answered.size() < 3) {
    const auto body = recv_frame(c.fd);
    ASSERT_TRUE(body) << "answered so far: " << answered.size();
    answered.push_back(get_i32(*body, 0));
  }
  EXPECT_EQ(answered, (std::vector<std::int32_t>{1, 2, 5}));
  EXPECT_EQ(upstream.seen(), (std::vector<std::int32_t>{1, 2, 3, 4, 5})) << "every request reaches upstream";
  EXPECT_EQ(proxy.responses_dropped(), 2);
  EXPECT_EQ(proxy.responses_forwarded(), 3);
  EXPECT_EQ(proxy.pending_drops(), 0);

  // A new rule, any client, on a second connection.
  proxy.drop_responses(KafkaProxy::kMetadata, 1);
  Client d(proxy.port());
  ASSERT_TRUE(send_all(
      d.fd, request(KafkaProxy::kMetadata, 7, "", "m") + request(KafkaProxy::kMetadata, 8, "", "m")));
  const auto body = recv_frame(d.fd);
  ASSERT_TRUE(body);
  EXPECT_EQ(get_i32(*body, 0), 8);
  EXPECT_EQ(proxy.connections_accepted(), 2);
  EXPECT_EQ(proxy.responses_dropped(), 3);
}

TEST(KafkaProxy, ClosesTheClientWhenUpstreamIsGoneOrTheFrameIsNotKafka) {
  int dead_port = 0;
  {
    FakeUpstream gone;
    dead_port = gone.port();
  }
  {
    KafkaProxy proxy(dead_port);
    Client c(proxy.port());
    ASSERT_GE(c.fd, 0);
    EXPECT_FALSE(recv_frame(c.fd)) << "the client of an unreachable upstream must see EOF";
  }
  FakeUpstream upstream;
  KafkaProxy proxy(upstream.port());
  Client c(proxy.port());
  std::string garbage;
  put_i32(garbage, -5);
  ASSERT_TRUE(send_all(c.fd, garbage + "junk"));
  EXPECT_FALSE(recv_frame(c.fd)) << "a negative frame size must close the connection";
}

TEST(KafkaProxy, DestructorClosesOpenConnections) {
  FakeUpstream upstream;
  Client c;
  {
    KafkaProxy proxy(upstream.port());
    c.fd = connect_to(proxy.port());
    ASSERT_GE(c.fd, 0);
    ASSERT_TRUE(send_all(c.fd, request(3, 1, "a", "x")));
    ASSERT_TRUE(recv_frame(c.fd));
  }
  EXPECT_FALSE(recv_frame(c.fd)) << "the connection must be closed with the proxy";
}

TEST(KafkaProxy, ThrowsWhenThePortIsTaken) {
  FakeUpstream upstream;
  KafkaProxy first(upstream.port());
  EXPECT_THROW(KafkaProxy(upstream.port(), first.port()), std::runtime_error);
}

}  // namespace
}  // namespace orderflow::testing
