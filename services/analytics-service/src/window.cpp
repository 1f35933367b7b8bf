#include "orderflow/analytics/window.h"

#include <algorithm>
#include <chrono>
#include <limits>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "orderflow/events/clock.h"
#include "orderflow/events/identity.h"

namespace orderflow::analytics {

namespace {

std::string iso(std::int64_t ms) {
  return events::format_timestamp(std::chrono::system_clock::time_point(std::chrono::milliseconds(ms)));
}

std::pair<std::string, std::int32_t> tp_key(const messaging::TopicPartitionKey& tp) {
  return {tp.topic, tp.partition};
}

// How many windows before the watermark are still remembered as published by an earlier run: enough
// for any re-read after a restart (which starts at the oldest unpublished window).
constexpr std::size_t kSeededKept = 100000;

}  // namespace

std::int64_t window_start(std::int64_t event_ms, std::int64_t window_ms) {
  std::int64_t q = event_ms / window_ms;
  if (event_ms % window_ms != 0 && event_ms < 0) --q;  // floor, not truncation
  return q * window_ms;
}

std::string window_id(std::int64_t start_ms, std::int64_t window_ms) {
  return events::uuid_v5("order-stats:" + std::to_string(start_ms) + ":" + std::to_string(window_ms));
}

std::string to_json(const WindowStats& s, std::int64_t window_ms) {
  nlohmann::ordered_json j;
  j["event_id"] = window_id(s.start_ms, window_ms);
  j["event_type"] = "OrderStatsWindow";
  j["schema_version"] = 1;
  // The window's end, not the wall clock: a replay of the same window yields the same bytes.
  j["occurred_at"] = iso(s.end_ms);
  j["window_start"] = iso(s.start_ms);
  j["window_end"] = iso(s.end_ms);
  j["window_start_ms"] = s.start_ms;
  j["window_ms"] = window_ms;
  j["orders"] = s.orders;
  j["order_amount_cents_by_currency"] = nlohmann::ordered_json::object();
  for (const auto& [c, v] : s.order_amount_cents_by_currency) j["order_amount_cents_by_currency"][c] = v;
  j["orders_by_currency"] = nlohmann::ordered_json::object();
  for (const auto& [c, v] : s.orders_by_currency) j["orders_by_currency"][c] = v;
  j["payments_authorized"] = s.payments_authorized;
  j["payments_declined"] = s.payments_declined;
  j["authorized_amount_cents_by_currency"] = nlohmann::ordered_json::object();
  for (const auto& [c, v] : s.authorized_amount_cents_by_currency) {
    j["authorized_amount_cents_by_currency"][c] = v;
  }
  j["declined_by_reason"] = nlohmann::ordered_json::object();
  for (const auto& [r, v] : s.declined_by_reason) j["declined_by_reason"][r] = v;
  j["distinct_customers"] = static_cast<std::int64_t>(s.customers.size());
  return j.dump();
}

std::optional<PublishedWindow> parse_published(std::string_view json) {
  const auto j = nlohmann::json::parse(json, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  const auto start = j.find("window_start_ms");
  const auto len = j.find("window_ms");
  if (start == j.end() || len == j.end() || !start->is_number_integer() || !len->is_number_integer()) {
    return std::nullopt;
  }
  return PublishedWindow{start->get<std::int64_t>(), len->get<std::int64_t>()};
}

WindowAggregator::WindowAggregator(WindowConfig config) : config_(config) {
  if (config_.window_ms <= 0) throw std::invalid_argument("window_ms must be positive");
  if (config_.allowed_lateness_ms < 0)
    throw std::invalid_argument("allowed_lateness_ms must not be negative");
}

void WindowAggregator::seed_published(std::int64_t start_ms) {
  // The watermark is not moved: a window closed but still in flight when the earlier run died may be
  // missing from the topic while a later one is there, and its re-read records must rebuild it.
  seeded_.insert(start_ms);
  while (seeded_.size() > kSeededKept) seeded_.erase(seeded_.begin());
}

WindowAggregator::PartitionState& WindowAggregator::partition(const messaging::TopicPartitionKey& tp,
                                                              std::int64_t now_ms) {
  auto [it, inserted] = partitions_.try_emplace(tp_key(tp));
  if (inserted) it->second.last_activity_ms = now_ms;
  return it->second;
}

void WindowAggregator::assigned(const messaging::TopicPartitionKey& tp, std::int64_t now_ms) {
  partition(tp, now_ms).last_activity_ms = now_ms;
}

void WindowAggregator::revoked(const messaging::TopicPartitionKey& tp) {
  partitions_.erase(tp_key(tp));
}

void WindowAggregator::reset_open() {
  open_.clear();
  pending_.clear();
  for (auto& [key, p] : partitions_) {
    p.pending_offsets.clear();
    p.next_offset = -1;
  }
}

WindowAggregator::Window* WindowAggregator::admit(const messaging::TopicPartitionKey& tp, std::int64_t offset,
                                                  std::int64_t event_ms, std::int64_t now_ms,
                                                  Outcome& outcome) {
  auto& p = partition(tp, now_ms);
  p.last_activity_ms = now_ms;
  p.next_offset = std::max(p.next_offset, offset + 1);
  if (!p.max_event_ms || *p.max_event_ms < event_ms) p.max_event_ms = event_ms;
  const std::int64_t start = window_start(event_ms, config_.window_ms);
  if (seeded_.contains(start)) {
    outcome = Outcome::Replayed;
    return nullptr;
  }
  if (watermark_ && start + config_.window_ms <= *watermark_) {
    outcome = Outcome::Late;
    return nullptr;
  }
  outcome = Outcome::Counted;
  auto [it, inserted] = open_.try_emplace(start);
  if (inserted) {
    it->second.stats.start_ms = start;
    it->second.stats.end_ms = start + config_.window_ms;
  }
  it->second.records.emplace_back(tp, offset);
  p.pending_offsets.insert(offset);
  return &it->second;
}

WindowAggregator::Outcome WindowAggregator::add_order(const messaging::TopicPartitionKey& tp,
                                                      std::int64_t offset, std::int64_t event_ms,
                                                      std::int64_t now_ms, const std::string& customer_id,
                                                      std::int64_t amount_cents,
                                                      const std::string& currency) {
  Outcome outcome{};
  if (Window* w = admit(tp, offset, event_ms, now_ms, outcome)) {
    ++w->stats.orders;
    w->stats.order_amount_cents_by_currency[currency] += amount_cents;
    ++w->stats.orders_by_currency[currency];
    w->stats.customers.insert(customer_id);
  }
  return outcome;
}

WindowAggregator::Outcome WindowAggregator::add_payment(const messaging::TopicPartitionKey& tp,
                                                        std::int64_t offset, std::int64_t event_ms,
                                                        std::int64_t now_ms, bool authorized,
                                                        std::int64_t amount_cents,
                                                        const std::string& currency,
                                                        const std::string& decline_reason) {
  Outcome outcome{};
  if (Window* w = admit(tp, offset, event_ms, now_ms, outcome)) {
    if (authorized) {
      ++w->stats.payments_authorized;
      w->stats.authorized_amount_cents_by_currency[currency] += amount_cents;
    } else {
      ++w->stats.payments_declined;
      ++w->stats.declined_by_reason[decline_reason];
    }
  }
  return outcome;
}

void WindowAggregator::skip(const messaging::TopicPartitionKey& tp, std::int64_t offset,
                            std::int64_t now_ms) {
  auto& p = partition(tp, now_ms);
  p.last_activity_ms = now_ms;
  p.next_offset = std::max(p.next_offset, offset + 1);
}

void WindowAggregator::stalled(std::int64_t gap_ms) {
  if (gap_ms <= 0) return;
  for (auto& [key, p] : partitions_) p.last_activity_ms += gap_ms;
}

std::vector<WindowStats> WindowAggregator::close_ready(std::int64_t now_ms) {
  std::optional<std::int64_t> low;
  bool waiting_for_active = false;
  for (const auto& [key, p] : partitions_) {
    if (now_ms - p.last_activity_ms >= config_.idle_timeout_ms) continue;  // idle: does not hold back
    if (!p.max_event_ms) {
      waiting_for_active = true;  // assigned recently, nothing read yet: its records may be old
      continue;
    }
    if (!low || *p.max_event_ms < *low) low = *p.max_event_ms;
  }
  if (!waiting_for_active && !low) {
    // Every partition idle: the input has stopped. Event time then advances with processing time from
    // the largest event time seen and the last record, so the last windows close instead of waiting for
    // traffic that may never come (a record arriving after that for them is late).
    std::optional<std::int64_t> max_event;
    std::int64_t last_activity = 0;
    for (const auto& [key, p] : partitions_) {
      if (p.max_event_ms && (!max_event || *p.max_event_ms > *max_event)) max_event = *p.max_event_ms;
      last_activity = std::max(last_activity, p.last_activity_ms);
    }
    if (max_event) low = *max_event + std::max<std::int64_t>(0, now_ms - last_activity);
  }
  if (!waiting_for_active && low) {
    const std::int64_t candidate = *low - config_.allowed_lateness_ms;
    if (!watermark_ || *watermark_ < candidate) watermark_ = candidate;
  }
  std::vector<WindowStats> closed;
  if (!watermark_) return closed;
  while (!open_.empty() && open_.begin()->second.stats.end_ms <= *watermark_) {
    auto node = open_.extract(open_.begin());
    closed.push_back(node.mapped().stats);
    pending_.insert(std::move(node));
  }
  return closed;
}

void WindowAggregator::acknowledged(std::int64_t start_ms) {
  auto it = pending_.find(start_ms);
  if (it == pending_.end()) return;
  for (const auto& [tp, offset] : it->second.records) {
    auto p = partitions_.find(tp_key(tp));
    if (p == partitions_.end()) continue;
    auto o = p->second.pending_offsets.find(offset);
    if (o != p->second.pending_offsets.end()) p->second.pending_offsets.erase(o);
  }
  pending_.erase(it);
}

std::vector<messaging::CommitOffset> WindowAggregator::committable() const {
  std::vector<messaging::CommitOffset> out;
  for (const auto& [key, p] : partitions_) {
    std::int64_t next = p.next_offset;
    if (!p.pending_offsets.empty()) next = *p.pending_offsets.begin();
    if (next < 0) continue;
    out.push_back({key.first, key.second, next});
  }
  return out;
}

}  // namespace orderflow::analytics
