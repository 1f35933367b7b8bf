#include "orderflow/notification/sinks.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <utility>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace orderflow::notification {

namespace {

class LogSink final : public Sink {
 public:
  std::optional<std::string> deliver(std::string_view json) override {
    std::fwrite(json.data(), 1, json.size(), stdout);
    std::fputc('\n', stdout);
    return std::nullopt;
  }
  std::optional<std::string> flush() override {
    if (std::fflush(stdout) != 0)
      return std::string("cannot write notifications to stdout: ") + std::strerror(errno);
    return std::nullopt;
  }
  [[nodiscard]] std::string channel() const override { return "log"; }
};

class FileSink final : public Sink {
 public:
  explicit FileSink(const std::string& path) : path_(path), file_(std::fopen(path.c_str(), "a")) {
    if (file_ == nullptr) {
      throw std::invalid_argument("--sink file:" + path + ": cannot open: " + std::strerror(errno));
    }
  }
  ~FileSink() override {
    if (file_ != nullptr) std::fclose(file_);
  }
  FileSink(const FileSink&) = delete;
  FileSink& operator=(const FileSink&) = delete;
  std::optional<std::string> deliver(std::string_view json) override {
    if (std::fwrite(json.data(), 1, json.size(), file_) != json.size() || std::fputc('\n', file_) == EOF) {
      return "cannot write " + path_ + ": " + std::strerror(errno);
    }
    return std::nullopt;
  }
  std::optional<std::string> flush() override {
    if (std::fflush(file_) != 0) return "cannot write " + path_ + ": " + std::strerror(errno);
    return std::nullopt;
  }
  [[nodiscard]] std::string channel() const override { return "file"; }

 private:
  std::string path_;
  std::FILE* file_;
};

namespace beast = boost::beast;
namespace http = beast::http;
namespace asio = boost::asio;

class WebhookSink final : public Sink {
 public:
  WebhookSink(const std::string& url, std::chrono::milliseconds timeout) : timeout_(timeout) {
    const std::string prefix = "http://";
    if (url.rfind(prefix, 0) != 0)
      throw std::invalid_argument("--sink webhook:" + url + ": only http:// URLs are supported");
    const auto rest = url.substr(prefix.size());
    const auto slash = rest.find('/');
    const auto hostport = rest.substr(0, slash);
    target_ = slash == std::string::npos ? "/" : rest.substr(slash);
    const auto colon = hostport.rfind(':');
    host_ = colon == std::string::npos ? hostport : hostport.substr(0, colon);
    port_ = colon == std::string::npos ? "80" : hostport.substr(colon + 1);
    if (host_.empty()) throw std::invalid_argument("--sink webhook:" + url + ": missing host");
  }

  // Asynchronous operations driven by run_for(): Beast's timeouts apply only to async calls, and a
  // webhook that accepts but never answers must become a transient failure, not a stuck stage.
  std::optional<std::string> deliver(std::string_view json) override {
    io_.restart();
    beast::tcp_stream stream(io_);
    asio::ip::tcp::resolver resolver(io_);
    http::request<http::string_body> req{http::verb::post, target_, 11};
    req.set(http::field::host, host_);
    req.set(http::field::content_type, "application/json");
    req.body() = std::string(json);
    req.prepare_payload();
    beast::flat_buffer buffer;
    http::response<http::string_body> res;
    std::optional<std::string> error =
        std::string("webhook: no answer within ") + std::to_string(timeout_.count()) + " ms";
    bool finished = false;
    auto fail = [&](const char* step, beast::error_code ec) {
      error = std::string("webhook: ") + step + ": " + ec.message();
      finished = true;
    };
    stream.expires_after(timeout_);
    resolver.async_resolve(
        host_, port_, [&](beast::error_code ec, const asio::ip::tcp::resolver::results_type& results) {
          if (ec) return fail("resolve", ec);
          stream.async_connect(results, [&](beast::error_code ec2, const asio::ip::tcp::endpoint&) {
            if (ec2) return fail("connect", ec2);
            http::async_write(stream, req, [&](beast::error_code ec3, std::size_t) {
              if (ec3) return fail("write", ec3);
              http::async_read(stream, buffer, res, [&](beast::error_code ec4, std::size_t) {
                if (ec4) return fail("read", ec4);
                const auto code = res.result_int();
                if (code < 200 || code >= 300) {
                  error = "webhook answered HTTP " + std::to_string(code);
                } else {
                  error.reset();
                }
                finished = true;
              });
            });
          });
        });
    io_.run_for(timeout_ + std::chrono::milliseconds(100));
    if (!finished) {
      beast::error_code ignored;
      stream.socket().close(ignored);
      io_.restart();
      io_.poll();  // let the cancelled handlers run before the locals they capture go away
    } else {
      beast::error_code ignored;
      stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    }
    return error;
  }
  [[nodiscard]] std::string channel() const override { return "webhook"; }

 private:
  asio::io_context io_;
  std::chrono::milliseconds timeout_;
  std::string host_;
  std::string port_;
  std::string target_;
};

class FailingSink final : public Sink {
 public:
  FailingSink(std::unique_ptr<Sink> inner, double rate, std::uint64_t seed)
      : inner_(std::move(inner)), rate_(rate), rng_(seed) {}
  std::optional<std::string> deliver(std::string_view json) override {
    if (rate_ > 0.0 && std::uniform_real_distribution<double>(0.0, 1.0)(rng_) < rate_) {
      return "notification sink unavailable (simulated)";
    }
    return inner_->deliver(json);
  }
  std::optional<std::string> flush() override { return inner_->flush(); }
  [[nodiscard]] std::string channel() const override { return inner_->channel(); }

 private:
  std::unique_ptr<Sink> inner_;
  double rate_;
  std::mt19937_64 rng_;
};

}  // namespace

std::unique_ptr<Sink> make_sink(const std::string& spec, std::chrono::milliseconds webhook_timeout) {
  if (spec == "log") return std::make_unique<LogSink>();
  if (spec.rfind("file:", 0) == 0 && spec.size() > 5) return std::make_unique<FileSink>(spec.substr(5));
  if (spec.rfind("webhook:", 0) == 0 && spec.size() > 8) {
    return std::make_unique<WebhookSink>(spec.substr(8), webhook_timeout);
  }
  throw std::invalid_argument("--sink: expected log, file:PATH or webhook:URL, got '" + spec + "'");
}

std::unique_ptr<Sink> with_failure_rate(std::unique_ptr<Sink> inner, double rate, std::uint64_t seed) {
  if (rate <= 0.0) return inner;
  return std::make_unique<FailingSink>(std::move(inner), rate, seed);
}

}  // namespace orderflow::notification
