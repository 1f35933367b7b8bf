// `dlq-tool replay`: re-injects dead letters — original key and value bytes, non-failure headers —
// into their x-original-topic (or --to) with the idempotent messaging::Producer, and commits the
// group's progress only after the replayed records were acknowledged, so a second replay sends nothing
// new. Records filtered out by --filter-error-class are committed too: a filtered replay consumes them.
// Not thread-safe (one owner); Kafka failures are counted in the summary or thrown as ScanError.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>

#include "orderflow/dlq/dlq_record.h"
#include "orderflow/dlq/topic_scan.h"
#include "orderflow/messaging/producer.h"

namespace orderflow::dlq {

struct ReplayOptions {
  std::string to;                          // empty: each record's x-original-topic
  std::optional<std::string> error_class;  // replay only this x-error-class
  std::int64_t limit = 0;                  // replay at most this many (0: no limit)
  bool dry_run = false;                    // print, send nothing, commit nothing
  bool json = false;                       // dry-run lines and the summary as JSON
  std::size_t batch_size = 1000;           // records per produce → acknowledge → commit round
};

// What happens to one record, decided from its headers alone.
struct ReplayDecision {
  enum class Kind { Replay, Skip, Unroutable };
  Kind kind = Kind::Skip;
  std::string target;  // Replay: the topic to write to
};
ReplayDecision decide(const DlqRecord& r, const ReplayOptions& options);

struct ReplaySummary {
  std::string topic;
  std::int64_t replayed = 0;    // acknowledged by the broker (dry run: would be replayed)
  std::int64_t skipped = 0;     // filtered out (committed as consumed unless dry run)
  std::int64_t failed = 0;      // not acknowledged: not committed, replayed again by the next run
  std::int64_t unroutable = 0;  // no x-original-topic and no --to: its partition stops there
  bool dry_run = false;
  bool interrupted = false;
  std::string error;  // why the run stopped early (reading or committing failed), or empty
  // "replayed=N skipped=M topic=T" (+ " failed=F", " unroutable=U" when they apply); a dry run says
  // "would_replay=N skipped=M topic=T dry_run=true". Or the same fields as one JSON object.
  [[nodiscard]] std::string line(bool json) const;
  // 0 when every record to replay was acknowledged and committed; 1 otherwise; 130 when interrupted.
  [[nodiscard]] int exit_code() const;
};

// Runs a replay over `scan` (created with from_committed). `producer` may be null for a dry run.
// Dry-run lines go to `out`. Stops early when `stop` is set or reading fails, after committing what
// was acknowledged. Throws only what the Producer constructor throws (ConfigError).
ReplaySummary replay(TopicScan& scan, const messaging::ProducerOptions& producer_options,
                     const ReplayOptions& options, std::ostream& out, const std::atomic<bool>* stop);

}  // namespace orderflow::dlq
