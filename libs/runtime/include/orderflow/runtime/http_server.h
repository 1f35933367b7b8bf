// The service's HTTP endpoint (Boost.Beast): GET /metrics (Prometheus text format), /healthz (200
// while the process runs) and /readyz (200 once ready, else 503 with a one-line reason). Runs on
// its own thread; the readiness check is called from that thread, so it must be thread-safe.
// Construction throws std::runtime_error with the address when it cannot listen (e.g. port in use).
#pragma once

#include <prometheus/registry.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace orderflow::runtime {

class HttpServer {
 public:
  // nullopt = ready; otherwise the reason it is not.
  using ReadyCheck = std::function<std::optional<std::string>()>;

  // address: "HOST:PORT" or ":PORT". A port of 0 means disabled: construct nothing (see enabled()).
  HttpServer(const std::string& address, std::shared_ptr<prometheus::Registry> registry, ReadyCheck ready);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  [[nodiscard]] bool enabled() const;
  [[nodiscard]] unsigned short port() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Splits "host:port" / ":port"; throws std::invalid_argument naming the address when malformed.
std::pair<std::string, unsigned short> split_host_port(const std::string& address);

}  // namespace orderflow::runtime
