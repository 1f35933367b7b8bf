// Reads retry partitions back for the key-ordering rebuild (KeyGate, rebuild_backlog): each partition
// from a given offset to its end as of the read (the last stable offset under read_committed), with a
// consumer of its own that joins no group and commits nothing. Blocking and bounded; one thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "orderflow/messaging/kafka_config.h"
#include "orderflow/messaging/key_gate.h"

namespace orderflow::messaging {

// `consumer_props`: the stage consumer's properties (bootstrap, security, group.id, isolation level).
// `from`: partition → first offset to read (negative: the partition's beginning). Fills `out` (partition
// → records in offset order) and returns true when every partition was read to its end within `timeout`;
// false with `error` otherwise (`out` then holds what was read).
bool read_backlog(const KafkaProperties& consumer_props, const std::string& topic,
                  const std::map<std::int32_t, std::int64_t>& from, std::chrono::milliseconds timeout,
                  std::map<std::int32_t, std::vector<RetryRecordInfo>>& out, std::string* error);

}  // namespace orderflow::messaging
