// `dlq-tool replay`: re-injects dead letters — original key and value bytes, non-failure headers —
// into their x-original-topic (or --to) with messaging::Producer, in rounds of `batch_size` records.
// By default each round is one Kafka transaction holding its records and the replay group's new
// offsets (send_offsets_to_transaction), so for read_committed readers a round is either entirely
// replayed and consumed or not at all, whenever the tool dies. The transactional.id is the same for
// every run of one replay group: a new run fences a killed one, and the broker aborts the killed run's
// open round before the new run reads the group's offsets. Without transactions (`transactions`
// false) a round is produced idempotently and its offsets committed after the acknowledgements
// (at-least-once). Records filtered out by --filter-error-class are consumed too.
// Not thread-safe (one owner); Kafka failures are counted in the summary or thrown (ScanError,
// ReplayError).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>

#include "orderflow/dlq/dlq_record.h"
#include "orderflow/dlq/topic_scan.h"
#include "orderflow/messaging/producer.h"

namespace orderflow::dlq {

// The replay could not start (e.g. the broker refused to initialise transactions).
class ReplayError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct ReplayOptions {
  std::string to;                          // empty: each record's x-original-topic
  std::optional<std::string> error_class;  // replay only this x-error-class
  std::int64_t limit = 0;                  // replay at most this many (0: no limit)
  bool dry_run = false;                    // print, send nothing, commit nothing
  bool json = false;                       // dry-run lines and the summary as JSON
  bool transactions = true;                // one Kafka transaction per round (see above)
  std::size_t batch_size = 1000;           // records per round
  // Bounds each transactional call (init, send offsets, commit, abort): librdkafka's own default
  // transaction.timeout.ms, after which the broker aborts a transaction anyway.
  std::chrono::milliseconds txn_timeout{std::chrono::seconds(60)};
};

// The transactional.id of every replay of `replay_group`: the group itself when it is one of ours
// (`dlq-tool.…`, the default `dlq-tool.<topic>`), else prefixed with `dlq-tool.` so that a custom
// --replay-group can never be the id of a service instance (`<group>-<instance>`) and fence it.
std::string replay_transactional_id(const std::string& replay_group);

// What to do after a transactional call failed on attempt `attempt` (1-based): librdkafka marks each
// error retriable (call again), abortable (abort the transaction) or fatal (the producer is fenced or
// broken). Retriable errors are tried `max_attempts` times in all, then handled as abortable.
enum class TxnFailureAction { Retry, Abort, Fatal };
TxnFailureAction txn_failure_action(bool retriable, bool abortable, bool fatal, int attempt,
                                    int max_attempts = 3);

// Whether the offsets read back from the group (`committed`, per partition) hold every offset a
// committed transaction sent (`sent`). A broker that accepts offsets in a transaction without storing
// them (librdkafka's mock cluster, kafka-dev-broker) fails this.
bool offsets_stored(const std::map<std::int32_t, std::int64_t>& sent,
                    const std::map<std::int32_t, std::int64_t>& committed);

// What happens to one record, decided from its headers alone.
struct ReplayDecision {
  enum class Kind { Replay, Skip, Unroutable };
  Kind kind = Kind::Skip;
  std::string target;  // Replay: the topic to write to
};
ReplayDecision decide(const DlqRecord& r, const ReplayOptions& options);

struct ReplaySummary {
  std::string topic;
  std::int64_t replayed = 0;    // acknowledged (transactions: committed) (dry run: would be replayed)
  std::int64_t skipped = 0;     // filtered out (consumed unless dry run)
  std::int64_t failed = 0;      // not replayed, not consumed: replayed by the next run
  std::int64_t unroutable = 0;  // no x-original-topic and no --to: its partition stops there
  bool dry_run = false;
  bool interrupted = false;
  bool fenced = false;  // a newer replay of the same group took over (or the producer broke)
  std::string error;    // why the run stopped early (reading, committing, a transaction), or empty
  // "replayed=N skipped=M topic=T" (+ " failed=F", " unroutable=U" when they apply); a dry run says
  // "would_replay=N skipped=M topic=T dry_run=true". Or the same fields as one JSON object.
  [[nodiscard]] std::string line(bool json) const;
  // 0 when every record to replay was replayed and consumed; 1 otherwise; 130 when interrupted.
  [[nodiscard]] int exit_code() const;
};

// Runs a replay of `scan.topic` from the committed offsets of `scan.group_id` (`from_committed` is
// implied). With transactions the producer's transactions are initialised before the scan reads the
// group's offsets, so a previous run's open round is aborted first. Dry-run lines go to `out`. Stops
// early when `stop` is set, a read fails or a round cannot be replayed, after finishing what was
// sent. Throws ConfigError (bad properties), ScanError (topic missing, brokers unreachable) and
// ReplayError (transactions cannot be initialised) before anything is sent.
ReplaySummary replay(ScanOptions scan, const messaging::ProducerOptions& producer_options,
                     const ReplayOptions& options, std::ostream& out, const std::atomic<bool>* stop);

}  // namespace orderflow::dlq
