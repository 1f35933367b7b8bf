// Kafka client settings: the typed options every service shares, turned into librdkafka configuration.
// Not thread-safe to mutate; build once at start-up and pass by const&. Invalid settings throw ConfigError
// (with librdkafka's own message) — start-up misconfiguration is the one place exceptions are used.
#pragma once

#include <librdkafka/rdkafkacpp.h>

#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace orderflow::messaging {

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// An ordered list of librdkafka properties; later entries override earlier ones.
class KafkaProperties {
 public:
  KafkaProperties() = default;
  void set(std::string key, std::string value);
  // Parses "key=value" (the -X flag); throws ConfigError when '=' is missing or the key is empty.
  void set_assignment(std::string_view key_equals_value);
  [[nodiscard]] const std::string* find(std::string_view key) const;
  // Removes `key` (no-op when absent).
  void erase(std::string_view key);
  [[nodiscard]] const std::vector<std::pair<std::string, std::string>>& entries() const { return entries_; }
  // "k1=v1 k2=v2" with secrets masked; safe to log.
  [[nodiscard]] std::string to_log_string() const;

 private:
  std::vector<std::pair<std::string, std::string>> entries_;
};

// The settings every producer and consumer of ours starts from (before their own and the user's -X).
KafkaProperties client_defaults();

// True for property names whose values must never be logged (passwords, keys, secrets, tokens).
bool is_secret_property(std::string_view key);

// Builds an RdKafka::Conf of type CONF_GLOBAL from properties; throws ConfigError naming the property.
std::unique_ptr<RdKafka::Conf> make_conf(const KafkaProperties& props);

// --check-config: validates a client's complete properties as creating the client would — every
// property (make_conf), then the checks librdkafka makes only when a client is created (combinations
// such as idempotence with max.in.flight > 5, fetch.max.bytes < message.max.bytes, SSL/SASL set-up) —
// without contacting any broker: the client is created without bootstrap.servers and destroyed at once.
// librdkafka's configuration warnings are logged as a real client logs them. Throws ConfigError with
// the message the real client's constructor gives ("cannot create Kafka producer: …").
// With `log_warnings` false the warnings are not logged: a start that checks first and then creates the real
// client, which logs the same warnings itself.
enum class ClientKind { Producer, Consumer };
void check_client_config(ClientKind kind, const KafkaProperties& props, bool log_warnings = true);

// The latest error a client reported (its EVENT_ERROR events: authentication, TLS, connection refused …),
// for a caller that turns "no broker answered" into a reason. Install it as the client's event_cb; the
// events arrive when the caller polls the client. A generic error (ERR__ALL_BROKERS_DOWN, which follows the
// failure of the last broker connection; ERR__TRANSPORT, which librdkafka also reports for some TLS
// failures, e.g. every other attempt with an untrusted certificate) does not replace a specific one
// (authentication, TLS …) until clear(): the reason stays the same from one attempt to the next.
class LastClientError final : public RdKafka::EventCb {
 public:
  void event_cb(RdKafka::Event& e) override;
  // The error, or nullopt when none arrived since construction or clear().
  [[nodiscard]] std::optional<std::pair<RdKafka::ErrorCode, std::string>> get() const;
  void clear();

 private:
  mutable std::mutex mutex_;
  std::optional<std::pair<RdKafka::ErrorCode, std::string>> last_;
};

// One line for a client error event: "<librdkafka's name of the code>: <its text>", without the variable
// " (after N ms in state X, N identical error(s) suppressed)" suffix, so that the same failure reads the
// same each time. An authentication failure with a SCRAM mechanism on librdkafka before 2.6.1 gets a hint:
// those versions repeat the client nonce in SCRAM's final message, which Kafka 4 brokers reject as
// invalid credentials whatever the password (librdkafka PR 4895). `librdkafka_version`: RdKafka::version().
std::string describe_client_error(const KafkaProperties& props, RdKafka::ErrorCode err, std::string_view text,
                                  int librdkafka_version);

}  // namespace orderflow::messaging
