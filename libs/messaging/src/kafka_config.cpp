#include "orderflow/messaging/kafka_config.h"

#include <algorithm>
#include <array>

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

bool is_secret_property(std::string_view key) {
  static constexpr std::array<std::string_view, 6> kMarkers = {"password", "secret", "sasl.jaas",
                                                               "key.pem", "token", "ssl.key"};
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
      throw ConfigError("invalid Kafka property " + k + ": " + err);
    }
  }
  return conf;
}

}  // namespace orderflow::messaging
