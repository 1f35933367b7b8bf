// A consumed record for handler tests and benchmarks, without Kafka: it owns its key, value and headers
// and hands out the RecordView the stage would build for it. `handle_like_stage` calls a handler as the
// stage does — prepare (the one parse), then process — and puts the outputs through StageRouter::accept, so
// they carry the headers the stage adds (traceparent, x-correlation-id). Header only; target
// orderflow::messaging_testing.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "orderflow/messaging/handler.h"
#include "orderflow/messaging/record.h"
#include "orderflow/messaging/stage_router.h"

namespace orderflow::testing {

class TestRecord {
 public:
  TestRecord(std::string topic, std::string value, std::optional<std::string> key = std::nullopt,
             messaging::Headers headers = {}, std::int32_t partition = 0, std::int64_t offset = 0)
      : topic_(std::move(topic)),
        value_(std::move(value)),
        key_(std::move(key)),
        headers_(std::move(headers)),
        partition_(partition),
        offset_(offset) {
    views_.assign(headers_.begin(), headers_.end());
  }
  TestRecord(const TestRecord&) = delete;  // the views point into this object
  TestRecord& operator=(const TestRecord&) = delete;

  // As read from the retry topic: it first came from `source_topic`, this is attempt `attempt`.
  TestRecord& retried(std::string source_topic, int attempt) {
    source_topic_ = std::move(source_topic);
    attempt_ = attempt;
    return *this;
  }

  [[nodiscard]] messaging::RecordView view() const {
    messaging::RecordView v;
    if (key_) v.key = *key_;
    v.value = value_;
    v.headers = views_;
    v.topic = topic_;
    v.partition = partition_;
    v.offset = offset_;
    v.source_topic = source_topic_ ? std::string_view(*source_topic_) : std::string_view(topic_);
    v.attempt = attempt_;
    return v;
  }

 private:
  std::string topic_;
  std::string value_;
  std::optional<std::string> key_;
  messaging::Headers headers_;
  std::vector<messaging::HeaderView> views_;
  std::int32_t partition_;
  std::int64_t offset_;
  std::optional<std::string> source_topic_;
  int attempt_ = 1;
};

// What the stage would publish for `record` through `handler` (or the failure it would route): prepare,
// process, then the outputs with the headers the stage adds.
inline messaging::HandlerResult handle_like_stage(messaging::RecordHandler& handler,
                                                  const messaging::RecordView& record) {
  if (auto failure = handler.prepare(record)) return messaging::HandlerResult::fail(std::move(*failure));
  auto result = handler.process(record);
  if (result.failure) return result;
  const auto outcome = result.outcome;
  auto plan = messaging::StageRouter::accept(std::move(result), record.headers);
  messaging::HandlerResult published;
  published.outcome = outcome;
  published.outputs = std::move(plan.outputs);
  return published;
}

}  // namespace orderflow::testing
