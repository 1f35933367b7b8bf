// What a service writes to run in the stage loop (docs/design.md "Handlers"): a handler sees each consumed
// record as a RecordView — key, value, headers and where it was read, no Kafka types — and answers with a
// HandlerResult (its outputs, or a Failure). The stage builds the view, parses each record once through the
// handler, routes failures and adds the trace and correlation headers to every output (StageRouter::accept),
// so a handler sets only the headers of its own domain. A service normally derives from
// TypedHandler<Event>: a parse function and a handle(const Event&, const RecordView&).
// Free of librdkafka's headers. Handlers are called on the stage thread only.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "orderflow/messaging/failure.h"
#include "orderflow/messaging/record.h"

namespace orderflow::messaging {

// One consumed record as a handler sees it. Views of the consumed record's bytes (or of the stage's copies):
// valid during the handler call they are passed to, not after.
struct RecordView {
  std::optional<std::string_view> key;  // nullopt when the record has no key
  std::string_view value;
  std::span<const HeaderView> headers;  // all of them, in order
  // Where it was read now: an input topic, or the stage's retry topic.
  std::string_view topic;
  std::int32_t partition = -1;
  std::int64_t offset = -1;
  // The input topic it first came from: `topic`, or x-original-topic for a record read from the retry topic.
  // Handlers that read several inputs tell the event type by this.
  std::string_view source_topic;
  int attempt = 1;  // 1 on first processing, x-attempt + 1 on a retry

  // The last header with this name, if any.
  [[nodiscard]] std::optional<std::string_view> header(std::string_view name) const {
    std::optional<std::string_view> found;
    for (const auto& [n, v] : headers) {
      if (n == name) found = v;
    }
    return found;
  }
};

// How the processing of one input record ended. Its to_string is the `outcome` label of
// orderflow_events_processed_total (docs/contract.md §9 Metrics).
enum class Outcome {
  Success,       // the handler's outputs were published (possibly none: a duplicate)
  Declined,      // the same, for a business decline the handler reports (a declined payment)
  Retried,       // sent to the retry topic: a transient failure, or parked behind its key
  DeadLettered,  // sent to the dead-letter topic
  Skipped,       // a stale retry copy consumed without processing: no outcome is counted
};

// "success" | "declined" | "retried" | "dead_lettered"; "" for Skipped.
std::string_view to_string(Outcome outcome);

struct HandlerResult {
  // May be empty: consumed, nothing to publish (e.g. a duplicate). The stage adds traceparent and
  // x-correlation-id to each one that does not set them itself.
  std::vector<OutRecord> outputs;
  std::optional<Failure> failure;      // set: route to retry / dead letter instead of outputs
  Outcome outcome = Outcome::Success;  // when there is no failure: Success or Declined
  // The outputs' x-correlation-id when the handler knows it from the event (the order id, docs/contract.md
  // §6); empty: the input's x-correlation-id is carried over.
  std::string correlation_id;

  static HandlerResult fail(Failure f) {
    HandlerResult r;
    r.failure = std::move(f);
    return r;
  }
};

// The stage's side of a handler. For each consumed record the stage calls prepare() once — parse and
// validate, no side effects — and then, if it returned nothing and the record is to be processed now,
// process() for that same record. A record queued behind an earlier record of its key (--retry-ordering key)
// is only prepared: a poison one is dead-lettered at once, any other is parked on the retry topic and
// prepared again when it is read back from there (a record of its own, maybe on another instance after a
// rebalance). Exceptions from either count as transient failures.
class RecordHandler {
 public:
  virtual ~RecordHandler() = default;
  // nullopt, or why the record cannot be processed (poison: never; transient: not now).
  virtual std::optional<Failure> prepare(const RecordView& /*record*/) { return std::nullopt; }
  // The decision and the side effects of the service (sink delivery) for the record just prepared.
  virtual HandlerResult process(const RecordView& record) = 0;
  // Exactly-once: the open transaction was aborted and input rewound; forget state built since.
  virtual void on_rewind() {}
  // Called before offsets are committed (and before a transaction commits): make the side effects of
  // every record handled so far durable (flush buffered sinks). An error stops the stage without
  // committing, so those records are read again after a restart.
  virtual std::optional<std::string> before_commit() { return std::nullopt; }
};

// A handler of records that carry one `Event` (a variant, for a service that reads several event types):
// `parse` turns a record into the event or a Failure (poison for what can never parse), `handle` acts on
// the parsed event. The stage parses each record once: the event parsed by prepare() is kept for the
// process() that follows it. One record is handled at a time (the stage thread), so one slot suffices.
template <class Event>
class TypedHandler : public RecordHandler {
 public:
  using Parsed = std::variant<Event, Failure>;

  virtual Parsed parse(const RecordView& record) = 0;
  virtual HandlerResult handle(const Event& event, const RecordView& record) = 0;

  std::optional<Failure> prepare(const RecordView& record) final {
    auto parsed = parse(record);
    if (auto* failure = std::get_if<Failure>(&parsed)) {
      event_.reset();
      return std::move(*failure);
    }
    event_.emplace(std::get<Event>(std::move(parsed)));
    return std::nullopt;
  }

  HandlerResult process(const RecordView& record) final {
    // The stage never calls process() without a successful prepare() of the record; should that change,
    // the record is retried rather than handled with the previous record's event.
    if (!event_) return HandlerResult::fail(Failure::transient("record processed without being parsed"));
    auto result = handle(*event_, record);
    event_.reset();
    return result;
  }

 private:
  std::optional<Event> event_;
};

}  // namespace orderflow::messaging
