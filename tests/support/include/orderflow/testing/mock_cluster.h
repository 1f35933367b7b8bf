// librdkafka's mock cluster inside the test process, for fault injection (request errors, broker
// down/up, round-trip time). Linking orderflow::test_support also links the TCP_NODELAY interposer,
// so round trips take ~1 ms. The injection calls are thread-safe (the cluster has its own thread);
// they throw std::runtime_error when the mock rejects them (e.g. an unknown broker id).
#pragma once

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "orderflow/dev_broker/mock_cluster.h"
#include "orderflow/dev_broker/standard_topics.h"

namespace orderflow::testing {

class MockCluster {
 public:
  explicit MockCluster(int brokers = 1, int partitions = 6,
                       std::vector<std::string> topics = dev_broker::standard_topics());
  ~MockCluster();
  MockCluster(const MockCluster&) = delete;
  MockCluster& operator=(const MockCluster&) = delete;

  std::string bootstrap() const;  // rd_kafka_mock_cluster_bootstraps: "127.0.0.1:P1,..."
  // For rd_kafka_mock_* calls not wrapped here: run them through with_wakeups(), or each may wait
  // up to 1 s for the mock's thread (a lost-wake-up quirk of librdkafka 2.0.2's mock).
  rd_kafka_mock_cluster_t* handle();
  template <typename Op>
  auto with_wakeups(Op&& op) {
    return cluster_->with_wakeups(std::forward<Op>(op));
  }
  // The next requests of `api_key` (RD_KAFKAP_Produce = 0, Fetch = 1, OffsetCommit = 8, ...; see
  // librdkafka's rdkafka_protocol.h) fail with `errors`, in order, whichever broker serves them.
  void push_request_errors(int16_t api_key, std::vector<rd_kafka_resp_err_t> errors);
  void clear_request_errors(int16_t api_key);
  // The same on one broker's own error stack (it takes precedence over the cluster's), whose depth the
  // mock reports: broker_request_errors_left() falling to 0 proves every error was answered to a request.
  void push_broker_request_errors(int32_t broker_id, int16_t api_key,
                                  const std::vector<rd_kafka_resp_err_t>& errors);
  std::size_t broker_request_errors_left(int32_t broker_id, int16_t api_key);
  void broker_down(int32_t id);  // ids are 1..brokers
  void broker_up(int32_t id);
  void set_rtt(int32_t broker_id, int rtt_ms);
  void create_topic(const std::string& name, int partitions);
  void set_partition_leader(const std::string& topic, int32_t partition, int32_t broker_id);

 private:
  std::unique_ptr<dev_broker::MockCluster> cluster_;
};

}  // namespace orderflow::testing
