// KafkaProxy with a real librdkafka client and the in-process mock cluster. The mock's brokers advertise
// their own addresses, so only the bootstrap connection (ApiVersions, Metadata) runs through the proxy:
// a client that bootstraps through it must work, and one whose first Metadata response is swallowed
// must never see that response (it times the request out after socket.timeout.ms) yet understand every
// later one. Produce responses lost through the proxy are covered on a real broker by
// fault_lost_response_test_kafka.
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>

#include <chrono>
#include <mutex>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "orderflow/testing/kafka_proxy.h"
#include "orderflow/testing/mock_cluster.h"
#include "orderflow/testing/wait.h"

namespace orderflow::testing {
namespace {

using namespace std::chrono_literals;

// The mock's first broker port, from "127.0.0.1:P1,127.0.0.1:P2,...".
int first_port(const std::string& bootstrap) {
  const auto colon = bootstrap.find(':');
  return std::stoi(bootstrap.substr(colon + 1, bootstrap.find(',') - colon - 1));
}

// A librdkafka producer that keeps its delivery report and its log lines.
class Producer {
 public:
  Producer(const std::string& bootstrap, int socket_timeout_ms) {
    char err[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    for (const auto& [k, v] : {std::pair<std::string, std::string>{"bootstrap.servers", bootstrap},
                               {"socket.timeout.ms", std::to_string(socket_timeout_ms)},
                               {"enable.idempotence", "true"}}) {
      EXPECT_EQ(rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof err), RD_KAFKA_CONF_OK) << err;
    }
    rd_kafka_conf_set_opaque(conf, this);
    rd_kafka_conf_set_dr_msg_cb(conf, [](rd_kafka_t*, const rd_kafka_message_t* m, void* self) {
      static_cast<Producer*>(self)->delivered_.push_back(m->err);
    });
    rd_kafka_conf_set_log_cb(conf, [](const rd_kafka_t* rk, int, const char*, const char* line) {
      auto* self = static_cast<Producer*>(rd_kafka_opaque(rk));
      std::lock_guard lock(self->mu_);
      self->log_ += std::string(line) + "\n";
    });
    rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (rk_ == nullptr) throw std::runtime_error(err);
  }
  ~Producer() { rd_kafka_destroy(rk_); }
  Producer(const Producer&) = delete;
  Producer& operator=(const Producer&) = delete;

  // Produces one record to `orders` and flushes; returns the delivery results so far.
  std::vector<rd_kafka_resp_err_t> produce_and_flush() {
    std::string value = "through the proxy";
    rd_kafka_topic_t* topic = rd_kafka_topic_new(rk_, "orders", nullptr);
    EXPECT_EQ(rd_kafka_produce(topic, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY, value.data(), value.size(),
                               nullptr, 0, nullptr),
              0);
    rd_kafka_topic_destroy(topic);
    EXPECT_EQ(rd_kafka_flush(rk_, 30000), RD_KAFKA_RESP_ERR_NO_ERROR);
    return delivered_;
  }
  // Serves callbacks until the client has logged `needle` or the timeout.
  bool wait_for_log(const std::string& needle, std::chrono::milliseconds timeout) {
    return wait_until(
        [&] {
          rd_kafka_poll(rk_, 50);
          std::lock_guard lock(mu_);
          return log_.find(needle) != std::string::npos;
        },
        timeout);
  }
  std::string log() const {
    std::lock_guard lock(mu_);
    return log_;
  }

 private:
  rd_kafka_t* rk_ = nullptr;
  std::vector<rd_kafka_resp_err_t> delivered_;  // served on the polling thread
  mutable std::mutex mu_;
  std::string log_;  // written by librdkafka's threads
};

std::vector<rd_kafka_resp_err_t> delivered_once() {
  return {RD_KAFKA_RESP_ERR_NO_ERROR};
}

TEST(KafkaProxyClient, ALibrdkafkaProducerBootstrapsThroughTheProxy) {
  MockCluster cluster;
  KafkaProxy proxy(first_port(cluster.bootstrap()));
  Producer producer("127.0.0.1:" + std::to_string(proxy.port()), 60000);
  EXPECT_EQ(producer.produce_and_flush(), delivered_once()) << producer.log();
  EXPECT_EQ(proxy.connections_accepted(), 1);
  EXPECT_GE(proxy.responses_forwarded(), 2) << "ApiVersions and Metadata at least";
  EXPECT_EQ(proxy.responses_dropped(), 0);
}

TEST(KafkaProxyClient, ASwallowedMetadataResponseTimesOutInTheClientAndTheStreamStaysInStep) {
  MockCluster cluster;
  KafkaProxy proxy(first_port(cluster.bootstrap()));
  proxy.drop_responses(KafkaProxy::kMetadata, 1);
  Producer producer("127.0.0.1:" + std::to_string(proxy.port()), 2000);
  // librdkafka asks again (on the same connection) while the first request waits: the answers after the
  // swallowed one must still parse, or the client would drop the connection at once.
  EXPECT_EQ(producer.produce_and_flush(), delivered_once()) << producer.log();
  EXPECT_EQ(proxy.responses_dropped(), 1);
  EXPECT_EQ(proxy.pending_drops(), 0);
  EXPECT_TRUE(producer.wait_for_log("Timed out MetadataRequest in flight", 10s))
      << "the client never timed out the request whose response was swallowed:\n"
      << producer.log();
}

}  // namespace
}  // namespace orderflow::testing
