#include "orderflow/dev_broker/bootstrap_forwarder.h"

#include <fmt/format.h>

#include <array>
#include <chrono>
#include <memory>
#include <utility>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

namespace orderflow::dev_broker {
namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

// One relayed connection; owned by the completion handlers in flight, so it lives as long as either
// direction is still pumping and is freed when the io_context drops its handlers.
class Relay : public std::enable_shared_from_this<Relay> {
 public:
  explicit Relay(tcp::socket client) : client_(std::move(client)), upstream_(client_.get_executor()) {}

  void start(const tcp::endpoint& upstream) {
    upstream_.async_connect(upstream, [self = shared_from_this()](const boost::system::error_code& ec) {
      if (ec) {
        self->close();
        return;
      }
      boost::system::error_code ignored;
      self->client_.set_option(tcp::no_delay(true), ignored);
      self->upstream_.set_option(tcp::no_delay(true), ignored);
      self->pump(self->client_, self->upstream_, self->to_upstream_);
      self->pump(self->upstream_, self->client_, self->to_client_);
    });
  }

 private:
  using Buffer = std::array<char, std::size_t{64} * 1024>;

  void pump(tcp::socket& from, tcp::socket& to, Buffer& buf) {
    from.async_read_some(asio::buffer(buf), [self = shared_from_this(), &from, &to, &buf](
                                                const boost::system::error_code& ec, std::size_t n) {
      if (ec) {
        self->close();
        return;
      }
      asio::async_write(to, asio::buffer(buf.data(), n),
                        [self, &from, &to, &buf](const boost::system::error_code& wec, std::size_t) {
                          if (wec) {
                            self->close();
                            return;
                          }
                          self->pump(from, to, buf);
                        });
    });
  }

  // Kafka has no use for half-closed connections: when either side goes, both go.
  void close() {
    boost::system::error_code ignored;
    client_.close(ignored);
    upstream_.close(ignored);
  }

  tcp::socket client_;
  tcp::socket upstream_;
  Buffer to_upstream_{};
  Buffer to_client_{};
};

tcp::acceptor open_acceptor(asio::io_context& io, const tcp::endpoint& endpoint) {
  tcp::acceptor acceptor(io);
  acceptor.open(endpoint.protocol());
  // Lets a restarted broker rebind while old connections sit in TIME_WAIT; it does not let two
  // listeners share the port on Linux.
  acceptor.set_option(tcp::acceptor::reuse_address(true));
  if (endpoint.protocol() == tcp::v6()) {
    acceptor.set_option(asio::ip::v6_only(true));
  }
  acceptor.bind(endpoint);
  acceptor.listen(asio::socket_base::max_listen_connections);
  return acceptor;
}

}  // namespace

BootstrapForwarder::BootstrapForwarder(asio::io_context& io, std::uint16_t port) : io_(io) {
  acceptors_.reserve(2);
  try {
    acceptors_.push_back(open_acceptor(io_, tcp::endpoint(asio::ip::address_v4::loopback(), port)));
  } catch (const boost::system::system_error& e) {
    throw PortUnavailable(fmt::format("cannot listen on 127.0.0.1:{}: {}", port, e.code().message()));
  }
  port_ = acceptors_.front().local_endpoint().port();
  // IPv6 loopback is a convenience for clients whose "localhost" resolves to ::1 first; a host
  // without IPv6, or the port taken there, is not an error.
  try {
    acceptors_.push_back(open_acceptor(io_, tcp::endpoint(asio::ip::address_v6::loopback(), port_)));
  } catch (const boost::system::system_error&) {
  }
}

void BootstrapForwarder::start(tcp::endpoint upstream) {
  upstream_ = std::move(upstream);
  for (auto& acceptor : acceptors_) {
    accept_next(acceptor);
  }
}

void BootstrapForwarder::stop() {
  for (auto& acceptor : acceptors_) {
    boost::system::error_code ignored;
    acceptor.close(ignored);
  }
}

void BootstrapForwarder::accept_next(tcp::acceptor& acceptor) {
  acceptor.async_accept([this, &acceptor](const boost::system::error_code& ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) {
      return;
    }
    if (ec) {
      // E.g. out of file descriptors: back off instead of spinning on the failing accept.
      auto timer = std::make_shared<asio::steady_timer>(io_, std::chrono::milliseconds(100));
      timer->async_wait([this, &acceptor, timer](const boost::system::error_code&) {
        if (acceptor.is_open()) {
          accept_next(acceptor);
        }
      });
      return;
    }
    std::make_shared<Relay>(std::move(socket))->start(upstream_);
    accept_next(acceptor);
  });
}

}  // namespace orderflow::dev_broker
