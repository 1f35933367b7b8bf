// Where the processing of one consumed record sends it (docs/contract.md §7 Retries and dead letters): the
// handler's outputs, or one retry record, or one dead letter. The router decides and builds the records;
// StageRunner sends them, counts the outcome and logs. Pure: no librdkafka call, no clock (the caller
// passes the time), no logging. Const after construction; safe to share between threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "orderflow/messaging/failure.h"
#include "orderflow/messaging/handler.h"
#include "orderflow/messaging/record.h"
#include "orderflow/messaging/retry_policy.h"

namespace orderflow::messaging {

enum class RetryOrdering { None, Key };

struct RouterConfig {
  std::string service;  // x-failed-service
  std::string retry_topic;
  std::string dlq_topic;
  RetryPolicy retry;
  RetryOrdering ordering = RetryOrdering::None;
  std::size_t max_record_bytes = std::size_t{1024} * 1024;
};

// What the router needs of the input record to route a failure.
struct RouteInput {
  Origin origin;                // where the record was first read (x-original-* on a retry record)
  std::int32_t partition = -1;  // the partition it was read from now
  int attempt = 1;              // this processing, 1-based
  std::size_t value_bytes = 0;
  Headers headers;  // all its headers, in order
};

// A retry record or a dead letter: the input's key, its value unless `with_value` is false, and `headers`.
struct FailureRecord {
  std::string topic;            // the router's retry or dead-letter topic
  std::int32_t partition = -1;  // -1: the partitioner's choice
  Headers headers;
  bool with_value = true;
  // For the logs: the class written to x-error-class, the reason, the attempt that failed.
  ErrorClass error_class = ErrorClass::Transient;
  std::string message;
  int attempt = 1;
};

struct Plan {
  Outcome outcome = Outcome::Success;
  std::vector<OutRecord> outputs;        // Success, Declined: sent as they are
  std::optional<FailureRecord> failure;  // Retried, DeadLettered: the one record to send
};

class StageRouter {
 public:
  explicit StageRouter(RouterConfig config);

  [[nodiscard]] const RouterConfig& config() const { return config_; }

  // The poison failure of a record whose value exceeds max_record_bytes (never handed to the handler);
  // nullopt when it fits.
  [[nodiscard]] std::optional<Failure> check_size(std::size_t value_bytes) const;

  // A handler result without a failure: its outputs, each with the trace and correlation headers of a hop
  // taken from `input_headers` (the consumed record's, see add_hop_headers), and its outcome.
  [[nodiscard]] static Plan accept(HandlerResult result, std::span<const HeaderView> input_headers = {});

  // A failure: transient with attempts left → one retry record due at now + the backoff of this attempt;
  // transient on the last attempt → dead letter as `exhausted`; poison → dead letter at once. A dead letter
  // of a record over max_record_bytes carries no value (see without_value).
  [[nodiscard]] Plan route_failure(const RouteInput& in, const Failure& failure, std::int64_t now_ms) const;

  // Either of the above.
  [[nodiscard]] Plan route(const RouteInput& in, HandlerResult result, std::int64_t now_ms) const;

  // Key ordering: a record queued behind an earlier record of its key on the retry path. A retry record due
  // at once, whose x-attempt keeps the attempts failed so far (this one was not processed).
  [[nodiscard]] Plan park(const RouteInput& in, std::int64_t now_ms) const;

  // The dead letter without the input's value, with x-value-omitted-bytes: for a record over
  // max_record_bytes, and when the producer refuses the copy for its size.
  static void without_value(FailureRecord& record, std::size_t value_bytes);

  // The latest x-not-before a retry record of this service can carry when written at `now_ms`: a later one
  // is forged and is treated as due at this time.
  [[nodiscard]] std::int64_t latest_not_before(std::int64_t now_ms) const;

  // The attempt a retry record's processing is (x-attempt + 1, clamped so a forged header cannot overflow);
  // 1 for a record of an input topic.
  [[nodiscard]] static int attempt_of(std::optional<std::int64_t> failed_attempts);

 private:
  [[nodiscard]] std::int32_t retry_partition(const RouteInput& in) const;

  RouterConfig config_;
};

// The headers the stage adds to a result record (docs/contract.md §6) unless the handler set them itself,
// ahead of the handler's own: x-correlation-id — `correlation_id` (the handler's, from its event), else the
// input's `input_correlation_id`, else none — and traceparent, a new span of `input_traceparent`'s trace (a
// new trace when the input has none or a malformed one). Handlers do not build them: every hop of every
// service continues the trace and carries the correlation the same way.
void add_hop_headers(OutRecord& out, std::optional<std::string_view> input_traceparent,
                     std::optional<std::string_view> input_correlation_id, std::string correlation_id);

// The input's headers for its retry or dead-letter record: that record is a hop of its own, so it gets a
// new span of the same trace (W3C traceparent), like a result record; the other headers pass as they are.
Headers hop_headers(Headers input);

}  // namespace orderflow::messaging
