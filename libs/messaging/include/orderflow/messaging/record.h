// Records as the services see them: an outgoing record (topic, key, value, headers), the header names of
// the contract, and read-only accessors for headers of a consumed RdKafka::Message. Plain values; no
// thread-safety concerns. Free of librdkafka's headers (RdKafka::Message is only declared), so that code
// which builds records without consuming them — handlers, routing — does not depend on the client.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace RdKafka {
class Message;
}  // namespace RdKafka

namespace orderflow::messaging {

using Header = std::pair<std::string, std::string>;
using Headers = std::vector<Header>;
// A header of a consumed record: views of bytes the record (or the stage) owns.
using HeaderView = std::pair<std::string_view, std::string_view>;

struct OutRecord {
  std::string topic;
  std::optional<std::string> key;
  std::string value;
  Headers headers;
};

// Header names of the contract (docs/contract.md §6 Headers), the tracing ones included.
namespace header {
inline constexpr std::string_view kOriginalTopic = "x-original-topic";
inline constexpr std::string_view kOriginalPartition = "x-original-partition";
inline constexpr std::string_view kOriginalOffset = "x-original-offset";
inline constexpr std::string_view kAttempt = "x-attempt";
inline constexpr std::string_view kErrorClass = "x-error-class";
inline constexpr std::string_view kErrorMessage = "x-error-message";
inline constexpr std::string_view kFailedService = "x-failed-service";
inline constexpr std::string_view kFailedAt = "x-failed-at";
inline constexpr std::string_view kNotBefore = "x-not-before";
// On a dead letter whose value was left out (record over --max-record-bytes): the original value's size.
inline constexpr std::string_view kValueOmittedBytes = "x-value-omitted-bytes";
inline constexpr std::string_view kCorrelationId = "x-correlation-id";
inline constexpr std::string_view kTraceparent = "traceparent";
inline constexpr std::string_view kOrderOccurredAt = "x-order-occurred-at";
}  // namespace header

// The last header with this name, if any (a NULL value reads as ""). For a message from librdkafka
// the view is of the message's own bytes (valid while the message lives): no copies, use this on
// per-record paths. Other RdKafka::Message implementations (test fakes) only hand out copies: the
// value is then copied into `scratch` and the view is of that.
std::optional<std::string_view> header_value(const RdKafka::Message& msg, std::string_view name,
                                             std::string& scratch);
// The same as a copy.
std::optional<std::string> find_header(const RdKafka::Message& msg, std::string_view name);
// All headers of a message, in order.
Headers all_headers(const RdKafka::Message& msg);
// All headers of a message, in order, as views (into `out`, cleared first): of the message's own bytes for
// a message from librdkafka (no copies); other implementations (test fakes) only hand out copies, which are
// kept in `storage` (cleared first) and viewed there. Valid while the message, `out` and `storage` live.
void header_views(const RdKafka::Message& msg, std::vector<HeaderView>& out, Headers& storage);
// The key bytes of a consumed message, if it has one.
std::optional<std::string> message_key(const RdKafka::Message& msg);
// Parses a decimal int64 header value; nullopt when absent or malformed.
std::optional<std::int64_t> parse_int_header(std::optional<std::string_view> value);

}  // namespace orderflow::messaging
