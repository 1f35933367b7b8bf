#include "orderflow/testing/mock_cluster.h"

#include <fmt/format.h>

#include <stdexcept>

namespace orderflow::testing {

MockCluster::MockCluster(int brokers, int partitions, std::vector<std::string> topics)
    : cluster_(std::make_unique<dev_broker::MockCluster>(brokers)) {
  for (const auto& t : topics) {
    cluster_->create_topic(t, partitions);
  }
}

MockCluster::~MockCluster() = default;

std::string MockCluster::bootstrap() const {
  return cluster_->bootstraps();
}

rd_kafka_mock_cluster_t* MockCluster::handle() {
  return cluster_->handle();
}

void MockCluster::push_request_errors(int16_t api_key, std::vector<rd_kafka_resp_err_t> errors) {
  cluster_->push_request_errors(api_key, errors);
}

void MockCluster::clear_request_errors(int16_t api_key) {
  cluster_->clear_request_errors(api_key);
}

namespace {
void check(rd_kafka_resp_err_t err, const std::string& what) {
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    throw std::runtime_error(fmt::format("mock cluster: {}: {}", what, rd_kafka_err2str(err)));
  }
}
}  // namespace

void MockCluster::push_broker_request_errors(int32_t broker_id, int16_t api_key,
                                             const std::vector<rd_kafka_resp_err_t>& errors) {
  for (const auto err : errors) {  // the call is variadic: one (error, rtt) pair at a time
    check(cluster_->with_wakeups([&] {
      return rd_kafka_mock_broker_push_request_error_rtts(handle(), broker_id, api_key, 1, err, 0);
    }),
          fmt::format("push error on broker {} api {}", broker_id, api_key));
  }
}

std::size_t MockCluster::broker_request_errors_left(int32_t broker_id, int16_t api_key) {
  std::size_t left = 0;
  check(cluster_->with_wakeups(
            [&] { return rd_kafka_mock_broker_error_stack_cnt(handle(), broker_id, api_key, &left); }),
        fmt::format("error stack of broker {} api {}", broker_id, api_key));
  return left;
}

void MockCluster::broker_down(int32_t id) {
  cluster_->set_broker_down(id);
}

void MockCluster::broker_up(int32_t id) {
  cluster_->set_broker_up(id);
}

void MockCluster::set_rtt(int32_t broker_id, int rtt_ms) {
  cluster_->set_rtt(broker_id, rtt_ms);
}

void MockCluster::create_topic(const std::string& name, int partitions) {
  cluster_->create_topic(name, partitions);
}

void MockCluster::set_partition_leader(const std::string& topic, int32_t partition, int32_t broker_id) {
  cluster_->set_partition_leader(topic, partition, broker_id);
}

}  // namespace orderflow::testing
