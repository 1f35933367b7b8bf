#include "orderflow/messaging/stage_router.h"

#include <algorithm>
#include <iterator>
#include <limits>
#include <utility>

#include "orderflow/messaging/trace_context.h"

namespace orderflow::messaging {

std::string_view to_string(Outcome outcome) {
  switch (outcome) {
    case Outcome::Success:
      return "success";
    case Outcome::Declined:
      return "declined";
    case Outcome::Retried:
      return "retried";
    case Outcome::DeadLettered:
      return "dead_lettered";
    case Outcome::Skipped:
      return "";
  }
  return "";
}

Headers hop_headers(Headers input) {
  for (auto& [name, value] : input) {
    if (name == header::kTraceparent) value = child_traceparent(value);
  }
  return input;
}

StageRouter::StageRouter(RouterConfig config) : config_(std::move(config)) {}

std::optional<Failure> StageRouter::check_size(std::size_t value_bytes) const {
  if (value_bytes <= config_.max_record_bytes) return std::nullopt;
  return Failure::poison("$: record of " + std::to_string(value_bytes) +
                         " bytes exceeds --max-record-bytes " + std::to_string(config_.max_record_bytes));
}

void add_hop_headers(OutRecord& out, std::optional<std::string_view> input_traceparent,
                     std::optional<std::string_view> input_correlation_id, std::string correlation_id) {
  bool has_traceparent = false;
  bool has_correlation = false;
  for (const auto& [name, value] : out.headers) {
    has_traceparent |= name == header::kTraceparent;
    has_correlation |= name == header::kCorrelationId;
  }
  if (correlation_id.empty() && input_correlation_id) correlation_id = *input_correlation_id;
  const bool add_correlation = !has_correlation && (!correlation_id.empty() || input_correlation_id);
  if (has_traceparent && !add_correlation) return;
  // In front of the handler's headers, in the order the services always wrote them.
  Headers headers;
  headers.reserve(out.headers.size() + 2);
  if (add_correlation) headers.emplace_back(header::kCorrelationId, std::move(correlation_id));
  if (!has_traceparent) {
    headers.emplace_back(header::kTraceparent, child_traceparent(input_traceparent.value_or("")));
  }
  std::move(out.headers.begin(), out.headers.end(), std::back_inserter(headers));
  out.headers = std::move(headers);
}

Plan StageRouter::accept(HandlerResult result, std::span<const HeaderView> input_headers) {
  std::optional<std::string_view> traceparent;
  std::optional<std::string_view> correlation;
  for (const auto& [name, value] : input_headers) {
    if (name == header::kTraceparent) traceparent = value;
    if (name == header::kCorrelationId) correlation = value;
  }
  Plan plan;
  plan.outcome = result.outcome;
  plan.outputs = std::move(result.outputs);
  // The last output takes the handler's correlation id, the others a copy: one output is the rule.
  const std::size_t n = plan.outputs.size();
  for (std::size_t i = 0; i < n; ++i) {
    add_hop_headers(plan.outputs[i], traceparent, correlation,
                    i + 1 == n ? std::move(result.correlation_id) : result.correlation_id);
  }
  return plan;
}

std::int32_t StageRouter::retry_partition(const RouteInput& in) const {
  // Key ordering: a retry record stays in the partition number of its input, whatever partitioner wrote the
  // input, so that input partition p and retry partition p hold all of a key's records (docs/design.md).
  return config_.ordering == RetryOrdering::Key ? in.partition : -1;
}

Plan StageRouter::route_failure(const RouteInput& in, const Failure& failure, std::int64_t now_ms) const {
  FailureHeaderInput hin{in.origin, in.attempt, failure.error_class, failure.message, config_.service,
                         now_ms,    -1};
  FailureRecord record;
  record.message = failure.message;
  record.attempt = in.attempt;
  Plan plan;
  if (failure.error_class == ErrorClass::Transient && !config_.retry.exhausted(in.attempt)) {
    hin.not_before_ms = now_ms + config_.retry.delay_after(in.attempt).count();
    plan.outcome = Outcome::Retried;
    record.topic = config_.retry_topic;
    record.partition = retry_partition(in);
  } else {
    if (failure.error_class == ErrorClass::Transient) hin.error_class = ErrorClass::Exhausted;
    plan.outcome = Outcome::DeadLettered;
    record.topic = config_.dlq_topic;
  }
  record.error_class = hin.error_class;
  record.headers = failure_headers(hin, hop_headers(in.headers));
  // A record over --max-record-bytes is dead-lettered without its value: a copy could be refused by the
  // producer or the broker (message.max.bytes), and a dead letter that cannot be written stops the stage on
  // this record after every restart.
  if (plan.outcome == Outcome::DeadLettered && in.value_bytes > config_.max_record_bytes) {
    without_value(record, in.value_bytes);
  }
  plan.failure = std::move(record);
  return plan;
}

Plan StageRouter::route(const RouteInput& in, HandlerResult result, std::int64_t now_ms) const {
  if (result.failure) return route_failure(in, *result.failure, now_ms);
  std::vector<HeaderView> headers(in.headers.begin(), in.headers.end());
  return accept(std::move(result), headers);
}

Plan StageRouter::park(const RouteInput& in, std::int64_t now_ms) const {
  static constexpr std::string_view kReason =
      "parked behind an earlier record of the same key on the retry path";
  const FailureHeaderInput hin{in.origin, in.attempt - 1, ErrorClass::Transient, kReason, config_.service,
                               now_ms,    now_ms};
  FailureRecord record;
  record.topic = config_.retry_topic;
  record.partition = retry_partition(in);
  record.headers = failure_headers(hin, hop_headers(in.headers));
  record.message = std::string(kReason);
  record.attempt = in.attempt - 1;
  Plan plan;
  plan.outcome = Outcome::Retried;
  plan.failure = std::move(record);
  return plan;
}

void StageRouter::without_value(FailureRecord& record, std::size_t value_bytes) {
  record.with_value = false;
  record.headers.emplace_back(header::kValueOmittedBytes, std::to_string(value_bytes));
}

std::int64_t StageRouter::latest_not_before(std::int64_t now_ms) const {
  return now_ms + static_cast<std::int64_t>(config_.retry.delay_after(config_.retry.max_attempts).count());
}

int StageRouter::attempt_of(std::optional<std::int64_t> failed_attempts) {
  const auto failed = failed_attempts.value_or(0);
  return static_cast<int>(std::clamp<std::int64_t>(failed, 0, std::numeric_limits<int>::max() - 1)) + 1;
}

}  // namespace orderflow::messaging
