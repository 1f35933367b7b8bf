#include "orderflow/analytics/commit_strategy.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace orderflow::analytics {

std::vector<messaging::CommitOffset> committable_offsets(const WindowAggregator& windows,
                                                         const ClickHouseSink* sink) {
  auto offsets = windows.committable();
  if (sink) {
    for (auto& o : offsets) {
      if (const auto held = sink->min_pending({o.topic, o.partition})) o.offset = std::min(o.offset, *held);
    }
  }
  return offsets;
}

bool AtLeastOnceCommits::period() {
  if (const auto offsets = port_.committable(); !offsets.empty()) port_.commit_offsets(offsets, false);
  return true;
}

void AtLeastOnceCommits::revoking(const std::vector<messaging::CommitOffset>& offsets, bool lost) {
  if (!lost && !offsets.empty()) port_.commit_result(port_.commit_offsets(offsets, true));
}

bool AtLeastOnceCommits::finish(bool clean) {
  if (!clean) return true;
  if (const auto offsets = port_.committable(); !offsets.empty()) {
    port_.commit_result(port_.commit_offsets(offsets, true));
  }
  return true;
}

bool ExactlyOnceCommits::start() {
  if (const auto status = port_.init_transactions(); !status.ok()) {
    spdlog::critical("cannot initialise transactions ({}): {}", transactional_id_, status.message);
    return false;
  }
  spdlog::info("exactly-once: transactional.id {}", transactional_id_);
  return true;
}

bool ExactlyOnceCommits::before_produce() {
  if (open_) return true;
  if (const auto status = port_.begin_transaction(); !status.ok()) {
    spdlog::critical("begin_transaction failed: {}", status.message);
    return false;
  }
  open_ = true;
  return true;
}

void ExactlyOnceCommits::revoking(const std::vector<messaging::CommitOffset>& /*offsets*/, bool lost) {
  if (lost) {
    abort("partitions lost");
  } else if (!commit("rebalance")) {
    fatal_ = true;
  }
}

bool ExactlyOnceCommits::delivery_failed() {
  abort("a record of the transaction was not delivered");
  return true;
}

bool ExactlyOnceCommits::finish(bool clean) {
  // The next run re-reads what an abort here leaves uncommitted.
  if (clean && !fatal_) return commit("shutdown");
  if (open_ && !fatal_) abort("stopping on an error");
  return true;
}

bool ExactlyOnceCommits::commit(const char* why) {
  if (!port_.flush() || port_.delivery_failed()) {
    abort(port_.delivery_failed() ? "a record of the transaction was not delivered"
                                  : "records not acknowledged within 30 s");
    return !fatal_;
  }
  const auto offsets = port_.committable();
  const auto same = [](const std::vector<messaging::CommitOffset>& a,
                       const std::vector<messaging::CommitOffset>& b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](const auto& x, const auto& y) {
      return x.topic == y.topic && x.partition == y.partition && x.offset == y.offset;
    });
  };
  if (!open_ && (offsets.empty() || same(offsets, committed_))) return true;
  if (!before_produce()) return false;
  if (const auto status = port_.commit_transaction(offsets); !status.ok()) {
    port_.commit_result(false);
    if (status.kind == messaging::TxnStatus::Kind::Fatal) {
      spdlog::critical("transaction failed fatally (fenced by a newer instance?): {}", status.message);
      open_ = false;
      return false;
    }
    abort(std::string(why) + " commit failed: " + status.message);
    return !fatal_;
  }
  open_ = false;
  committed_ = offsets;
  port_.commit_result(true);
  spdlog::debug("transaction committed ({})", why);
  return true;
}

void ExactlyOnceCommits::abort(const std::string& why) {
  spdlog::warn("aborting the transaction: {}; rebuilding from the committed offsets", why);
  if (const auto status = port_.abort_transaction(open_); !status.ok()) {
    spdlog::critical("abort_transaction failed: {}", status.message);
    fatal_ = true;
  }
  open_ = false;
  port_.rebuild();
}

}  // namespace orderflow::analytics
