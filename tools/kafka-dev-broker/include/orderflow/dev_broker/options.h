// Command line of kafka-dev-broker, parsed and validated once (Boost.program_options).
// parse_options never throws: a bad flag becomes exit code 2 with a one-line message naming it.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "orderflow/dev_broker/fetch_wait_cap.h"
#include "orderflow/dev_broker/standard_topics.h"

namespace orderflow::dev_broker {

struct Options {
  std::uint16_t port = 9092;  // 0 = an ephemeral port (the ready line shows it)
  int brokers = 1;
  int partitions = kDefaultPartitions;                 // for the standard topics and every --topic
  std::vector<std::string> extra_topics;               // --topic, in order, without duplicates
  std::chrono::milliseconds watermark_interval{2000};  // 0 = no retention check
  std::chrono::milliseconds fetch_wait_cap = kDefaultFetchWaitCap;  // 0 = clients' MaxWaitMs as sent
};

struct ParseOutcome {
  std::optional<Options> options;  // set: run the broker; unset: exit with exit_code
  int exit_code = 0;
  std::string out;  // for stdout (--help, --version)
  std::string err;  // for stderr (one line naming the bad flag)
};

ParseOutcome parse_options(int argc, const char* const argv[]);

}  // namespace orderflow::dev_broker
