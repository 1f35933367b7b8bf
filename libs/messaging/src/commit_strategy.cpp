#include "orderflow/messaging/commit_strategy.h"

#include <spdlog/spdlog.h>

namespace orderflow::messaging {

AtLeastOnceCommits::AtLeastOnceCommits(CommitPort& port, OffsetTracker& tracker,
                                       std::chrono::milliseconds interval)
    : port_(port), tracker_(tracker), interval_(interval) {}

bool AtLeastOnceCommits::start(Clock::time_point now) {
  next_commit_ = now + interval_;
  return true;
}

void AtLeastOnceCommits::on_timer(Clock::time_point now) {
  if (now < next_commit_) return;
  commit_async();
  next_commit_ = now + interval_;
}

void AtLeastOnceCommits::on_revoking(const std::vector<TopicPartitionKey>& partitions, bool lost) {
  if (lost) return;
  // Finish what is in flight so its offsets can be committed before someone else takes over.
  if (const auto outstanding = port_.drain_outputs(); outstanding > 0) {
    spdlog::warn("rebalance: {} record(s) still unacknowledged; they may be processed twice", outstanding);
  }
  commit_sync(&partitions);
}

void AtLeastOnceCommits::after_drain() {
  commit_sync(nullptr);
}

void AtLeastOnceCommits::async_commit_done(RdKafka::ErrorCode err, const std::vector<CommitOffset>& offsets) {
  const bool ok = err == RdKafka::ERR_NO_ERROR;
  port_.commit_result(ok);
  if (!ok && err != RdKafka::ERR__NO_OFFSET) {
    spdlog::warn("offset commit failed ({}); will retry on the next commit", RdKafka::err2str(err));
    tracker_.commit_failed(offsets);
  }
}

void AtLeastOnceCommits::commit_async() {
  if (!port_.flush_side_effects()) return;
  auto offsets = tracker_.take_committable();
  if (offsets.empty()) return;
  if (port_.commit_offsets(offsets, false) != RdKafka::ERR_NO_ERROR) {
    port_.commit_result(false);
    tracker_.commit_failed(offsets);
  }
}

void AtLeastOnceCommits::commit_sync(const std::vector<TopicPartitionKey>* only) {
  if (!port_.flush_side_effects()) return;
  auto offsets = only ? tracker_.take_committable(*only) : tracker_.take_committable();
  if (offsets.empty()) return;
  const auto err = port_.commit_offsets(offsets, true);
  port_.commit_result(err == RdKafka::ERR_NO_ERROR);
  if (err != RdKafka::ERR_NO_ERROR) {
    spdlog::warn("synchronous commit failed: {} (those records may be re-delivered)", RdKafka::err2str(err));
    tracker_.commit_failed(offsets);
  }
}

TransactionalCommits::TransactionalCommits(CommitPort& port, std::size_t max_records,
                                           std::chrono::milliseconds max_ms)
    : port_(port), max_records_(max_records), max_ms_(max_ms) {}

bool TransactionalCommits::start(Clock::time_point /*now*/) {
  const auto status = port_.init_transactions();
  if (!status.ok()) spdlog::critical("cannot initialise transactions: {}", status.message);
  return status.ok();
}

void TransactionalCommits::begin_record() {
  if (open_) return;
  if (const auto status = port_.begin_transaction(); !status.ok()) {
    spdlog::critical("begin_transaction failed: {}", status.message);
    port_.fail();
    return;
  }
  open_ = true;
  records_ = 0;
  started_ = Clock::now();
}

void TransactionalCommits::end_record(const TopicPartitionKey& partition, std::int64_t next) {
  offsets_[partition] = next;
  ++records_;
}

void TransactionalCommits::after_poll() {
  if (open_ && records_ >= max_records_) commit("batch");
}

void TransactionalCommits::on_timer(Clock::time_point now) {
  if (open_ && now - started_ >= max_ms_) commit("batch");
}

void TransactionalCommits::on_revoking(const std::vector<TopicPartitionKey>& /*partitions*/, bool lost) {
  if (!open_ || port_.failed()) return;
  if (lost) {
    abort_and_rewind("partitions lost");
  } else {
    commit("rebalance");
  }
}

void TransactionalCommits::revoked(const TopicPartitionKey& partition) {
  offsets_.erase(partition);
}

void TransactionalCommits::before_drain() {
  if (open_ && !port_.failed()) commit("shutdown");
}

void TransactionalCommits::commit(const char* why) {
  if (!open_) return;
  if (!port_.flush_side_effects()) {
    abort_and_rewind("the handled records' side effects could not be made durable");
    return;
  }
  std::vector<CommitOffset> offsets;
  offsets.reserve(offsets_.size());
  for (const auto& [tp, next] : offsets_) offsets.push_back(CommitOffset{tp.topic, tp.partition, next});
  const auto status = port_.commit_transaction(offsets);
  if (status.ok()) {
    open_ = false;
    offsets_.clear();
    spdlog::debug("transaction committed ({}, {} records)", why, records_);
    return;
  }
  if (status.kind == TxnStatus::Kind::Fatal) {
    spdlog::critical("transaction failed fatally (fenced by a newer instance?): {}", status.message);
    port_.fail();
    open_ = false;
    return;
  }
  abort_and_rewind(status.message);
}

void TransactionalCommits::abort_and_rewind(const std::string& why) {
  spdlog::warn("aborting transaction: {}", why);
  if (const auto status = port_.abort_transaction(); !status.ok()) {
    spdlog::critical("abort_transaction failed: {}", status.message);
    port_.fail();
  }
  open_ = false;
  offsets_.clear();
  port_.rewind();
}

}  // namespace orderflow::messaging
