#include "orderflow/testing/kafka_proxy.h"

#include <fmt/format.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstring>
#include <iostream>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <unordered_map>
#include <utility>  // before Boost.Asio: Boost 1.74 misses it under C++20
#include <vector>

#include <boost/asio.hpp>

namespace orderflow::testing {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

// Kafka refuses frames above socket.request.max.bytes (100 MiB by default): a bigger size is garbage.
constexpr std::int32_t kMaxFrameBytes = 128 * 1024 * 1024;

std::int16_t read_i16(const char* p) {
  unsigned char b[2];
  std::memcpy(b, p, 2);
  return static_cast<std::int16_t>((b[0] << 8) | b[1]);
}

std::int32_t read_i32(const char* p) {
  unsigned char b[4];
  std::memcpy(b, p, 4);
  return static_cast<std::int32_t>((std::uint32_t{b[0]} << 24) | (std::uint32_t{b[1]} << 16) |
                                   (std::uint32_t{b[2]} << 8) | std::uint32_t{b[3]});
}

struct Request {
  std::int16_t api_key = -1;
  std::string client_id;
};

// What the connections share with the proxy: the drop rule and the counters.
class Policy {
 public:
  void set(std::int16_t api_key, int n, std::string prefix) {
    std::lock_guard lock(mu_);
    api_key_ = api_key;
    remaining_ = n;
    prefix_ = std::move(prefix);
  }
  int pending() const {
    std::lock_guard lock(mu_);
    return remaining_;
  }
  // Whether the response to `r` is swallowed (and counted as dropped).
  bool drop(const Request& r) {
    std::lock_guard lock(mu_);
    if (remaining_ > 0 && r.api_key == api_key_ && r.client_id.starts_with(prefix_)) {
      --remaining_;
      ++dropped;
      return true;
    }
    return false;
  }

  std::atomic<std::int64_t> dropped{0};
  std::atomic<std::int64_t> forwarded{0};
  std::atomic<std::int64_t> accepted{0};

 private:
  mutable std::mutex mu_;
  std::int16_t api_key_ = -1;
  int remaining_ = 0;
  std::string prefix_;
};

// One relayed connection, owned by its completion handlers. Each direction reads into its own buffer,
// cuts the complete frames off its front and writes the ones to forward before reading again, so a slow
// reader still slows its sender down. Either side closing closes both: Kafka has no use for half-closed
// connections.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(tcp::socket client, Policy& policy)
      : client_(std::move(client)), upstream_(client_.get_executor()), policy_(policy) {}

  void start(const tcp::endpoint& upstream) {
    upstream_.async_connect(upstream, [self = shared_from_this()](const boost::system::error_code& ec) {
      if (ec) {
        self->close();
        return;
      }
      boost::system::error_code ignored;
      self->client_.set_option(tcp::no_delay(true), ignored);
      self->upstream_.set_option(tcp::no_delay(true), ignored);
      self->pump(self->requests_);
      self->pump(self->responses_);
    });
  }

  void close() {
    boost::system::error_code ignored;
    client_.close(ignored);
    upstream_.close(ignored);
  }

 private:
  struct Direction {
    Direction(tcp::socket& f, tcp::socket& t, bool requests) : from(f), to(t), carries_requests(requests) {}
    tcp::socket& from;
    tcp::socket& to;
    bool carries_requests;
    std::array<char, std::size_t{64} * 1024> chunk{};
    std::vector<char> in;   // bytes read, not yet a complete frame
    std::vector<char> out;  // complete frames to forward
  };

  void pump(Direction& d) {
    d.from.async_read_some(asio::buffer(d.chunk), [self = shared_from_this(), &d](
                                                      const boost::system::error_code& ec, std::size_t n) {
      if (ec) {
        self->close();
        return;
      }
      d.in.insert(d.in.end(), d.chunk.data(), d.chunk.data() + n);
      if (!self->cut_frames(d)) {
        self->close();
        return;
      }
      if (d.out.empty()) {
        self->pump(d);
        return;
      }
      asio::async_write(d.to, asio::buffer(d.out),
                        [self, &d](const boost::system::error_code& wec, std::size_t) {
                          if (wec) {
                            self->close();
                            return;
                          }
                          d.out.clear();
                          self->pump(d);
                        });
    });
  }

  // Moves the complete frames at the front of d.in to d.out, except responses the policy swallows.
  // Returns false on a frame that cannot be Kafka.
  bool cut_frames(Direction& d) {
    std::size_t at = 0;
    while (d.in.size() - at >= 4) {
      const std::int32_t size = read_i32(&d.in[at]);
      if (size < 4 || size > kMaxFrameBytes) {
        return false;
      }
      if (d.in.size() - at - 4 < static_cast<std::size_t>(size)) {
        break;
      }
      const char* body = &d.in[at + 4];
      bool forward = true;
      if (d.carries_requests) {
        if (!note_request(body, size)) {
          return false;
        }
      } else if (drop_response(body)) {
        forward = false;
      } else {
        ++policy_.forwarded;
      }
      if (forward) {
        d.out.insert(d.out.end(), body - 4, body + size);
      }
      at += 4 + static_cast<std::size_t>(size);
    }
    d.in.erase(d.in.begin(), d.in.begin() + static_cast<std::ptrdiff_t>(at));
    return true;
  }

  // Request header: int16 api_key, int16 api_version, int32 correlation_id, then (v1+) the client.id as
  // an int16-length string (-1 = null), also in the flexible v2 header.
  bool note_request(const char* body, std::int32_t size) {
    if (size < 8) {
      return false;
    }
    Request r;
    r.api_key = read_i16(body);
    const std::int32_t correlation_id = read_i32(body + 4);
    if (size >= 10) {
      const std::int16_t len = read_i16(body + 8);
      if (len > 0 && 10 + len <= size) {
        r.client_id.assign(body + 10, static_cast<std::size_t>(len));
      }
    }
    in_flight_[correlation_id] = std::move(r);
    return true;
  }

  // Response header: int32 correlation_id.
  bool drop_response(const char* body) {
    const auto it = in_flight_.find(read_i32(body));
    if (it == in_flight_.end()) {
      return false;  // not ours to judge: forward
    }
    const bool drop = policy_.drop(it->second);
    in_flight_.erase(it);
    return drop;
  }

  tcp::socket client_;
  tcp::socket upstream_;
  Policy& policy_;
  Direction requests_{client_, upstream_, true};
  Direction responses_{upstream_, client_, false};
  // By correlation id; both directions run on the io thread.
  std::unordered_map<std::int32_t, Request> in_flight_;
};

}  // namespace

struct KafkaProxy::Impl {
  Impl(int upstream_port, int listen_port)
      : acceptor(io), upstream(asio::ip::address_v4::loopback(), static_cast<std::uint16_t>(upstream_port)) {
    const tcp::endpoint endpoint(asio::ip::address_v4::loopback(), static_cast<std::uint16_t>(listen_port));
    acceptor.open(endpoint.protocol());
    acceptor.set_option(tcp::acceptor::reuse_address(true));
    acceptor.bind(endpoint);
    acceptor.listen(asio::socket_base::max_listen_connections);
  }

  void accept_next() {
    acceptor.async_accept([this](const boost::system::error_code& ec, tcp::socket socket) {
      if (!acceptor.is_open()) {
        return;
      }
      if (ec) {  // e.g. out of file descriptors: back off instead of spinning on the failing accept
        retry_timer.expires_after(std::chrono::milliseconds(100));
        retry_timer.async_wait([this](const boost::system::error_code& tec) {
          if (!tec && acceptor.is_open()) accept_next();
        });
        return;
      }
      ++policy.accepted;
      auto c = std::make_shared<Connection>(std::move(socket), policy);
      c->start(upstream);
      std::erase_if(connections, [](const auto& w) { return w.expired(); });
      connections.push_back(c);
      accept_next();
    });
  }

  void shutdown() {
    boost::system::error_code ignored;
    acceptor.close(ignored);
    retry_timer.cancel();
    for (const auto& w : connections) {
      if (auto c = w.lock()) c->close();
    }
  }

  asio::io_context io;  // first: destroyed last, after everything that runs on it
  tcp::acceptor acceptor;
  asio::steady_timer retry_timer{io};
  tcp::endpoint upstream;
  Policy policy;
  std::vector<std::weak_ptr<Connection>> connections;  // io thread only
  std::thread thread;
};

KafkaProxy::KafkaProxy(int upstream_port, int listen_port) {
  try {
    impl_ = std::make_unique<Impl>(upstream_port, listen_port);
  } catch (const boost::system::system_error& e) {
    throw std::runtime_error(
        fmt::format("KafkaProxy: cannot listen on 127.0.0.1:{}: {}", listen_port, e.what()));
  }
  port_ = impl_->acceptor.local_endpoint().port();
  impl_->accept_next();
  impl_->thread = std::thread([impl = impl_.get()] {
    try {
      impl->io.run();  // until shutdown() has closed everything
    } catch (const std::exception& e) {
      std::cerr << "KafkaProxy: io thread stopped: " << e.what() << std::endl;
    }
  });
}

KafkaProxy::~KafkaProxy() {
  asio::post(impl_->io, [impl = impl_.get()] { impl->shutdown(); });
  impl_->thread.join();
}

void KafkaProxy::drop_responses(std::int16_t api_key, int n, std::string client_id_prefix) {
  impl_->policy.set(api_key, n, std::move(client_id_prefix));
}

int KafkaProxy::pending_drops() const {
  return impl_->policy.pending();
}
std::int64_t KafkaProxy::responses_dropped() const {
  return impl_->policy.dropped.load();
}
std::int64_t KafkaProxy::responses_forwarded() const {
  return impl_->policy.forwarded.load();
}
std::int64_t KafkaProxy::connections_accepted() const {
  return impl_->policy.accepted.load();
}

}  // namespace orderflow::testing
