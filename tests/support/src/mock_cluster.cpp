#include "orderflow/testing/mock_cluster.h"

namespace orderflow::testing {

MockCluster::MockCluster(int brokers, int partitions, std::vector<std::string> topics)
    : cluster_(std::make_unique<dev_broker::MockCluster>(brokers)) {
  for (const auto& t : topics) {
    cluster_->create_topic(t, partitions);
  }
}

MockCluster::~MockCluster() = default;

std::string MockCluster::bootstrap() const { return cluster_->bootstraps(); }

rd_kafka_mock_cluster_t* MockCluster::handle() { return cluster_->handle(); }

void MockCluster::push_request_errors(int16_t api_key, std::vector<rd_kafka_resp_err_t> errors) {
  cluster_->push_request_errors(api_key, errors);
}

void MockCluster::clear_request_errors(int16_t api_key) { cluster_->clear_request_errors(api_key); }

void MockCluster::broker_down(int32_t id) { cluster_->set_broker_down(id); }

void MockCluster::broker_up(int32_t id) { cluster_->set_broker_up(id); }

void MockCluster::set_rtt(int32_t broker_id, int rtt_ms) { cluster_->set_rtt(broker_id, rtt_ms); }

void MockCluster::create_topic(const std::string& name, int partitions) {
  cluster_->create_topic(name, partitions);
}

void MockCluster::set_partition_leader(const std::string& topic, int32_t partition,
                                       int32_t broker_id) {
  cluster_->set_partition_leader(topic, partition, broker_id);
}

}  // namespace orderflow::testing
