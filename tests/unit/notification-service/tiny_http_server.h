// Test helper: a loopback HTTP/1.1 server on an ephemeral port that answers each connection with the next
// status of a script (cycling) and records what it received; or, in `hang` mode, reads the request and
// never answers until release() (to test client timeouts). One connection at a time, on its own thread.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace orderflow::testing {

class TinyHttpServer {
 public:
  struct Request {
    std::string method;
    std::string target;
    std::string content_type;
    std::string body;
  };

  explicit TinyHttpServer(std::vector<int> statuses, bool hang = false)
      : statuses_(std::move(statuses)),
        hang_(hang),
        acceptor_(io_, {boost::asio::ip::make_address("127.0.0.1"), 0}) {
    port_ = acceptor_.local_endpoint().port();
    thread_ = std::thread([this] { run(); });
  }

  ~TinyHttpServer() {
    stop_ = true;
    release();
    // Wake a blocking accept() with a throw-away connection.
    boost::system::error_code ec;
    boost::asio::io_context io;
    boost::asio::ip::tcp::socket s(io);
    s.connect({boost::asio::ip::make_address("127.0.0.1"), port_}, ec);
    thread_.join();
  }
  TinyHttpServer(const TinyHttpServer&) = delete;
  TinyHttpServer& operator=(const TinyHttpServer&) = delete;

  [[nodiscard]] unsigned short port() const { return port_; }
  [[nodiscard]] std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }

  std::vector<Request> requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }

  // Hang mode: close the held connection without answering.
  void release() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      released_ = true;
    }
    cv_.notify_all();
  }

 private:
  void run() {
    try {
      serve();
    } catch (const std::exception& e) {
      ADD_FAILURE() << "TinyHttpServer: " << e.what();
    }
  }

  void serve() {
    namespace http = boost::beast::http;
    std::size_t next = 0;
    while (!stop_) {
      boost::system::error_code ec;
      boost::asio::ip::tcp::socket socket(io_);
      acceptor_.accept(socket, ec);
      if (ec || stop_) break;
      boost::beast::flat_buffer buffer;
      http::request<http::string_body> req;
      http::read(socket, buffer, req, ec);
      if (ec) continue;
      {
        std::lock_guard<std::mutex> lock(mu_);
        requests_.push_back(Request{std::string(req.method_string()), std::string(req.target()),
                                    std::string(req[http::field::content_type]), req.body()});
      }
      if (hang_) {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [this] { return released_; });
        socket.close(ec);
        continue;
      }
      const int status = statuses_.empty() ? 200 : statuses_[next++ % statuses_.size()];
      http::response<http::string_body> res{static_cast<http::status>(status), req.version()};
      res.set(http::field::content_type, "text/plain");
      res.keep_alive(false);
      if (status != 204 && status != 304 && status >= 200)
        res.body() = "status " + std::to_string(status) + "\n";
      res.prepare_payload();
      http::write(socket, res, ec);
      socket.shutdown(boost::asio::ip::tcp::socket::shutdown_both, ec);
      socket.close(ec);
    }
  }

  std::vector<int> statuses_;
  bool hang_;
  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  unsigned short port_ = 0;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  bool released_ = false;
  std::vector<Request> requests_;
  std::thread thread_;
};

}  // namespace orderflow::testing
