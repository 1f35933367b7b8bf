#include "orderflow/messaging/kafka_config.h"

#include <algorithm>
#include <array>
#include <cctype>

#include "orderflow/messaging/kafka_client.h"

namespace orderflow::messaging {

void KafkaProperties::set(std::string key, std::string value) {
  for (auto& [k, v] : entries_) {
    if (k == key) {
      v = std::move(value);
      return;
    }
  }
  entries_.emplace_back(std::move(key), std::move(value));
}

void KafkaProperties::set_assignment(std::string_view kv) {
  const auto eq = kv.find('=');
  if (eq == std::string_view::npos || eq == 0) {
    // Without '=' the name and the value cannot be told apart: never echo what may be a secret.
    if (is_secret_property(kv)) throw ConfigError("-X <a secret property, not shown>: expected key=value");
    throw ConfigError("-X " + std::string(kv) + ": expected key=value");
  }
  set(std::string(kv.substr(0, eq)), std::string(kv.substr(eq + 1)));
}

const std::string* KafkaProperties::find(std::string_view key) const {
  for (const auto& [k, v] : entries_) {
    if (k == key) return &v;
  }
  return nullptr;
}

void KafkaProperties::erase(std::string_view key) {
  entries_.erase(
      std::remove_if(entries_.begin(), entries_.end(), [&](const auto& e) { return e.first == key; }),
      entries_.end());
}

KafkaProperties client_defaults() {
  KafkaProperties p;
  // TCP_NODELAY on the clients' sockets: with Nagle, a small request written while an earlier one is
  // still unacknowledged waits for the broker's delayed ACK (up to 40 ms), which at a few hundred records a
  // second adds tens of milliseconds to a hop's p99 on a real broker. Requests are written whole, so Nagle
  // saves no packets worth having.
  p.set("socket.nagle.disable", "true");
  return p;
}

bool is_secret_property(std::string_view key) {
  static constexpr std::array<std::string_view, 6> kMarkers = {"password", "secret", "sasl.jaas",
                                                               "key.pem",  "token",  "ssl.key"};
  return std::any_of(kMarkers.begin(), kMarkers.end(),
                     [&](std::string_view m) { return key.find(m) != std::string_view::npos; });
}

std::string KafkaProperties::to_log_string() const {
  std::string out;
  for (const auto& [k, v] : entries_) {
    if (!out.empty()) out += ' ';
    out += k;
    out += '=';
    out += is_secret_property(k) ? std::string("***") : v;
  }
  return out;
}

std::unique_ptr<RdKafka::Conf> make_conf(const KafkaProperties& props) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string err;
  for (const auto& [k, v] : props.entries()) {
    if (conf->set(k, v, err) != RdKafka::Conf::CONF_OK) {
      // librdkafka's message already names the property; never echo a secret value.
      throw ConfigError(std::string("invalid Kafka property ").append(k).append(": ").append(err));
    }
  }
  return conf;
}

namespace {

// librdkafka's warnings (e.g. "property X is a consumer property and will be ignored"), as the real client
// logs them; its errors and notices (such as "No `bootstrap.servers` configured") are the probe's own.
constexpr ClientLogLevels kProbeLogLevels{.fatal_error = EventLogLevel::Off,
                                          .error = EventLogLevel::Off,
                                          .log_warning = EventLogLevel::Warn,
                                          .log = EventLogLevel::Off};

}  // namespace

void check_client_config(ClientKind kind, const KafkaProperties& props, bool log_warnings) {
  (void)make_conf(props);  // every property as given, the broker list included
  KafkaProperties offline = props;
  offline.erase("bootstrap.servers");
  offline.erase("metadata.broker.list");  // librdkafka's alias of bootstrap.servers
  if (!log_warnings) offline.set("log_level", "0");
  auto conf = make_conf(offline);
  ClientEvents events(kind, kProbeLogLevels);
  std::string err;
  if (conf->set("event_cb", &events, err) != RdKafka::Conf::CONF_OK) {
    throw ConfigError(std::string(client_name(kind)) + " callbacks: " + err);
  }
  if (kind == ClientKind::Producer) {
    (void)create_producer(*conf);
  } else {
    create_consumer(*conf)->close();  // never subscribed and no broker: returns at once
  }
}

void LastClientError::event_cb(RdKafka::Event& e) {
  if (e.type() != RdKafka::Event::EVENT_ERROR) return;
  const auto generic = [](RdKafka::ErrorCode c) {
    return c == RdKafka::ERR__ALL_BROKERS_DOWN || c == RdKafka::ERR__TRANSPORT;
  };
  const std::lock_guard lock(mutex_);
  if (last_ && generic(e.err()) && !generic(last_->first)) return;
  // Of the generic ones, the transport failure names the broker and the cause; "all brokers down" does not.
  if (last_ && e.err() == RdKafka::ERR__ALL_BROKERS_DOWN && last_->first == RdKafka::ERR__TRANSPORT) return;
  last_.emplace(e.err(), e.str());
}

std::optional<std::pair<RdKafka::ErrorCode, std::string>> LastClientError::get() const {
  const std::lock_guard lock(mutex_);
  return last_;
}

void LastClientError::clear() {
  const std::lock_guard lock(mutex_);
  last_.reset();
}

std::string describe_client_error(const KafkaProperties& props, RdKafka::ErrorCode err, std::string_view text,
                                  int librdkafka_version) {
  if (const auto at = text.rfind(" (after "); at != std::string_view::npos && text.back() == ')') {
    text = text.substr(0, at);
  }
  std::string out = RdKafka::err2str(err);
  if (!text.empty()) {
    out += ": ";
    out += text;
  }
  std::string mechanism;
  if (const auto* m = props.find("sasl.mechanisms")) mechanism = *m;
  if (const auto* m = props.find("sasl.mechanism")) mechanism = *m;  // librdkafka's alias
  std::transform(mechanism.begin(), mechanism.end(), mechanism.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  constexpr int kScramFixedIn = 0x020601ff;  // 2.6.1
  if (err == RdKafka::ERR__AUTHENTICATION && mechanism.rfind("SCRAM", 0) == 0 &&
      librdkafka_version < kScramFixedIn) {
    out +=
        "; note: librdkafka before 2.6.1 fails SCRAM with Kafka 4.0 and later brokers as invalid credentials "
        "even with the right password: use sasl.mechanisms=PLAIN (over SASL_SSL) with such brokers";
  }
  return out;
}

}  // namespace orderflow::messaging
