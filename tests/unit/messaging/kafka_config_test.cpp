// KafkaProperties (ordered, later wins, -X parsing, secret masking) and make_conf (librdkafka's own errors).
#include "orderflow/messaging/kafka_config.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <memory>
#include <string>

#include "orderflow/messaging/testing/fake_event.h"
#include "orderflow/testing/held_port.h"

namespace {

using orderflow::messaging::check_client_config;
using orderflow::messaging::ClientKind;
using orderflow::messaging::ConfigError;
using orderflow::messaging::describe_client_error;
using orderflow::messaging::is_secret_property;
using orderflow::messaging::KafkaProperties;
using orderflow::messaging::LastClientError;
using orderflow::messaging::make_conf;

std::string conf_get(RdKafka::Conf& conf, const std::string& name) {
  std::string value;
  EXPECT_EQ(conf.get(name, value), RdKafka::Conf::CONF_OK) << name;
  return value;
}

TEST(KafkaPropertiesTest, SetKeepsInsertionOrder) {
  KafkaProperties p;
  p.set("bootstrap.servers", "b:9092");
  p.set("acks", "all");
  p.set("client.id", "svc");
  ASSERT_EQ(p.entries().size(), 3U);
  EXPECT_EQ(p.entries()[0].first, "bootstrap.servers");
  EXPECT_EQ(p.entries()[1].first, "acks");
  EXPECT_EQ(p.entries()[2].first, "client.id");
}

TEST(KafkaPropertiesTest, LaterSetOverridesEarlier) {
  KafkaProperties p;
  p.set("bootstrap.servers", "default:9092");
  p.set("acks", "all");
  p.set("bootstrap.servers", "flag:9092");
  ASSERT_NE(p.find("bootstrap.servers"), nullptr);
  EXPECT_EQ(*p.find("bootstrap.servers"), "flag:9092");
  EXPECT_EQ(p.entries().size(), 2U) << "an override replaces, never duplicates";
  EXPECT_EQ(p.to_log_string(), "bootstrap.servers=flag:9092 acks=all");
}

TEST(KafkaPropertiesTest, FindMissingIsNull) {
  KafkaProperties p;
  EXPECT_EQ(p.find("acks"), nullptr);
  p.set("acks", "all");
  EXPECT_EQ(p.find("ack"), nullptr);
  EXPECT_EQ(p.find("acks.x"), nullptr);
}

TEST(KafkaPropertiesTest, SetAssignmentParsesKeyEqualsValue) {
  KafkaProperties p;
  p.set_assignment("compression.type=lz4");
  p.set_assignment("sasl.jaas.config=a=b=c");  // only the first '=' separates
  p.set_assignment("client.id=");              // empty value is allowed
  EXPECT_EQ(*p.find("compression.type"), "lz4");
  EXPECT_EQ(*p.find("sasl.jaas.config"), "a=b=c");
  EXPECT_EQ(*p.find("client.id"), "");
  p.set_assignment("compression.type=zstd");
  EXPECT_EQ(*p.find("compression.type"), "zstd");
  EXPECT_EQ(p.entries().size(), 3U);
}

TEST(KafkaPropertiesTest, SetAssignmentRejectsMissingKeyOrEquals) {
  for (const char* bad : {"compression.type", "=lz4", "", "="}) {
    KafkaProperties p;
    try {
      p.set_assignment(bad);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const ConfigError& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("-X"), std::string::npos) << what;
      EXPECT_NE(what.find("key=value"), std::string::npos) << what;
      EXPECT_NE(what.find(bad), std::string::npos) << "names the offending entry: " << what;
    }
    EXPECT_TRUE(p.entries().empty());
  }
}

TEST(KafkaPropertiesTest, SecretPropertyNames) {
  for (const char* secret :
       {"sasl.password", "ssl.key.password", "ssl.keystore.password", "ssl.key.pem",
        "sasl.oauthbearer.client.secret", "sasl.jaas.config", "ssl.truststore.password"}) {
    EXPECT_TRUE(is_secret_property(secret)) << secret;
  }
  for (const char* plain :
       {"bootstrap.servers", "sasl.username", "sasl.mechanisms", "security.protocol", "ssl.ca.location",
        "ssl.certificate.location", "client.id", "acks", "compression.type", "enable.idempotence"}) {
    EXPECT_FALSE(is_secret_property(plain)) << plain;
  }
}

TEST(KafkaPropertiesTest, LogStringMasksSecrets) {
  KafkaProperties p;
  p.set("bootstrap.servers", "broker:9093");
  p.set("security.protocol", "SASL_SSL");
  p.set("sasl.username", "alice");
  p.set("sasl.password", "hunter2-sasl");
  p.set("ssl.key.password", "hunter2-key");
  p.set("sasl.oauthbearer.client.secret", "hunter2-oauth");
  const auto s = p.to_log_string();
  EXPECT_EQ(s,
            "bootstrap.servers=broker:9093 security.protocol=SASL_SSL sasl.username=alice sasl.password=*** "
            "ssl.key.password=*** sasl.oauthbearer.client.secret=***");
  EXPECT_EQ(s.find("hunter2"), std::string::npos);
}

TEST(KafkaPropertiesTest, LogStringOfEmptyProperties) {
  EXPECT_EQ(KafkaProperties().to_log_string(), "");
}

TEST(MakeConfTest, AppliesEveryProperty) {
  KafkaProperties p;
  p.set("bootstrap.servers", "localhost:1");
  p.set("client.id", "first");
  p.set_assignment("client.id=second");
  p.set_assignment("compression.type=lz4");
  auto conf = make_conf(p);
  ASSERT_NE(conf, nullptr);
  EXPECT_EQ(conf_get(*conf, "bootstrap.servers"), "localhost:1");
  EXPECT_EQ(conf_get(*conf, "client.id"), "second");
  EXPECT_EQ(conf_get(*conf, "compression.type"), "lz4");
}

TEST(MakeConfTest, EmptyPropertiesGiveADefaultConf) {
  EXPECT_NE(make_conf(KafkaProperties()), nullptr);
}

TEST(MakeConfTest, UnknownPropertyIsRejectedWithLibrdkafkasMessage) {
  KafkaProperties p;
  p.set("bootstrap.servers", "localhost:1");
  p.set("no.such.property", "1");
  try {
    (void)make_conf(p);
    FAIL() << "unknown property accepted";
  } catch (const ConfigError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("no.such.property"), std::string::npos) << what;
    EXPECT_NE(what.find("No such configuration property"), std::string::npos) << what;
  }
}

TEST(MakeConfTest, InvalidValueIsRejectedNamingTheProperty) {
  KafkaProperties p;
  p.set("compression.type", "banana");
  try {
    (void)make_conf(p);
    FAIL() << "invalid value accepted";
  } catch (const ConfigError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("compression.type"), std::string::npos) << what;
  }
}

TEST(MakeConfTest, ErrorForAMistypedSecretDoesNotEchoItsValue) {
  KafkaProperties p;
  p.set_assignment("sasl.pasword=hunter2");  // typo: librdkafka does not know it
  try {
    (void)make_conf(p);
    FAIL() << "unknown property accepted";
  } catch (const ConfigError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("sasl.pasword"), std::string::npos) << what;
    EXPECT_EQ(what.find("hunter2"), std::string::npos) << what;
  }
}

// ---- check_client_config (--check-config)
// ----------------------------------------------------------------------

std::string check_error(ClientKind kind, const KafkaProperties& p) {
  try {
    check_client_config(kind, p);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return {};
}

TEST(KafkaPropertiesTest, EraseRemovesOnlyThatKey) {
  KafkaProperties p;
  p.set("a", "1");
  p.set("b", "2");
  p.erase("a");
  p.erase("missing");
  ASSERT_EQ(p.entries().size(), 1U);
  EXPECT_EQ(p.entries().front().first, "b");
}

TEST(CheckClientConfigTest, ValidConfigurationPassesWithoutContactingTheBroker) {
  orderflow::testing::HeldPort broker;
  KafkaProperties p;
  p.set("bootstrap.servers", broker.address());
  p.set("enable.idempotence", "true");
  p.set("transactional.id", "g-0");
  EXPECT_EQ(check_error(ClientKind::Producer, p), "");
  p.erase("transactional.id");
  p.erase("enable.idempotence");
  p.set("group.id", "g");
  p.set("isolation.level", "read_committed");
  EXPECT_EQ(check_error(ClientKind::Consumer, p), "");
  // The probe clients are destroyed (their threads joined): a connection would be in the backlog now.
  EXPECT_FALSE(broker.connected()) << "a configuration check connected to the broker";
}

TEST(CheckClientConfigTest, ReportsWhatLibrdkafkaChecksOnlyWhenCreatingAClient) {
  KafkaProperties p;
  p.set("bootstrap.servers", "127.0.0.1:1");
  p.set("enable.idempotence", "true");
  p.set("max.in.flight.requests.per.connection", "10");
  EXPECT_NE(check_error(ClientKind::Producer, p).find("cannot create Kafka producer: `max.in.flight`"),
            std::string::npos)
      << check_error(ClientKind::Producer, p);
  KafkaProperties c;
  c.set("group.id", "g");
  c.set("fetch.max.bytes", "1000");
  EXPECT_NE(check_error(ClientKind::Consumer, c).find("cannot create Kafka consumer: `fetch.max.bytes`"),
            std::string::npos)
      << check_error(ClientKind::Consumer, c);
}

TEST(CheckClientConfigTest, ReportsAnInvalidPropertyAsMakeConfDoes) {
  KafkaProperties p;
  p.set("bootstrap.servers", "127.0.0.1:1");
  p.set("acks", "sometimes");
  const auto what = check_error(ClientKind::Producer, p);
  EXPECT_EQ(what.rfind("invalid Kafka property acks", 0), 0U) << what;
}

// A consumer property given to a producer: librdkafka warns when the client is created. Logged by the
// --check-config probe; not by a start's probe (log_warnings false), whose real client warns itself.
TEST(CheckClientConfigTest, LogsLibrdkafkasWarningsUnlessToldNotTo) {
  auto sink = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(64);
  const auto previous = spdlog::default_logger();
  spdlog::set_default_logger(std::make_shared<spdlog::logger>("test", sink));
  KafkaProperties p;
  p.set("bootstrap.servers", "127.0.0.1:1");
  p.set("session.timeout.ms", "6000");
  const auto warnings_about = [&](bool log_warnings) {
    check_client_config(ClientKind::Producer, p, log_warnings);
    int n = 0;
    for (const auto& line : sink->last_formatted()) {
      if (line.find("session.timeout.ms") != std::string::npos) ++n;
    }
    sink = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(64);
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("test", sink));
    return n;
  };
  const int logged = warnings_about(true);
  const int quiet = warnings_about(false);
  spdlog::set_default_logger(previous);
  EXPECT_GE(logged, 1);
  EXPECT_EQ(quiet, 0);
}

// ---- connection errors (the start-up wait's and the admin client's reason) ------------------------------

constexpr int kLibrdkafka2_0_2 = 0x020002ff;
constexpr int kLibrdkafka2_6_1 = 0x020601ff;

TEST(DescribeClientErrorTest, NamesTheCodeAndDropsTheVariableSuffix) {
  KafkaProperties p;
  const std::string text =
      "sasl_ssl://127.0.0.1:9093/bootstrap: SASL authentication error: Authentication failed: Invalid "
      "username or password (after 307ms in state AUTH_REQ, 1 identical error(s) suppressed)";
  const auto line = describe_client_error(p, RdKafka::ERR__AUTHENTICATION, text, kLibrdkafka2_0_2);
  EXPECT_EQ(line,
            "Local: Authentication failure: sasl_ssl://127.0.0.1:9093/bootstrap: SASL authentication error: "
            "Authentication failed: Invalid username or password");
  // A text without the suffix stays whole, parentheses of its own included.
  EXPECT_EQ(describe_client_error(p, RdKafka::ERR__SSL, "handshake failed (certificate verify failed)",
                                  kLibrdkafka2_0_2),
            "Local: SSL error: handshake failed (certificate verify failed)");
  EXPECT_EQ(describe_client_error(p, RdKafka::ERR__TRANSPORT, "", kLibrdkafka2_0_2),
            "Local: Broker transport failure");
}

TEST(DescribeClientErrorTest, ScramAuthenticationFailureOnOldLibrdkafkaGetsTheKafka4Hint) {
  KafkaProperties scram;
  scram.set("sasl.mechanisms", "SCRAM-SHA-512");
  const auto old_lib = describe_client_error(scram, RdKafka::ERR__AUTHENTICATION, "x", kLibrdkafka2_0_2);
  EXPECT_NE(old_lib.find("librdkafka before 2.6.1 fails SCRAM with Kafka 4.0"), std::string::npos) << old_lib;
  EXPECT_NE(old_lib.find("sasl.mechanisms=PLAIN"), std::string::npos) << old_lib;
  // The alias, any case.
  KafkaProperties alias;
  alias.set("sasl.mechanism", "scram-sha-256");
  EXPECT_NE(describe_client_error(alias, RdKafka::ERR__AUTHENTICATION, "x", kLibrdkafka2_0_2).find("2.6.1"),
            std::string::npos);
  // No hint: a fixed librdkafka, another mechanism, another error.
  EXPECT_EQ(describe_client_error(scram, RdKafka::ERR__AUTHENTICATION, "x", kLibrdkafka2_6_1),
            "Local: Authentication failure: x");
  KafkaProperties plain;
  plain.set("sasl.mechanisms", "PLAIN");
  EXPECT_EQ(describe_client_error(plain, RdKafka::ERR__AUTHENTICATION, "x", kLibrdkafka2_0_2),
            "Local: Authentication failure: x");
  EXPECT_EQ(describe_client_error(scram, RdKafka::ERR__SSL, "x", kLibrdkafka2_0_2), "Local: SSL error: x");
}

TEST(LastClientErrorTest, AGenericErrorDoesNotReplaceASpecificOne) {
  LastClientError errors;
  const auto offer = [&](RdKafka::ErrorCode err, const char* text) {
    auto e = orderflow::testing::FakeEvent::error(err, text);
    errors.event_cb(e);
    return errors.get().value_or(std::make_pair(RdKafka::ERR_NO_ERROR, std::string())).second;
  };
  EXPECT_EQ(offer(RdKafka::ERR__ALL_BROKERS_DOWN, "1/1 brokers are down"), "1/1 brokers are down");
  EXPECT_EQ(offer(RdKafka::ERR__TRANSPORT, "refused"), "refused");
  EXPECT_EQ(offer(RdKafka::ERR__ALL_BROKERS_DOWN, "1/1 brokers are down"), "refused");
  EXPECT_EQ(offer(RdKafka::ERR__SSL, "certificate verify failed"), "certificate verify failed");
  // An untrusted certificate alternates between the two codes: the reason does not.
  EXPECT_EQ(offer(RdKafka::ERR__TRANSPORT, "SSL routines::certificate verify failed"),
            "certificate verify failed");
  EXPECT_EQ(offer(RdKafka::ERR__AUTHENTICATION, "invalid password"), "invalid password");
  errors.clear();
  EXPECT_EQ(offer(RdKafka::ERR__TRANSPORT, "refused"), "refused");
}

TEST(LastClientErrorTest, KeepsTheConnectionErrorNotTheAllBrokersDownThatFollowsIt) {
  int closed_port = 0;
  {
    orderflow::testing::HeldPort p;  // a loopback port that was free a moment ago and is closed now
    closed_port = p.port();
  }
  KafkaProperties p;
  p.set("bootstrap.servers", "127.0.0.1:" + std::to_string(closed_port));
  p.set("log_level", "0");
  auto conf = make_conf(p);
  LastClientError errors;
  std::string err;
  ASSERT_EQ(conf->set("event_cb", &errors, err), RdKafka::Conf::CONF_OK) << err;
  std::unique_ptr<RdKafka::Producer> client(RdKafka::Producer::create(conf.get(), err));
  ASSERT_TRUE(client) << err;
  EXPECT_FALSE(errors.get());
  // The refusal, then "1/1 brokers are down": both served by poll().
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    client->poll(100);
    if (const auto e = errors.get(); e && e->first == RdKafka::ERR__TRANSPORT) break;
  }
  client->poll(200);
  const auto e = errors.get();
  ASSERT_TRUE(e) << "no error event within 20 s";
  EXPECT_EQ(e->first, RdKafka::ERR__TRANSPORT) << RdKafka::err2str(e->first) << ": " << e->second;
  EXPECT_NE(e->second.find("Connection refused"), std::string::npos) << e->second;
  errors.clear();
  EXPECT_FALSE(errors.get());
}

}  // namespace
