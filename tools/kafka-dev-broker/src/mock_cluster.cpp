#include "orderflow/dev_broker/mock_cluster.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <sstream>
#include <stdexcept>

namespace orderflow::dev_broker {

namespace {

void check(rd_kafka_resp_err_t err, std::string_view what) {
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    throw std::runtime_error(fmt::format("mock cluster: {}: {}", what, rd_kafka_err2str(err)));
  }
}

// A connection that is opened and closed at once: enough to make the mock's poll() return.
void poke(std::uint16_t port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return;
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  (void)connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
  close(fd);
}

}  // namespace

MockCluster::MockCluster(int brokers) {
  std::array<char, 512> errstr{};
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  // The handle only hosts the mock cluster's thread; keep its own logging to real problems.
  if (rd_kafka_conf_set(conf, "log_level", "4", errstr.data(), errstr.size()) != RD_KAFKA_CONF_OK ||
      rd_kafka_conf_set(conf, "client.id", "kafka-dev-broker", errstr.data(), errstr.size()) !=
          RD_KAFKA_CONF_OK) {
    rd_kafka_conf_destroy(conf);
    throw std::runtime_error(fmt::format("mock cluster: configuration: {}", errstr.data()));
  }
  rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr.data(), errstr.size());
  if (rk_ == nullptr) {
    rd_kafka_conf_destroy(conf);
    throw std::runtime_error(fmt::format("mock cluster: rd_kafka_new: {}", errstr.data()));
  }
  cluster_ = rd_kafka_mock_cluster_new(rk_, brokers);
  if (cluster_ == nullptr) {
    rd_kafka_destroy(rk_);
    throw std::runtime_error(fmt::format("mock cluster: could not create {} brokers", brokers));
  }
  bootstraps_ = rd_kafka_mock_cluster_bootstraps(cluster_);
  for (const auto& address : broker_addresses()) {
    ports_.push_back(static_cast<std::uint16_t>(std::stoi(address.substr(address.rfind(':') + 1))));
  }
}

MockCluster::~MockCluster() {
  // Takes about 1 s with librdkafka 2.0.2: the mock joins an internal broker thread that only
  // notices termination at its next 1 s poll; nothing outside librdkafka can wake it.
  with_wakeups([this] {
    rd_kafka_mock_cluster_destroy(cluster_);
    return 0;
  });
  rd_kafka_destroy(rk_);
}

std::vector<std::string> MockCluster::broker_addresses() const {
  std::vector<std::string> out;
  std::istringstream in(bootstraps_);
  for (std::string item; std::getline(in, item, ',');) {
    if (!item.empty()) {
      out.push_back(item);
    }
  }
  return out;
}

void MockCluster::nudge_until(const std::atomic<bool>& done) const {
  // Most ops are served at once; only poke when one has waited a little.
  constexpr auto kPatience = std::chrono::milliseconds(2);
  constexpr auto kInterval = std::chrono::milliseconds(5);
  std::this_thread::sleep_for(kPatience);
  while (!done) {
    for (const auto port : ports_) {
      poke(port);  // every broker: a broker that is down does not poll its listener
    }
    std::this_thread::sleep_for(kInterval);
  }
}

void MockCluster::create_topic(const std::string& name, int partitions) {
  // The mock only uses the replication factor to pick followers; keep it valid.
  const int replication = broker_count() < 3 ? broker_count() : 3;
  check(with_wakeups(
            [&] { return rd_kafka_mock_topic_create(cluster_, name.c_str(), partitions, replication); }),
        fmt::format("create topic '{}'", name));
}

// The error stacks are guarded by a mutex, not served by the mock's thread: no wake-ups needed.
void MockCluster::push_request_errors(int16_t api_key, const std::vector<rd_kafka_resp_err_t>& errors) {
  rd_kafka_mock_push_request_errors_array(cluster_, api_key, errors.size(), errors.data());
}

void MockCluster::clear_request_errors(int16_t api_key) {
  rd_kafka_mock_clear_request_errors(cluster_, api_key);
}

void MockCluster::set_broker_down(int32_t id) {
  check(with_wakeups([&] { return rd_kafka_mock_broker_set_down(cluster_, id); }),
        fmt::format("broker {} down", id));
}

void MockCluster::set_broker_up(int32_t id) {
  check(with_wakeups([&] { return rd_kafka_mock_broker_set_up(cluster_, id); }),
        fmt::format("broker {} up", id));
}

void MockCluster::set_rtt(int32_t broker_id, int rtt_ms) {
  check(with_wakeups([&] { return rd_kafka_mock_broker_set_rtt(cluster_, broker_id, rtt_ms); }),
        fmt::format("broker {} rtt", broker_id));
}

void MockCluster::set_partition_leader(const std::string& topic, int32_t partition, int32_t broker_id) {
  check(with_wakeups([&] {
          return rd_kafka_mock_partition_set_leader(cluster_, topic.c_str(), partition, broker_id);
        }),
        fmt::format("leader of {}[{}]", topic, partition));
}

}  // namespace orderflow::dev_broker
