// The ClickHouse sink of analytics-service: raw orders, raw payments and closed windows, written in
// batches with `INSERT INTO <db>.<table> FORMAT JSONEachRow` over ClickHouse's HTTP interface.
// Not thread-safe: the service thread owns it; inserts are synchronous (one request at a time, each
// bounded by a timeout), so a batch is never in flight while the buffers change.
//
// The commit rule. An input row (orders, payments) holds its record's offset until ClickHouse
// acknowledged the INSERT that carried it, or, when ClickHouse refused the row itself, until its dead
// letter was acknowledged (release()). min_pending() is what the service folds into its own rule:
// committable = min(window rule, oldest held row). A window row holds nothing: it is written after its
// `order-stats` record was acknowledged, and every start re-inserts the windows of the tail of
// `order-stats`, so a crash between the two loses no window row.
//
// ClickHouse unavailable (no connection, timeout, 5xx other than a refused row, an unknown table):
// nothing is dropped; the sink reports down (up() false, problem()), keeps its rows and retries the
// same batch after an exponential backoff (200 ms doubling up to 10 s). The service pauses its input
// meanwhile, so the lag grows and memory does not.
//
// A refused batch (ClickHouse names a data error: a value the table rejects) is bisected: each half is
// sent again until the rows that fail alone are found; those go to the refused hook (the service's DLQ)
// and the rest is written. The HTTP status alone does not tell a bad row from a broken server: 18.16
// answers 500 for both, so the decision rests on ClickHouse's error code (data_error_code()).
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "orderflow/events/types.h"
#include "orderflow/messaging/offset_tracker.h"
#include "orderflow/messaging/record.h"

namespace orderflow::analytics {

enum class Table { Orders, Payments, OrderStats };
inline constexpr std::size_t kTableCount = 3;
[[nodiscard]] std::string_view table_name(Table t);

// http://host[:port][/]: the only form accepted (ClickHouse's HTTP interface without TLS).
struct ClickHouseEndpoint {
  std::string host;
  std::string port = "8123";
};
// Throws std::invalid_argument with the reason for anything else.
[[nodiscard]] ClickHouseEndpoint parse_clickhouse_url(const std::string& url);

struct SinkConfig {
  std::string database = "orderflow";
  std::size_t batch_rows = 5000;
  std::int64_t batch_ms = 1000;
  std::int64_t backoff_initial_ms = 200;
  std::int64_t backoff_max_ms = 10000;
};

// What one INSERT came to.
struct InsertResult {
  enum class Kind { Ok, Refused, Unavailable };
  Kind kind = Kind::Ok;
  std::string message;  // ClickHouse's message, or the transport error
};

// Sends one INSERT (the query and its body). The real one is HttpInserter; tests substitute fakes.
class Inserter {
 public:
  virtual ~Inserter() = default;
  virtual InsertResult insert(const std::string& query, const std::string& body) = 0;
};

// ClickHouse over HTTP (Boost.Beast), one connection per request. `user` empty: no credentials sent
// (the server's `default` user); otherwise HTTP basic authentication, which 18.16 and current releases
// both accept.
class HttpInserter final : public Inserter {
 public:
  HttpInserter(ClickHouseEndpoint endpoint, const std::string& user, const std::string& password,
               std::chrono::milliseconds timeout);
  InsertResult insert(const std::string& query, const std::string& body) override;

 private:
  ClickHouseEndpoint endpoint_;
  std::string authorization_;  // the Authorization header's value, or empty
  std::chrono::milliseconds timeout_;
};

// ClickHouse's error code in an error body ("Code: 27, e.displayText() = …" on 18.16, "Code: 27. DB::…"
// on current releases), if any.
[[nodiscard]] std::optional<int> clickhouse_error_code(std::string_view body);
// Whether a failed INSERT with this HTTP status and body was refused for its data (a row the table
// rejects) rather than for the server's state.
[[nodiscard]] bool is_refusal(int http_status, std::string_view body);

// The JSONEachRow rows of deploy/clickhouse/schema.sql.
[[nodiscard]] std::string order_row(const events::OrderCreated& o, std::int64_t occurred_at_ms,
                                    std::int32_t partition, std::int64_t offset);
[[nodiscard]] std::string payment_row(const events::PaymentProcessed& p, std::int64_t occurred_at_ms,
                                      std::int32_t partition, std::int64_t offset);
// The order_stats row of an `order-stats` record value; `version` is the record's offset (a window's
// key always lands in the same partition, so a later publication of the same window has a higher one
// and a replay of the same record the same). nullopt when the value is not a window record that has
// every field the row needs.
[[nodiscard]] std::optional<std::string> window_row(std::string_view stats_json, std::int64_t version);

struct SinkRow {
  std::string json;
  messaging::TopicPartitionKey tp;  // where the record was read (input topics, or order-stats)
  std::int64_t offset = -1;
  bool holds_offset = false;  // input rows hold their record's commit until written (or dead-lettered)
  // The record as read, for its dead letter.
  std::optional<std::string> key;
  std::string value;
  messaging::Headers headers;
};

struct SinkHooks {
  // A row ClickHouse refused on its own. Its offset stays held until release(tp, offset).
  std::function<void(Table, const SinkRow&, const std::string& reason)> refused;
  // An INSERT acknowledged: rows written and its duration.
  std::function<void(Table, std::size_t rows, double seconds)> written;
  // An INSERT that failed (refused or unavailable).
  std::function<void(Table, const std::string& reason)> failed;
};

class ClickHouseSink {
 public:
  ClickHouseSink(SinkConfig config, std::unique_ptr<Inserter> inserter, SinkHooks hooks);

  void add(Table table, SinkRow row, std::int64_t now_ms);
  // Sends the batches that are due: a table with batch_rows rows, or whose oldest row waited batch_ms,
  // or every row when `force`. While down, nothing is sent before the backoff has passed. Returns up().
  bool service(std::int64_t now_ms, bool force = false);

  [[nodiscard]] bool up() const { return up_; }
  // Why the sink is down ("" when up).
  [[nodiscard]] const std::string& problem() const { return problem_; }
  [[nodiscard]] std::int64_t retry_at_ms() const { return retry_at_ms_; }
  // The oldest offset of `tp` still held, if any.
  [[nodiscard]] std::optional<std::int64_t> min_pending(const messaging::TopicPartitionKey& tp) const;
  // The dead letter of a refused row was acknowledged.
  void release(const messaging::TopicPartitionKey& tp, std::int64_t offset);
  // Drops the buffered input rows and every held offset (after a rebalance: the service re-reads from
  // its committable offsets, which the held rows kept back). Window rows stay.
  void drop_input_rows();
  [[nodiscard]] std::size_t buffered() const;

 private:
  struct Buffered {
    SinkRow row;
    std::int64_t added_ms = 0;
  };
  // Sends rows [0, n) of `table`; false when ClickHouse was unavailable (the unsent rows stay).
  bool send(Table table, std::size_t n, std::int64_t now_ms);
  InsertResult insert(Table table, const std::deque<Buffered>& rows, std::size_t lo, std::size_t hi);
  void unhold(const SinkRow& row);
  void went_down(const std::string& reason, std::int64_t now_ms);

  SinkConfig config_;
  std::unique_ptr<Inserter> inserter_;
  SinkHooks hooks_;
  std::deque<Buffered> rows_[kTableCount];
  std::map<std::pair<std::string, std::int32_t>, std::multiset<std::int64_t>> held_;
  bool up_ = true;
  std::string problem_;
  std::int64_t retry_at_ms_ = 0;
  std::int64_t backoff_ms_ = 0;
};

}  // namespace orderflow::analytics
