// Tumbling event-time windows over `orders` and `payments` (analytics-service). Pure bookkeeping, no
// Kafka calls; not thread-safe (the service thread owns it).
//
// Windows. A record belongs to [start, start + window_ms) with start = floor(occurred_at / window_ms) *
// window_ms (milliseconds since the epoch, negative times floored too).
//
// Watermark. Every input partition keeps the largest event time it delivered. The watermark is the
// smallest of those maxima over the *active* partitions, minus the allowed lateness; a partition is
// active while it delivered a record (or was assigned) less than `idle_timeout_ms` ago (processing
// time). Taking the minimum rather than the global maximum matters after a restart: partitions are
// re-read in no particular interleaving, and a global maximum would let one partition's backlog close a
// window before another partition's records for it were re-read. An idle partition (no traffic) must not
// hold every window open for ever, hence the timeout. When every partition is idle, event time advances
// with processing time from the largest event time seen (so the last windows of a stream that stopped
// close too). The watermark never goes back.
//
// Closing. A window closes when watermark >= its end. A record whose window has already closed is not
// counted: it is `Outcome::Late`, or, when an earlier run published its window (learned at start: a
// re-read after a restart), `Outcome::Replayed` (a truly late record for such a window is
// indistinguishable from a re-read one and is reported as Replayed too). The service counts both
// (metrics) and logs late ones; nothing is silently dropped.
//
// Restart without double counting (the commit rule). For each partition the committable offset is the
// smallest offset of any record counted in a window that is still open or closed but not yet
// acknowledged by the broker; with no such record, the offset after the last record seen. A restart
// therefore re-reads exactly the records of unpublished windows (plus records of published windows and
// late ones between them, which are recognised as above and not counted). The published windows are
// learned at start from the tail of `order-stats` (seed_published): re-read records of a published
// window are `Replayed`, whatever the watermark. The watermark itself starts afresh: a window closed but
// still in flight when the earlier run died may be missing from the topic while a later one is there;
// its records are re-read (their offsets were never committed) and rebuild it, published then with the
// same derived id. A late record of an earlier run whose window was never published (it had no other
// records) may thus be counted after a restart: a window that did not exist appears, nothing counts
// twice.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "orderflow/messaging/offset_tracker.h"

namespace orderflow::analytics {

struct WindowConfig {
  std::int64_t window_ms = 60000;
  std::int64_t allowed_lateness_ms = 10000;
  std::int64_t idle_timeout_ms = 10000;
};

// The aggregate of one window (what `order-stats` carries).
struct WindowStats {
  std::int64_t start_ms = 0;
  std::int64_t end_ms = 0;
  std::int64_t orders = 0;
  std::map<std::string, std::int64_t> order_amount_cents_by_currency;
  std::map<std::string, std::int64_t> orders_by_currency;
  std::int64_t payments_authorized = 0;
  std::int64_t payments_declined = 0;
  std::map<std::string, std::int64_t> authorized_amount_cents_by_currency;
  std::map<std::string, std::int64_t> declined_by_reason;
  std::set<std::string> customers;  // distinct customer_id of the window's orders

  friend bool operator==(const WindowStats&, const WindowStats&) = default;
};

// Start of the window holding `event_ms`.
[[nodiscard]] std::int64_t window_start(std::int64_t event_ms, std::int64_t window_ms);
// Derived id of a window: uuid_v5("order-stats:<start_ms>:<window_ms>") in the orderflow namespace, so a
// replay publishes the same id.
[[nodiscard]] std::string window_id(std::int64_t start_ms, std::int64_t window_ms);
// The `order-stats` record value (JSON, schema proto-schemas/order_stats.v1.json).
[[nodiscard]] std::string to_json(const WindowStats& stats, std::int64_t window_ms);
// The window start and length of an `order-stats` value; nullopt when it is not one.
struct PublishedWindow {
  std::int64_t start_ms = 0;
  std::int64_t window_ms = 0;
};
[[nodiscard]] std::optional<PublishedWindow> parse_published(std::string_view json);

class WindowAggregator {
 public:
  enum class Outcome { Counted, Late, Replayed };

  explicit WindowAggregator(WindowConfig config);

  // Windows an earlier run published (from `order-stats`), before any record is added.
  void seed_published(std::int64_t start_ms);

  // A partition assigned at processing time `now_ms` (starts its idle clock).
  void assigned(const messaging::TopicPartitionKey& tp, std::int64_t now_ms);
  // Forgets a revoked partition (its watermark and pending offsets).
  void revoked(const messaging::TopicPartitionKey& tp);

  Outcome add_order(const messaging::TopicPartitionKey& tp, std::int64_t offset, std::int64_t event_ms,
                    std::int64_t now_ms, const std::string& customer_id, std::int64_t amount_cents,
                    const std::string& currency);
  Outcome add_payment(const messaging::TopicPartitionKey& tp, std::int64_t offset, std::int64_t event_ms,
                      std::int64_t now_ms, bool authorized, std::int64_t amount_cents,
                      const std::string& currency, const std::string& decline_reason);
  // A record that contributes to no window (unparseable, wrong type): only its offset advances.
  void skip(const messaging::TopicPartitionKey& tp, std::int64_t offset, std::int64_t now_ms);

  // The service read nothing for `gap_ms` (a stall: a long INSERT, a rebalance callback, a starved
  // machine). Silence during it says nothing about the partitions, so their idle clocks move on by it:
  // otherwise the first partition read after the stall would drive the watermark alone and the others'
  // records, read a moment later, would be late.
  void stalled(std::int64_t gap_ms);

  // Recomputes the watermark at `now_ms` and returns the windows it closed, oldest first. They stay
  // pending (their records hold the commit) until acknowledged().
  std::vector<WindowStats> close_ready(std::int64_t now_ms);
  // The closed window starting at `start_ms` was acknowledged by the broker: its records' offsets may
  // be committed.
  void acknowledged(std::int64_t start_ms);

  // Per partition seen, the next offset that may be committed (see the header comment).
  [[nodiscard]] std::vector<messaging::CommitOffset> committable() const;

  [[nodiscard]] std::optional<std::int64_t> watermark() const { return watermark_; }
  [[nodiscard]] std::size_t open_windows() const { return open_.size(); }
  [[nodiscard]] std::size_t pending_windows() const { return pending_.size(); }
  // Drops open and pending windows and the pending offsets (after a rebalance, before re-reading from
  // the committed offsets). Published windows and the watermark are kept.
  void reset_open();

 private:
  struct PartitionState {
    std::optional<std::int64_t> max_event_ms;
    std::int64_t last_activity_ms = 0;
    std::int64_t next_offset = -1;                // after the last record seen
    std::multiset<std::int64_t> pending_offsets;  // records of open or unacknowledged windows
  };
  struct Window {
    WindowStats stats;
    std::vector<std::pair<messaging::TopicPartitionKey, std::int64_t>> records;
  };
  // Classifies a record and, when counted, returns its window (created if needed).
  Window* admit(const messaging::TopicPartitionKey& tp, std::int64_t offset, std::int64_t event_ms,
                std::int64_t now_ms, Outcome& outcome);
  PartitionState& partition(const messaging::TopicPartitionKey& tp, std::int64_t now_ms);

  WindowConfig config_;
  std::map<std::pair<std::string, std::int32_t>, PartitionState> partitions_;
  std::map<std::int64_t, Window> open_;     // by start
  std::map<std::int64_t, Window> pending_;  // closed, not yet acknowledged
  std::set<std::int64_t> seeded_;           // starts of windows earlier runs published (recent ones)
  std::optional<std::int64_t> watermark_;
};

}  // namespace orderflow::analytics
