// A loopback TCP proxy in front of one Kafka broker that can lose responses on purpose: it relays each
// accepted connection to 127.0.0.1:<upstream port>, reads the size-prefixed Kafka frames both ways, maps
// each response to its request (api_key, client.id) by correlation id, and swallows the responses it was
// told to drop — the broker executed the request, the client never hears back. Clients only reach it
// after bootstrap when the broker advertises the proxy's address (kafka-local.sh --advertised-port).
// Thread-safe: control calls and counters from any thread; relaying runs on the proxy's own io thread.
// The constructor throws std::runtime_error when it cannot listen; a connection whose upstream cannot be
// reached, or that sends a malformed frame, is closed (both sides).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace orderflow::testing {

class KafkaProxy {
 public:
  // Kafka API keys, for drop_responses().
  static constexpr std::int16_t kProduce = 0;
  static constexpr std::int16_t kFetch = 1;
  static constexpr std::int16_t kMetadata = 3;

  // Listens on 127.0.0.1:`listen_port` (0 = an ephemeral port) and relays from then on.
  explicit KafkaProxy(int upstream_port, int listen_port = 0);
  ~KafkaProxy();  // closes the listener and every relayed connection, joins the io thread
  KafkaProxy(const KafkaProxy&) = delete;
  KafkaProxy& operator=(const KafkaProxy&) = delete;

  int port() const { return port_; }

  // Swallows the next `n` responses to requests of `api_key` whose client.id starts with
  // `client_id_prefix` ("" = any client). Replaces an earlier call's drops that are still pending.
  // Requests answered with no response at all (Produce with acks=0) never count.
  void drop_responses(std::int16_t api_key, int n, std::string client_id_prefix = {});
  int pending_drops() const;  // of the latest drop_responses()

  std::int64_t responses_dropped() const;
  std::int64_t responses_forwarded() const;
  std::int64_t connections_accepted() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int port_ = 0;
};

}  // namespace orderflow::testing
