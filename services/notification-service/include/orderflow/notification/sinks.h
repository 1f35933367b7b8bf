// Where notifications are delivered before they are published: `log` (one JSON line per
// notification on stdout), `file:PATH` (JSON lines appended to PATH) or `webhook:URL` (HTTP POST,
// non-2xx or timeout = transient failure). `deliver` returns an error text on a (transient) failure.
// The log and file sinks buffer: `flush` makes everything delivered so far durable (written to the
// operating system) and is called before the offsets of those records are committed, never per record.
// Not thread-safe; one per stage thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>

namespace orderflow::notification {

class Sink {
 public:
  virtual ~Sink() = default;
  // nullopt on success, else why it failed.
  virtual std::optional<std::string> deliver(std::string_view notification_json) = 0;
  // nullopt when everything delivered so far has been written out, else why not.
  virtual std::optional<std::string> flush() { return std::nullopt; }
  [[nodiscard]] virtual std::string channel() const = 0;
};

// Parses "log" | "file:PATH" | "webhook:http://host:port/path"; throws std::invalid_argument naming
// the spec when it is malformed (the file sink opens its file here and reports errors then).
std::unique_ptr<Sink> make_sink(const std::string& spec, std::chrono::milliseconds webhook_timeout);

// Wraps a sink and fails a fraction of deliveries (seeded) to exercise the retry path.
std::unique_ptr<Sink> with_failure_rate(std::unique_ptr<Sink> inner, double rate, std::uint64_t seed);

}  // namespace orderflow::notification
