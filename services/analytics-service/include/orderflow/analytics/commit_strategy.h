// How analytics-service commits what it consumed, behind one interface the poll loop calls at fixed points:
//   AtLeastOnceCommits  the committable offsets are committed every --commit-interval-ms (asynchronously),
//                       synchronously on a revoke and at a clean stop; a record not delivered stops the
//                       service (exit 1; the next run re-reads the uncommitted input);
//   ExactlyOnceCommits  the closed windows, the dead letters and the committable offsets of a commit
//                       period form one Kafka transaction, opened by the first record produced in it; an
//                       abort makes the service rebuild its state as a start does.
// Both commit only committable_offsets(): never past a record of an unpublished window, nor past a row
// ClickHouse has not acknowledged. The strategies reach the clients and the service only through
// CommitPort, so their decisions are tested without a broker (messaging/commit_strategy.h is the stage
// runner's counterpart; its strategies track per-record completions, which a window does not have).
// Not thread-safe: the service thread only.
#pragma once

#include <string>
#include <vector>

#include "orderflow/analytics/clickhouse_sink.h"
#include "orderflow/analytics/window.h"
#include "orderflow/messaging/commit_strategy.h"
#include "orderflow/messaging/offset_tracker.h"

namespace orderflow::analytics {

// Per partition, the next offset that may be committed: the window rule (WindowAggregator::committable),
// lowered to the sink's oldest held row of that partition when there is a sink.
[[nodiscard]] std::vector<messaging::CommitOffset> committable_offsets(const WindowAggregator& windows,
                                                                       const ClickHouseSink* sink);

// What a strategy needs of the clients and of the service.
class CommitPort {
 public:
  virtual ~CommitPort() = default;
  [[nodiscard]] virtual std::vector<messaging::CommitOffset> committable() = 0;
  virtual void commit_result(bool ok) = 0;  // the commit metric

  // At-least-once: commits on the consumer; true when the commit (or, async, its enqueueing) succeeded.
  virtual bool commit_offsets(const std::vector<messaging::CommitOffset>& offsets, bool sync) = 0;

  // Exactly-once.
  // Waits for the completion of every produced record; false when some are still outstanding.
  virtual bool flush() = 0;
  // Whether a produced record was not delivered (since the last abort).
  [[nodiscard]] virtual bool delivery_failed() const = 0;
  virtual messaging::TxnStatus init_transactions() = 0;
  virtual messaging::TxnStatus begin_transaction() = 0;
  // Sends `offsets` (the next offsets to read) to the open transaction when there are any, then commits it.
  virtual messaging::TxnStatus commit_transaction(const std::vector<messaging::CommitOffset>& offsets) = 0;
  // Aborts the open transaction (when `open`), then serves the completions of its purged records, which
  // change nothing.
  virtual messaging::TxnStatus abort_transaction(bool open) = 0;
  // After an abort: the windows in flight, the refused rows waiting for a dead letter and the delivery
  // failure are forgotten, and the service rebuilds at its next loop turn (as a start does).
  virtual void rebuild() = 0;
};

class CommitStrategy {
 public:
  virtual ~CommitStrategy() = default;
  // Before the published windows are read; false: the service cannot run (exit 1).
  virtual bool start() { return true; }
  // Before a window or a dead letter is produced; false: stop (exit 1).
  virtual bool before_produce() { return true; }
  // Every --commit-interval-ms; false: stop (exit 1).
  virtual bool period() = 0;
  // Partitions are about to be revoked (`lost`: they already belong to another member); `offsets` are the
  // committable offsets once the records in flight were acknowledged.
  virtual void revoking(const std::vector<messaging::CommitOffset>& offsets, bool lost) = 0;
  // A produced record was not delivered. False: stop (exit 1); true: go on (what it belonged to is rebuilt).
  virtual bool delivery_failed() = 0;
  // The service rebuilt its state after an abort.
  virtual void rebuilt() {}
  // Stopping; `clean`: no error stopped the loop and nothing awaits a rebuild, so what is complete may be
  // committed. False: exit 1.
  virtual bool finish(bool clean) = 0;
  // Whether the producer is fenced or broken (the service stops, exit 1).
  [[nodiscard]] virtual bool fatal() const { return false; }
};

class AtLeastOnceCommits final : public CommitStrategy {
 public:
  explicit AtLeastOnceCommits(CommitPort& port) : port_(port) {}

  bool period() override;
  void revoking(const std::vector<messaging::CommitOffset>& offsets, bool lost) override;
  bool delivery_failed() override { return false; }
  bool finish(bool clean) override;

 private:
  CommitPort& port_;
};

class ExactlyOnceCommits final : public CommitStrategy {
 public:
  ExactlyOnceCommits(CommitPort& port, std::string transactional_id)
      : port_(port), transactional_id_(std::move(transactional_id)) {}

  // Fences an earlier run of the transactional.id: the broker aborts its open transaction, so the
  // committed windows read next are final.
  bool start() override;
  // Opens the transaction the record joins, unless one is open.
  bool before_produce() override;
  bool period() override { return commit("period"); }
  void revoking(const std::vector<messaging::CommitOffset>& offsets, bool lost) override;
  bool delivery_failed() override;
  void rebuilt() override { committed_.clear(); }
  bool finish(bool clean) override;
  [[nodiscard]] bool fatal() const override { return fatal_; }

  [[nodiscard]] bool open() const { return open_; }

 private:
  // Commits the open transaction (or one with the offsets only, when they moved) with the committable
  // offsets, once every record of it was acknowledged. False when the service must stop.
  bool commit(const char* why);
  // Drops every record of the transaction and has the service rebuild.
  void abort(const std::string& why);

  CommitPort& port_;
  std::string transactional_id_;
  bool open_ = false;
  bool fatal_ = false;
  // The offsets committed by the last transaction: a period without progress commits nothing.
  std::vector<messaging::CommitOffset> committed_;
};

}  // namespace orderflow::analytics
