// Writes test input: an idempotent producer (acks=all) per call, flushed before returning.
// Throws std::runtime_error if any record is not acknowledged (the message names the first
// failure).
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace orderflow::testing {

// Every record carries the same `headers`. A nullopt key produces a null key (partitioned by the
// producer's default partitioner); `partition` >= 0 forces a partition for every record.
void produce(const std::string& bootstrap, const std::string& topic,
             const std::vector<std::pair<std::optional<std::string>, std::string>>& records,
             const std::vector<std::pair<std::string, std::string>>& headers = {});

void produce_to_partition(const std::string& bootstrap, const std::string& topic, int32_t partition,
                          const std::vector<std::pair<std::optional<std::string>, std::string>>& records,
                          const std::vector<std::pair<std::string, std::string>>& headers = {});

}  // namespace orderflow::testing
