// The broker an integration test runs against, chosen by ORDERFLOW_TEST_BROKER:
//   mock (default) — a DevBroker (kafka-dev-broker on an ephemeral port) owned by this object;
//   real           — an already running Apache Kafka whose bootstrap address is the content of the
//                    file named by $ORDERFLOW_KAFKA_BOOTSTRAP_FILE (written by the kafka CTest
//                    fixture).
// The constructor throws std::runtime_error with a clear message when the broker is not available.
// Not thread-safe (one owner).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "orderflow/testing/dev_broker.h"

namespace orderflow::testing {

class TestBroker {
 public:
  // `partitions` applies to the mock's pre-created topics; a real broker's topics are its
  // fixture's.
  explicit TestBroker(int partitions = 6);
  ~TestBroker();
  TestBroker(const TestBroker&) = delete;
  TestBroker& operator=(const TestBroker&) = delete;

  std::string bootstrap() const { return bootstrap_; }
  bool is_real() const { return !dev_; }
  // A random suffix fixed per instance, e.g. for group ids: "payment-service-" + unique_suffix().
  std::string unique_suffix() const { return suffix_; }
  // The topic name to use for `name`: unchanged on both brokers today (the standard topics are
  // shared by design); kept as the one place to change if real-broker tests ever need isolation.
  std::string topic(std::string_view name) const { return std::string(name); }
  DevBroker* dev_broker() { return dev_.get(); }  // nullptr on the real broker

 private:
  std::unique_ptr<DevBroker> dev_;
  std::string bootstrap_;
  std::string suffix_;
};

}  // namespace orderflow::testing
