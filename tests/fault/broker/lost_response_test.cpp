// A lost produce response: the broker appended payment-service's batch, the answer never reached the
// client. librdkafka times the request out, drops the connection, reconnects and re-sends the batch with
// the same producer id and sequence numbers; a real broker recognises the re-send as a duplicate and
// answers it without appending it again. So every order still has exactly one payment.
// The client's deadline for an in-flight ProduceRequest is the batch's remaining message.timeout.ms
// (300 s here) capped by socket.timeout.ms (60 s by default); request.timeout.ms only tells the broker
// how long to wait for acks. So payment-service runs with socket.timeout.ms=3000.
//
// Injection: the test starts its own single-node Kafka (kafka-local.sh) that advertises a KafkaProxy's
// port, so every client connection after bootstrap runs through the proxy. Mid-stream the proxy
// swallows, one at a time, the responses to Produce requests whose client.id is payment-service's own.
// Real Kafka ONLY: the librdkafka 2.0.2 mock appends a re-sent batch again (docs/dev-broker.md), and its
// brokers cannot advertise another address. Registered only as the kafka variant
// (fault_lost_response_test_kafka), which needs the jars the real_kafka fixture fetched.
#include <fmt/core.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>

#include "fault_fixture.h"
#include "orderflow/testing/kafka_proxy.h"
#include "orderflow/testing/paths.h"
#include "orderflow/testing/wait.h"

namespace orderflow::testing::fault {
namespace {

using namespace std::chrono_literals;

std::string env_or_empty(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? std::string() : std::string(v);
}

std::size_t count_occurrences(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

// A single-node Kafka of this test's own, from kafka-local.sh, listening on `port` and advertising
// `advertised_port`. Stopped, and its directory deleted, whatever happens (the script's watchdog
// stops the JVM after --max-lifetime should this process die first).
class OwnKafka {
 public:
  OwnKafka(const std::string& script, const std::string& jars, int port, int advertised_port)
      : script_(script), dir_(make_temp_dir("orderflow-lost-response")) {
    auto start =
        Process::start(script_, {"start", "--dir", dir_ + "/kafka", "--jars", jars, "--port",
                                 std::to_string(port), "--advertised-port", std::to_string(advertised_port),
                                 "--fresh", "--timeout", "120", "--max-lifetime", "600"});
    const auto rc = start.wait(150s);
    if (rc != 0) {
      const auto log = start.output();
      start.stop(5s);
      stop();
      throw std::runtime_error(fmt::format("kafka-local.sh start exited {}:\n{}",
                                           rc ? std::to_string(*rc) : std::string("(timeout)"), tail(log)));
    }
  }
  ~OwnKafka() { stop(); }
  OwnKafka(const OwnKafka&) = delete;
  OwnKafka& operator=(const OwnKafka&) = delete;

 private:
  void stop() noexcept {
    try {
      auto stop = Process::start(script_, {"stop", "--dir", dir_ + "/kafka", "--wipe"});
      stop.wait(60s);
    } catch (const std::exception&) {  // the watchdog stops the broker once the directory is gone
    }
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  std::string script_;
  std::string dir_;
};

TEST(LostResponseTest, ProduceResponsesLostOnTheWayToPaymentServiceDoNotDuplicatePayments) {
  if (env_or_empty("ORDERFLOW_TEST_BROKER") != "real") {
    GTEST_SKIP() << "real Kafka only: the librdkafka 2.0.2 mock appends a re-sent batch again (see "
                    "docs/dev-broker.md); "
                    "run `ctest -R fault_lost_response_test_kafka`";
  }
  const auto script = env_or_empty("ORDERFLOW_KAFKA_LOCAL");
  const auto jars = env_or_empty("ORDERFLOW_KAFKA_JARS_DIR");
  ASSERT_FALSE(script.empty() || jars.empty())
      << "ORDERFLOW_KAFKA_LOCAL and ORDERFLOW_KAFKA_JARS_DIR must name kafka-local.sh and the Kafka jars "
         "(orderflow_kafka_variant sets them)";
  const auto started = std::chrono::steady_clock::now();
  constexpr int kOrders = 20000;
  constexpr int kLostResponses = 4;
  const std::string payment_client = "lost-response-payment-service";

  const int broker_port = free_port();
  KafkaProxy proxy(broker_port);
  OwnKafka kafka(script, jars, broker_port, proxy.port());
  const auto kafka_up = std::chrono::steady_clock::now();

  Services svc;
  svc.bootstrap = fmt::format("127.0.0.1:{}", proxy.port());
  const int port = free_port();
  // socket.timeout.ms: how long payment-service waits for a lost answer before it re-sends.
  auto pay = svc.start_payment(port, {"-X", "socket.timeout.ms=3000", "-X", "client.id=" + payment_client});
  ASSERT_TRUE(wait_ready(port, 60s)) << tail(pay.output());
  auto producer = svc.start_producer({"--count", std::to_string(kOrders), "--rate", "1000", "--seed", "41"});

  // One lost response at a time, each once payments moved on after the previous one (so the losses hit
  // different batches, not only re-sends of the first).
  TopicReader payments(svc.bootstrap, svc.payments);
  for (int i = 0; i < kLostResponses; ++i) {
    const auto seen = payments.records().size();
    ASSERT_TRUE(payments.wait_for_count(seen + 500, 60s))
        << "payments stalled at " << payments.records().size() << " before lost response " << i + 1 << "\n"
        << tail(pay.output());
    proxy.drop_responses(KafkaProxy::kProduce, 1, payment_client);
    ASSERT_TRUE(wait_until([&] { return proxy.pending_drops() == 0; }, 30s))
        << "payment-service sent no Produce request within 30 s (lost response " << i + 1 << ")";
  }
  ASSERT_GE(proxy.responses_dropped(), kLostResponses) << "the fault was not injected";
  ASSERT_EQ(producer.wait(120s).value_or(-1), 0) << tail(producer.output());

  const auto order_records = read_all(svc.bootstrap, svc.orders, kOrders, 60s);
  ASSERT_EQ(order_records.size(), static_cast<std::size_t>(kOrders));
  const auto orders = index_orders(order_records);
  payments.poll_until([&](const std::vector<Record>& r) { return tally_payments(orders, r).lost == 0; }, 90s);
  payments.drain_to_end(30s);
  const auto pt = tally_payments(orders, payments.records());
  EXPECT_EQ(pay.stop(30s), 0) << tail(pay.output());
  const auto log = pay.output();

  EXPECT_EQ(pt.lost, 0U);
  EXPECT_EQ(pt.duplicates, 0U) << "a re-sent batch was appended twice";
  EXPECT_EQ(pt.unknown, 0U);
  EXPECT_EQ(pt.wrong, 0U);
  const auto secs = [](auto d) { return std::chrono::duration_cast<std::chrono::seconds>(d).count(); };
  summary("lost_response_kafka",
          std::to_string(kLostResponses) +
              "xProduce response dropped by a proxy (socket.timeout.ms=3000, re-sent)",
          kOrders, pt.lost, pt.duplicates,
          fmt::format("responses_dropped={} produce_timeouts_logged={} proxy_connections={} payments={} "
                      "kafka_start_s={} duration_s={}",
                      proxy.responses_dropped(), count_occurrences(log, "[REQTMOUT]"),
                      proxy.connections_accepted(), pt.payments, secs(kafka_up - started),
                      secs(std::chrono::steady_clock::now() - started)));
}

}  // namespace
}  // namespace orderflow::testing::fault
