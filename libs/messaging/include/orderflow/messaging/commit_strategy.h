// When and how the stage commits what it consumed (docs/design.md "The stage loop", "Exactly-once"):
//   AtLeastOnceCommits   input offsets committed every --commit-interval-ms, as far as every record before
//                        them is completed (OffsetTracker), synchronously on revoke and at shutdown;
//   TransactionalCommits a Kafka transaction per batch (--txn-max-records / --txn-max-ms) carrying the
//                        input offsets; an abort rewinds the input to the group's committed offsets.
// StageRunner calls the strategy at fixed points of its loop and rebalance callbacks; the strategy reaches
// the clients and the stage only through CommitPort, so that its decisions are tested without a broker.
// Not thread-safe: the stage thread only.
#pragma once

#include <librdkafka/rdkafkacpp.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "orderflow/messaging/offset_tracker.h"

namespace orderflow::messaging {

// How a transactional call went.
struct TxnStatus {
  enum class Kind { Ok, Failed, Fatal };  // Failed: abort the transaction; Fatal: fenced or broken, stop
  Kind kind = Kind::Ok;
  std::string message;
  [[nodiscard]] bool ok() const { return kind == Kind::Ok; }
};

// What a commit strategy needs of the stage's clients and of the stage itself.
class CommitPort {
 public:
  virtual ~CommitPort() = default;
  // The handler's before_commit: false when the side effects could not be made durable (the stage is then
  // stopping with exit code 1).
  virtual bool flush_side_effects() = 0;
  // Stops the stage with exit code 1.
  virtual void fail() = 0;
  // Whether the stage is stopping on an error (nothing more may be committed).
  [[nodiscard]] virtual bool failed() const = 0;

  // At-least-once.
  virtual RdKafka::ErrorCode commit_offsets(const std::vector<CommitOffset>& offsets, bool sync) = 0;
  virtual void commit_result(bool ok) = 0;  // the commit metric
  // Waits up to the drain timeout for every output to be acknowledged; how many are not.
  virtual std::size_t drain_outputs() = 0;

  // Exactly-once.
  virtual TxnStatus init_transactions() = 0;
  virtual TxnStatus begin_transaction() = 0;
  // Sends `offsets` (the next offsets to read) to the transaction when there are any, then commits it.
  virtual TxnStatus commit_transaction(const std::vector<CommitOffset>& offsets) = 0;
  virtual TxnStatus abort_transaction() = 0;
  // After an abort: every assigned partition is read again from the group's committed offsets, with the
  // stage's bookkeeping and the handler's state reset.
  virtual void rewind() = 0;
};

class CommitStrategy {
 public:
  using Clock = std::chrono::steady_clock;
  virtual ~CommitStrategy() = default;

  // Before consuming starts; false: the stage cannot run (exit code 1).
  virtual bool start(Clock::time_point now) = 0;
  // A record is about to be processed.
  virtual void begin_record() {}
  // A record of `partition` was processed (its outputs enqueued); `next` is the offset after it.
  virtual void end_record(const TopicPartitionKey& /*partition*/, std::int64_t /*next*/) {}
  // Whether work is open that the loop should finish soon (short polls).
  [[nodiscard]] virtual bool busy() const { return false; }
  // After every poll.
  virtual void after_poll() {}
  // On the loop's timer checks (after an idle poll and every few records).
  virtual void on_timer(Clock::time_point now) = 0;
  // Partitions are about to be revoked (`lost`: they already belong to another member).
  virtual void on_revoking(const std::vector<TopicPartitionKey>& partitions, bool lost) = 0;
  // One of them is gone.
  virtual void revoked(const TopicPartitionKey& /*partition*/) {}
  // Stopping: before the producer's final flush, and after it.
  virtual void before_drain() {}
  virtual void after_drain() {}
  // The result of an asynchronous commit, reported by the consumer.
  virtual void async_commit_done(RdKafka::ErrorCode /*err*/, const std::vector<CommitOffset>& /*offsets*/) {}
};

class AtLeastOnceCommits final : public CommitStrategy {
 public:
  AtLeastOnceCommits(CommitPort& port, OffsetTracker& tracker, std::chrono::milliseconds interval);

  bool start(Clock::time_point now) override;
  void on_timer(Clock::time_point now) override;
  void on_revoking(const std::vector<TopicPartitionKey>& partitions, bool lost) override;
  void after_drain() override;
  void async_commit_done(RdKafka::ErrorCode err, const std::vector<CommitOffset>& offsets) override;

 private:
  void commit_async();
  void commit_sync(const std::vector<TopicPartitionKey>* only);

  CommitPort& port_;
  OffsetTracker& tracker_;
  std::chrono::milliseconds interval_;
  Clock::time_point next_commit_;
};

class TransactionalCommits final : public CommitStrategy {
 public:
  TransactionalCommits(CommitPort& port, std::size_t max_records, std::chrono::milliseconds max_ms);

  bool start(Clock::time_point now) override;
  void begin_record() override;
  void end_record(const TopicPartitionKey& partition, std::int64_t next) override;
  [[nodiscard]] bool busy() const override { return open_; }
  void after_poll() override;
  void on_timer(Clock::time_point now) override;
  void on_revoking(const std::vector<TopicPartitionKey>& partitions, bool lost) override;
  void revoked(const TopicPartitionKey& partition) override;
  void before_drain() override;

  // Records in the open transaction (0 when none is open).
  [[nodiscard]] std::size_t records() const { return open_ ? records_ : 0; }

 private:
  void commit(const char* why);
  void abort_and_rewind(const std::string& why);

  CommitPort& port_;
  std::size_t max_records_;
  std::chrono::milliseconds max_ms_;
  bool open_ = false;
  std::size_t records_ = 0;
  Clock::time_point started_;
  std::unordered_map<TopicPartitionKey, std::int64_t, TopicPartitionKeyHash> offsets_;
};

}  // namespace orderflow::messaging
