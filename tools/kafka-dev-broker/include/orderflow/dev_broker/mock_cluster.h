// Owns one librdkafka mock cluster (rd_kafka_mock_cluster_new) and the client handle it needs.
// The cluster runs on its own librdkafka thread; the calls here are thread-safe. Every call that
// goes through the mock's thread is "nudged" (see with_wakeups), because librdkafka 2.0.2's mock
// loses op wake-ups and would otherwise sit in its 1 s poll before serving the call.
// The constructor and the calls throw std::runtime_error when the mock rejects them.
#pragma once

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

namespace orderflow::dev_broker {

class MockCluster {
 public:
  explicit MockCluster(int brokers);
  ~MockCluster();  // ~1 s: librdkafka joins an internal thread that polls at 1 s intervals
  MockCluster(const MockCluster&) = delete;
  MockCluster& operator=(const MockCluster&) = delete;

  rd_kafka_mock_cluster_t* handle() { return cluster_; }
  int broker_count() const { return static_cast<int>(ports_.size()); }
  // "127.0.0.1:P1,127.0.0.1:P2,..." in broker id order (ids are 1..N).
  std::string bootstraps() const { return bootstraps_; }
  std::vector<std::string> broker_addresses() const;
  std::uint16_t broker_port(int32_t id) const { return ports_.at(static_cast<std::size_t>(id - 1)); }

  void create_topic(const std::string& name, int partitions);
  void push_request_errors(int16_t api_key, const std::vector<rd_kafka_resp_err_t>& errors);
  void clear_request_errors(int16_t api_key);
  void set_broker_down(int32_t id);
  void set_broker_up(int32_t id);
  void set_rtt(int32_t broker_id, int rtt_ms);
  void set_partition_leader(const std::string& topic, int32_t partition, int32_t broker_id);

  // Runs `op` (any rd_kafka_mock_* call on handle()) while poking the mock's listeners with
  // throw-away connections, which wakes its thread so the op is served in milliseconds.
  template <typename Op>
  auto with_wakeups(Op&& op) {
    std::atomic<bool> done{false};
    std::thread nudger([this, &done] { nudge_until(done); });
    struct Join {
      std::atomic<bool>& done;
      std::thread& t;
      ~Join() {
        done = true;
        t.join();
      }
    } join{done, nudger};
    return op();
  }

 private:
  void nudge_until(const std::atomic<bool>& done) const;

  rd_kafka_t* rk_ = nullptr;
  rd_kafka_mock_cluster_t* cluster_ = nullptr;
  std::string bootstraps_;
  std::vector<std::uint16_t> ports_;
};

}  // namespace orderflow::dev_broker
