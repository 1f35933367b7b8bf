// A fixed-port TCP front door for the mock cluster: accepts on 127.0.0.1:PORT (and [::1]:PORT when
// the host has IPv6) and relays bytes both ways to one mock broker. Clients learn the brokers' real
// addresses from metadata, so only bootstrap traffic passes through here.
// Runs on the io_context it is given (single-threaded use). The constructor binds at once and
// throws PortUnavailable when the port cannot be bound.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

namespace orderflow::dev_broker {

class PortUnavailable : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class BootstrapForwarder {
 public:
  BootstrapForwarder(boost::asio::io_context& io, std::uint16_t port);
  BootstrapForwarder(const BootstrapForwarder&) = delete;
  BootstrapForwarder& operator=(const BootstrapForwarder&) = delete;

  std::uint16_t port() const { return port_; }
  bool listens_on_ipv6() const { return acceptors_.size() > 1; }
  // Starts accepting; every connection is relayed to `upstream`.
  void start(boost::asio::ip::tcp::endpoint upstream);
  // Stops accepting; relayed connections end when the io_context stops.
  void stop();

 private:
  void accept_next(boost::asio::ip::tcp::acceptor& acceptor);

  boost::asio::io_context& io_;
  std::vector<boost::asio::ip::tcp::acceptor> acceptors_;
  boost::asio::ip::tcp::endpoint upstream_;
  std::uint16_t port_ = 0;
};

}  // namespace orderflow::dev_broker
