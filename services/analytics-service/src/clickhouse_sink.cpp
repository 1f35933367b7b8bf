#include "orderflow/analytics/clickhouse_sink.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <stdexcept>
#include <utility>

#include <nlohmann/json.hpp>

namespace orderflow::analytics {

namespace {

std::pair<std::string, std::int32_t> tp_key(const messaging::TopicPartitionKey& tp) {
  return {tp.topic, tp.partition};
}

std::string dump(const nlohmann::ordered_json& j) {
  // Events are validated UTF-8 already; replace rather than throw should one slip through.
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

// ClickHouse error codes that mean "this data does not fit the table" in 18.16 and current releases (the
// codes are stable across versions). Anything else — no table, no memory, too many parts, a syntax error,
// authentication — is the server's or the configuration's problem: retried, never dead-lettered, since
// bisecting it would dead-letter every row.
constexpr std::array<int, 21> kDataErrorCodes = {
    6,    // CANNOT_PARSE_TEXT
    25,   // CANNOT_PARSE_ESCAPE_SEQUENCE
    26,   // CANNOT_PARSE_QUOTED_STRING
    27,   // CANNOT_PARSE_INPUT_ASSERTION_FAILED
    32,   // ATTEMPT_TO_READ_AFTER_EOF
    33,   // CANNOT_READ_ALL_DATA
    36,   // BAD_ARGUMENTS (18.16: unknown Enum element)
    38,   // CANNOT_PARSE_DATE
    41,   // CANNOT_PARSE_DATETIME
    53,   // TYPE_MISMATCH
    69,   // ARGUMENT_OUT_OF_BOUND
    70,   // CANNOT_CONVERT_TYPE
    72,   // CANNOT_PARSE_NUMBER
    117,  // INCORRECT_DATA
    131,  // TOO_LARGE_STRING_SIZE
    190,  // SIZES_OF_ARRAYS_DOESNT_MATCH
    349,  // CANNOT_INSERT_NULL_IN_ORDINARY_COLUMN
    377,  // CANNOT_PARSE_UUID (current releases)
    456,  // CANNOT_PARSE_DOMAIN_VALUE_FROM_STRING
    691,  // UNKNOWN_ELEMENT_OF_ENUM (current releases)
    16,   // NO_SUCH_COLUMN_IN_TABLE (a row with a field the table lacks, 18.16)
};

}  // namespace

std::string_view table_name(Table t) {
  switch (t) {
    case Table::Orders:
      return "orders";
    case Table::Payments:
      return "payments";
    case Table::OrderStats:
      return "order_stats";
  }
  return "?";
}

ClickHouseEndpoint parse_clickhouse_url(const std::string& url) {
  constexpr std::string_view kScheme = "http://";
  if (url.rfind(kScheme, 0) != 0) {
    throw std::invalid_argument("must start with http:// (e.g. http://127.0.0.1:8123), got '" + url + "'");
  }
  std::string rest = url.substr(kScheme.size());
  if (!rest.empty() && rest.back() == '/') rest.pop_back();
  if (rest.find_first_of("/?#@") != std::string::npos) {
    throw std::invalid_argument(
        "only http://host[:port] is accepted (no path, query or credentials; see "
        "--clickhouse-user), got '" +
        url + "'");
  }
  ClickHouseEndpoint ep;
  std::string host = rest;
  if (!rest.empty() && rest.front() == '[') {  // [v6]:port
    const auto close = rest.find(']');
    if (close == std::string::npos) throw std::invalid_argument("unbalanced [ in '" + url + "'");
    host = rest.substr(1, close - 1);
    if (close + 1 < rest.size()) {
      if (rest[close + 1] != ':') throw std::invalid_argument("expected :port after ] in '" + url + "'");
      ep.port = rest.substr(close + 2);
    }
  } else if (const auto colon = rest.rfind(':'); colon != std::string::npos) {
    host = rest.substr(0, colon);
    ep.port = rest.substr(colon + 1);
  }
  int port = 0;
  const auto* end = ep.port.data() + ep.port.size();
  const auto [p, ec] = std::from_chars(ep.port.data(), end, port);
  if (host.empty()) throw std::invalid_argument("no host in '" + url + "'");
  if (ec != std::errc() || p != end || port < 1 || port > 65535) {
    throw std::invalid_argument("bad port in '" + url + "'");
  }
  ep.host = host;
  return ep;
}

std::optional<int> clickhouse_error_code(std::string_view body) {
  const auto at = body.find("Code: ");
  if (at == std::string_view::npos) return std::nullopt;
  int code = 0;
  const char* first = body.data() + at + 6;
  const auto [p, ec] = std::from_chars(first, body.data() + body.size(), code);
  if (ec != std::errc() || p == first) return std::nullopt;
  return code;
}

bool is_refusal(int http_status, std::string_view body) {
  if (http_status < 400) return false;
  const auto code = clickhouse_error_code(body);
  if (!code) return false;
  if (std::find(kDataErrorCodes.begin(), kDataErrorCodes.end(), *code) != kDataErrorCodes.end()) return true;
  // Whatever the code (18.16 reports an unknown Enum element as 49, LOGICAL_ERROR), an error that names the
  // JSONEachRow field being read is about the row's data.
  return body.find("while read the value of key") != std::string_view::npos ||
         body.find("while reading the value of key") != std::string_view::npos;
}

std::string order_row(const events::OrderCreated& o, std::int64_t occurred_at_ms, std::int32_t partition,
                      std::int64_t offset) {
  nlohmann::ordered_json j;
  j["event_id"] = o.event_id;
  j["order_id"] = o.order_id;
  j["customer_id"] = o.customer_id;
  j["amount_cents"] = o.amount_cents;
  j["currency"] = o.currency;
  j["occurred_at_ms"] = occurred_at_ms;
  j["kafka_partition"] = partition;
  j["kafka_offset"] = offset;
  return dump(j);
}

std::string payment_row(const events::PaymentProcessed& p, std::int64_t occurred_at_ms,
                        std::int32_t partition, std::int64_t offset) {
  nlohmann::ordered_json j;
  j["event_id"] = p.event_id;
  j["order_id"] = p.order_id;
  j["order_event_id"] = p.order_event_id;
  j["customer_id"] = p.customer_id;
  j["status"] = p.status == events::PaymentStatus::Authorized ? "AUTHORIZED" : "DECLINED";
  j["decline_reason"] = p.decline_reason.value_or("");
  j["amount_cents"] = p.amount_cents;
  j["currency"] = p.currency;
  j["occurred_at_ms"] = occurred_at_ms;
  j["kafka_partition"] = partition;
  j["kafka_offset"] = offset;
  return dump(j);
}

std::optional<std::string> window_row(std::string_view stats_json, std::int64_t version) {
  const auto j = nlohmann::json::parse(stats_json, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  try {
    const auto start_ms = j.at("window_start_ms").get<std::int64_t>();
    const auto len_ms = j.at("window_ms").get<std::int64_t>();
    const auto amounts = j.at("order_amount_cents_by_currency").get<std::map<std::string, std::int64_t>>();
    const auto counts = j.at("orders_by_currency").get<std::map<std::string, std::int64_t>>();
    const auto reasons = j.at("declined_by_reason").get<std::map<std::string, std::int64_t>>();
    std::set<std::string> currencies;
    for (const auto& [c, v] : amounts) currencies.insert(c);
    for (const auto& [c, v] : counts) currencies.insert(c);
    nlohmann::ordered_json row;
    // DateTime columns take Unix seconds: the table's key is the second, so a window of the sink is a
    // whole number of seconds (the service checks --window-ms).
    row["window_start"] = start_ms / 1000;
    row["window_end"] = (start_ms + len_ms) / 1000;
    row["orders"] = j.at("orders").get<std::int64_t>();
    // Arrays built first: ordered_json keeps its members in a vector, so a reference to one would not
    // survive the next insertion.
    nlohmann::ordered_json cur = nlohmann::ordered_json::array();
    nlohmann::ordered_json cur_orders = nlohmann::ordered_json::array();
    nlohmann::ordered_json cur_amount = nlohmann::ordered_json::array();
    for (const auto& c : currencies) {
      cur.push_back(c);
      cur_orders.push_back(counts.contains(c) ? counts.at(c) : 0);
      cur_amount.push_back(amounts.contains(c) ? amounts.at(c) : 0);
    }
    row["by_currency.currency"] = std::move(cur);
    row["by_currency.orders"] = std::move(cur_orders);
    row["by_currency.amount_cents"] = std::move(cur_amount);
    row["authorized"] = j.at("payments_authorized").get<std::int64_t>();
    row["declined"] = j.at("payments_declined").get<std::int64_t>();
    nlohmann::ordered_json reason = nlohmann::ordered_json::array();
    nlohmann::ordered_json reason_n = nlohmann::ordered_json::array();
    for (const auto& [r, n] : reasons) {
      reason.push_back(r);
      reason_n.push_back(n);
    }
    row["declined_by_reason.reason"] = std::move(reason);
    row["declined_by_reason.payments"] = std::move(reason_n);
    row["distinct_customers"] = j.at("distinct_customers").get<std::int64_t>();
    row["version"] = version;
    return dump(row);
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
}

ClickHouseSink::ClickHouseSink(SinkConfig config, std::unique_ptr<Inserter> inserter, SinkHooks hooks)
    : config_(std::move(config)), inserter_(std::move(inserter)), hooks_(std::move(hooks)) {
  if (config_.batch_rows < 1) throw std::invalid_argument("batch_rows must be at least 1");
}

void ClickHouseSink::add(Table table, SinkRow row, std::int64_t now_ms) {
  if (row.holds_offset) held_[tp_key(row.tp)].insert(row.offset);
  rows_[static_cast<std::size_t>(table)].push_back(Buffered{std::move(row), now_ms});
}

bool ClickHouseSink::service(std::int64_t now_ms, bool force) {
  if (!up_ && now_ms < retry_at_ms_) return false;
  for (std::size_t t = 0; t < kTableCount; ++t) {
    auto& rows = rows_[t];
    while (!rows.empty()) {
      const bool full = rows.size() >= config_.batch_rows;
      const bool old = now_ms - rows.front().added_ms >= config_.batch_ms;
      if (!full && !old && !force && up_) break;  // a retry after an outage sends what it holds
      if (!send(static_cast<Table>(t), std::min(rows.size(), config_.batch_rows), now_ms)) return false;
    }
  }
  return up_;
}

InsertResult ClickHouseSink::insert(Table table, const std::deque<Buffered>& rows, std::size_t lo,
                                    std::size_t hi) {
  std::string body;
  std::size_t size = 0;
  for (std::size_t i = lo; i < hi; ++i) size += rows[i].row.json.size() + 1;
  body.reserve(size);
  for (std::size_t i = lo; i < hi; ++i) {
    body += rows[i].row.json;
    body += '\n';
  }
  const std::string query =
      "INSERT INTO " + config_.database + "." + std::string(table_name(table)) + " FORMAT JSONEachRow";
  const auto t0 = std::chrono::steady_clock::now();
  auto result = inserter_->insert(query, body);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (result.kind == InsertResult::Kind::Ok) {
    if (hooks_.written) hooks_.written(table, hi - lo, seconds);
  } else if (hooks_.failed) {
    hooks_.failed(table, result.message);
  }
  return result;
}

bool ClickHouseSink::send(Table table, std::size_t n, std::int64_t now_ms) {
  auto& rows = rows_[static_cast<std::size_t>(table)];
  // Ranges still to send, bisected while refused; rows done (written or dead-lettered) are marked.
  std::vector<bool> done(n, false);
  std::vector<std::pair<std::size_t, std::size_t>> todo{{0, n}};
  bool unavailable = false;
  while (!todo.empty()) {
    const auto [lo, hi] = todo.back();
    todo.pop_back();
    const auto r = insert(table, rows, lo, hi);
    if (r.kind == InsertResult::Kind::Ok) {
      for (std::size_t i = lo; i < hi; ++i) {
        done[i] = true;
        unhold(rows[i].row);
      }
      continue;
    }
    if (r.kind == InsertResult::Kind::Unavailable) {
      went_down(r.message, now_ms);
      unavailable = true;
      break;
    }
    if (hi - lo == 1) {
      done[lo] = true;  // its offset stays held until the dead letter is acknowledged
      if (hooks_.refused) hooks_.refused(table, rows[lo].row, r.message);
      continue;
    }
    const std::size_t mid = lo + (hi - lo) / 2;
    todo.emplace_back(mid, hi);  // the first half is sent first: rows keep their order where possible
    todo.emplace_back(lo, mid);
  }
  // Remove the rows done, keeping the others (in order) at the front.
  std::deque<Buffered> rest;
  for (std::size_t i = 0; i < n; ++i) {
    if (!done[i]) rest.push_back(std::move(rows[i]));
  }
  rows.erase(rows.begin(), rows.begin() + static_cast<std::ptrdiff_t>(n));
  rows.insert(rows.begin(), std::make_move_iterator(rest.begin()), std::make_move_iterator(rest.end()));
  if (unavailable) return false;
  if (!up_) {
    up_ = true;
    problem_.clear();
  }
  backoff_ms_ = 0;
  return true;
}

void ClickHouseSink::went_down(const std::string& reason, std::int64_t now_ms) {
  backoff_ms_ =
      backoff_ms_ == 0 ? config_.backoff_initial_ms : std::min(backoff_ms_ * 2, config_.backoff_max_ms);
  retry_at_ms_ = now_ms + backoff_ms_;
  up_ = false;
  problem_ = reason;
}

void ClickHouseSink::unhold(const SinkRow& row) {
  if (row.holds_offset) release(row.tp, row.offset);
}

void ClickHouseSink::release(const messaging::TopicPartitionKey& tp, std::int64_t offset) {
  auto it = held_.find(tp_key(tp));
  if (it == held_.end()) return;
  auto o = it->second.find(offset);
  if (o != it->second.end()) it->second.erase(o);
  if (it->second.empty()) held_.erase(it);
}

std::optional<std::int64_t> ClickHouseSink::min_pending(const messaging::TopicPartitionKey& tp) const {
  const auto it = held_.find(tp_key(tp));
  if (it == held_.end() || it->second.empty()) return std::nullopt;
  return *it->second.begin();
}

void ClickHouseSink::drop_input_rows() {
  for (auto& rows : rows_) {
    std::erase_if(rows, [](const Buffered& b) { return b.row.holds_offset; });
  }
  held_.clear();
}

std::size_t ClickHouseSink::buffered() const {
  std::size_t n = 0;
  for (const auto& rows : rows_) n += rows.size();
  return n;
}

}  // namespace orderflow::analytics
