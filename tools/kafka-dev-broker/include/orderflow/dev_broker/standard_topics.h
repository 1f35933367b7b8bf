// The topics the dev broker (and the in-process test MockCluster) create before anything runs: the pipeline
// topics and the services' retry/dead-letter topics (docs/contract.md §4 Topics). Immutable; thread-safe.
#pragma once

#include <string>
#include <vector>

namespace orderflow::dev_broker {

inline constexpr int kDefaultPartitions = 6;

// What librdkafka 2.0.2's mock cluster gives a topic it auto-creates on produce or subscribe
// (measured; rd_kafka_mock_cluster's default partition count).
inline constexpr int kMockAutoCreatePartitions = 4;

const std::vector<std::string>& standard_topics();

}  // namespace orderflow::dev_broker
