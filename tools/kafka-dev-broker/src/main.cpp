// kafka-dev-broker: the embedded local Kafka for development, demos and tests (docs/contract.md §1 Binaries,
// §3 Flags and environment; what it adds to the mock and how it differs from Kafka: docs/dev-broker.md).
#include <fmt/format.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <optional>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include "orderflow/dev_broker/bootstrap_forwarder.h"
#include "orderflow/dev_broker/mock_cluster.h"
#include "orderflow/dev_broker/nodelay_probe.h"
#include "orderflow/dev_broker/options.h"
#include "orderflow/dev_broker/standard_topics.h"
#include "orderflow/dev_broker/watermark_monitor.h"
#include "orderflow/version.h"

namespace {

namespace asio = boost::asio;
namespace db = orderflow::dev_broker;

asio::ip::tcp::endpoint parse_endpoint(const std::string& host_port) {
  const auto colon = host_port.rfind(':');
  if (colon == std::string::npos) {
    throw std::runtime_error(fmt::format("unexpected mock broker address '{}'", host_port));
  }
  const auto port = static_cast<unsigned short>(std::stoi(host_port.substr(colon + 1)));
  return {asio::ip::make_address(host_port.substr(0, colon)), port};
}

int run(const db::Options& options) {
  asio::io_context io;
  // Bind first: a taken port is the most likely failure and should not wait for the cluster.
  std::optional<db::BootstrapForwarder> forwarder;
  try {
    forwarder.emplace(io, options.port);
  } catch (const db::PortUnavailable& e) {
    fmt::print(stderr, "kafka-dev-broker: {} (is another broker running on port {}?)\n", e.what(),
               options.port);
    return 1;
  }

  db::set_fetch_wait_cap(options.fetch_wait_cap);
  db::MockCluster cluster(options.brokers);
  std::string topics_line;
  for (const auto* list : {&db::standard_topics(), &options.extra_topics}) {
    for (const auto& topic : *list) {
      cluster.create_topic(topic, options.partitions);
      topics_line += (topics_line.empty() ? "" : " ") + topic;
    }
  }
  const auto brokers = cluster.broker_addresses();
  forwarder->start(parse_endpoint(brokers.front()));

  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int signo) {
    if (!ec) {
      fmt::print(stderr, "kafka-dev-broker: {}, shutting down\n", signo == SIGINT ? "SIGINT" : "SIGTERM");
      forwarder->stop();
      io.stop();
    }
  });

  std::optional<db::WatermarkMonitor> monitor;
  if (options.watermark_interval.count() > 0) {
    monitor.emplace(cluster.bootstraps(), options.watermark_interval,
                    [](const std::string& topic, int partition, long long low) {
                      fmt::print(stderr,
                                 "kafka-dev-broker: WARNING: {}[{}] low watermark is {}: the mock "
                                 "cluster dropped the oldest records of this partition (it keeps "
                                 "about 5 MiB per partition); use more --partitions\n",
                                 topic, partition, low);
                      std::fflush(stderr);
                    });
  }

  // Proves the accept() interposer is active (without it every round trip may stall ~40 ms).
  const auto nodelay =
      db::mock_sockets_have_nodelay(parse_endpoint(brokers.front()).port(), std::chrono::seconds(2));
  std::string broker_list;
  for (std::size_t i = 0; i < brokers.size(); ++i) {
    broker_list += fmt::format("{}{}={}", i == 0 ? "" : " ", i + 1, brokers[i]);
  }
  fmt::print(
      stderr,
      "kafka-dev-broker {}: mock brokers {}; bootstrap 127.0.0.1:{}{} -> broker 1; "
      "tcp_nodelay={}; fetch wait cap {}; topics ({} partitions each, others auto-created with {}): {}\n",
      ORDERFLOW_VERSION, broker_list, forwarder->port(),
      forwarder->listens_on_ipv6() ? fmt::format(" and [::1]:{}", forwarder->port()) : "",
      nodelay ? (*nodelay ? "on" : "off") : "unknown",
      options.fetch_wait_cap.count() > 0 ? fmt::format("{} ms", options.fetch_wait_cap.count()) : "off",
      options.partitions, db::kMockAutoCreatePartitions, topics_line);
  std::fflush(stderr);
  fmt::print("ready bootstrap=localhost:{}\n", forwarder->port());
  std::fflush(stdout);

  io.run();
  monitor.reset();
  // Everything is in memory and the kernel closes every socket at exit, so the mock cluster is not
  // torn down: rd_kafka_mock_cluster_destroy takes ~1 s in librdkafka 2.0.2 (it joins an internal
  // thread that polls at 1 s intervals), which would slow every `make down` and test teardown.
  // _Exit, not exit: librdkafka's threads are still running and must not race static destructors.
  fmt::print(stderr, "kafka-dev-broker: stopped\n");
  std::fflush(stdout);
  std::fflush(stderr);
  std::_Exit(0);
}

}  // namespace

int main(int argc, char** argv) {
  const auto parsed = db::parse_options(argc, argv);
  if (!parsed.options) {
    std::fputs(parsed.out.c_str(), stdout);
    std::fputs(parsed.err.c_str(), stderr);
    return parsed.exit_code;
  }
  try {
    return run(*parsed.options);
  } catch (const std::exception& e) {
    fmt::print(stderr, "kafka-dev-broker: {}\n", e.what());
    return 1;
  }
}
