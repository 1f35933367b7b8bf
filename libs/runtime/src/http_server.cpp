#include "orderflow/runtime/http_server.h"

#include <prometheus/text_serializer.h>
#include <spdlog/spdlog.h>

#include <charconv>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <utility>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace orderflow::runtime {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

std::pair<std::string, unsigned short> split_host_port(const std::string& address) {
  const auto colon = address.rfind(':');
  if (colon == std::string::npos) throw std::invalid_argument("expected HOST:PORT, got '" + address + "'");
  std::string host = address.substr(0, colon);
  if (host.empty()) host = "0.0.0.0";
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  const std::string port_text = address.substr(colon + 1);
  unsigned long port = 0;
  const auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || port_text.size() > 5 || ec != std::errc() ||
      ptr != port_text.data() + port_text.size() || port > 65535) {
    throw std::invalid_argument("invalid port in '" + address + "'");
  }
  return {host, static_cast<unsigned short>(port)};
}

namespace {

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, std::shared_ptr<prometheus::Registry> registry, HttpServer::ReadyCheck& ready)
      : stream_(std::move(socket)), registry_(std::move(registry)), ready_(ready) {}

  void start() {
    stream_.expires_after(std::chrono::seconds(10));
    http::async_read(stream_, buffer_, request_,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

 private:
  void on_read(beast::error_code ec) {
    if (ec) return;
    response_.version(request_.version());
    response_.keep_alive(false);
    response_.set(http::field::server, "orderflow");
    const auto target = std::string(request_.target());
    const auto path = target.substr(0, target.find('?'));
    if (request_.method() != http::verb::get && request_.method() != http::verb::head) {
      reply(http::status::method_not_allowed, "text/plain", "only GET\n");
    } else if (path == "/metrics") {
      std::ostringstream out;
      prometheus::TextSerializer().Serialize(out, registry_->Collect());
      reply(http::status::ok, "text/plain; version=0.0.4; charset=utf-8", out.str());
    } else if (path == "/healthz") {
      reply(http::status::ok, "text/plain", "ok\n");
    } else if (path == "/readyz") {
      const auto reason = ready_ ? ready_() : std::nullopt;
      if (reason) {
        reply(http::status::service_unavailable, "text/plain", *reason + "\n");
      } else {
        reply(http::status::ok, "text/plain", "ready\n");
      }
    } else {
      reply(http::status::not_found, "text/plain", "not found: try /metrics, /healthz, /readyz\n");
    }
  }

  void reply(http::status status, const char* type, std::string body) {
    response_.result(status);
    response_.set(http::field::content_type, type);
    response_.body() = std::move(body);
    response_.prepare_payload();
    http::async_write(stream_, response_, [self = shared_from_this()](beast::error_code, std::size_t) {
      beast::error_code ignored;
      self->stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    });
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  http::request<http::string_body> request_;
  http::response<http::string_body> response_;
  std::shared_ptr<prometheus::Registry> registry_;
  HttpServer::ReadyCheck& ready_;
};

}  // namespace

struct HttpServer::Impl {
  asio::io_context io{1};
  tcp::acceptor acceptor{io};
  std::shared_ptr<prometheus::Registry> registry;
  ReadyCheck ready;
  std::thread thread;
  unsigned short port = 0;

  void accept() {
    acceptor.async_accept([this](beast::error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted) return;
      if (!ec) std::make_shared<Session>(std::move(socket), registry, ready)->start();
      accept();
    });
  }
};

HttpServer::HttpServer(const std::string& address, std::shared_ptr<prometheus::Registry> registry,
                       ReadyCheck ready) {
  const auto [host, port] = split_host_port(address);
  if (port == 0) return;  // disabled
  impl_ = std::make_unique<Impl>();
  impl_->registry = std::move(registry);
  impl_->ready = std::move(ready);
  try {
    auto resolved = tcp::resolver(impl_->io).resolve(host, std::to_string(port),
                                                     tcp::resolver::passive | tcp::resolver::numeric_service);
    const tcp::endpoint ep = *resolved.begin();
    impl_->acceptor.open(ep.protocol());
    impl_->acceptor.set_option(tcp::acceptor::reuse_address(true));
    impl_->acceptor.bind(ep);
    impl_->acceptor.listen();
    impl_->port = impl_->acceptor.local_endpoint().port();
  } catch (const boost::system::system_error& e) {
    throw std::runtime_error("cannot serve metrics on " + address + ": " + e.code().message());
  }
  impl_->accept();
  impl_->thread = std::thread([this] { impl_->io.run(); });
}

HttpServer::~HttpServer() {
  if (!impl_) return;
  impl_->io.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

bool HttpServer::enabled() const {
  return impl_ != nullptr;
}
unsigned short HttpServer::port() const {
  return impl_ ? impl_->port : 0;
}

}  // namespace orderflow::runtime
