#include "orderflow/messaging/record.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafkacpp.h>

#include <charconv>
#include <cstring>

namespace orderflow::messaging {

namespace {

std::string_view view_of(const void* value, std::size_t size) {
  return value == nullptr ? std::string_view() : std::string_view(static_cast<const char*>(value), size);
}

// The message's header list at the C level, without copies: librdkafka parses a consumed record's
// headers once, on first access, and frees them with the message. The C++ API's headers() detaches
// that list into a new RdKafka::Headers whose get_last()/get_all() copy every name and value: per
// record that was about a tenth of payment-service's CPU. nullptr for messages without a C object
// (test fakes) and for messages without headers.
const rd_kafka_headers_t* c_headers(const RdKafka::Message& msg, bool& has_c_message) {
  // c_ptr() is not const in the C++ API; the message keeps ownership of what it returns.
  rd_kafka_message_t* c = const_cast<RdKafka::Message&>(msg).c_ptr();
  has_c_message = c != nullptr;
  rd_kafka_headers_t* headers = nullptr;
  if (c == nullptr || rd_kafka_message_headers(c, &headers) != RD_KAFKA_RESP_ERR_NO_ERROR) return nullptr;
  return headers;
}

// Messages without a C object: through the C++ API (copies).
RdKafka::Headers* cpp_headers(const RdKafka::Message& msg) {
  return const_cast<RdKafka::Message&>(msg).headers();
}

// Calls f(name, value) for each header of a C header list, in order; views of the list's own bytes.
template <class F>
void for_each_header(const rd_kafka_headers_t* headers, F&& f) {
  const char* n = nullptr;
  const void* v = nullptr;
  std::size_t size = 0;
  for (std::size_t i = 0; rd_kafka_header_get_all(headers, i, &n, &v, &size) == RD_KAFKA_RESP_ERR_NO_ERROR;
       ++i) {
    f(std::string_view(n, std::strlen(n)), view_of(v, size));
  }
}

}  // namespace

std::optional<std::string_view> header_value(const RdKafka::Message& msg, std::string_view name,
                                             std::string& scratch) {
  bool has_c_message = false;
  if (const rd_kafka_headers_t* headers = c_headers(msg, has_c_message)) {
    std::optional<std::string_view> found;
    for_each_header(headers, [&](std::string_view n, std::string_view v) {
      if (n == name) found = v;
    });
    return found;
  }
  if (has_c_message) return std::nullopt;
  const RdKafka::Headers* headers = cpp_headers(msg);
  if (headers == nullptr) return std::nullopt;
  const auto h = headers->get_last(std::string(name));
  if (h.err() != RdKafka::ERR_NO_ERROR) return std::nullopt;
  scratch.assign(view_of(h.value(), h.value_size()));
  return std::string_view(scratch);
}

std::optional<std::string> find_header(const RdKafka::Message& msg, std::string_view name) {
  std::string scratch;
  const auto value = header_value(msg, name, scratch);
  if (!value) return std::nullopt;
  return std::string(*value);
}

Headers all_headers(const RdKafka::Message& msg) {
  Headers out;
  bool has_c_message = false;
  if (const rd_kafka_headers_t* headers = c_headers(msg, has_c_message)) {
    for_each_header(headers, [&](std::string_view n, std::string_view v) { out.emplace_back(n, v); });
    return out;
  }
  if (has_c_message) return out;
  const RdKafka::Headers* headers = cpp_headers(msg);
  if (headers == nullptr) return out;
  for (const auto& h : headers->get_all())
    out.emplace_back(h.key(), std::string(view_of(h.value(), h.value_size())));
  return out;
}

void header_views(const RdKafka::Message& msg, std::vector<HeaderView>& out, Headers& storage) {
  out.clear();
  storage.clear();
  bool has_c_message = false;
  if (const rd_kafka_headers_t* headers = c_headers(msg, has_c_message)) {
    for_each_header(headers, [&](std::string_view n, std::string_view v) { out.emplace_back(n, v); });
    return;
  }
  if (has_c_message) return;
  storage = all_headers(msg);
  // Views only once `storage` is complete: growing it would move short (inline) strings.
  for (const auto& [name, value] : storage) out.emplace_back(name, value);
}

std::optional<std::string> message_key(const RdKafka::Message& msg) {
  if (msg.key_pointer() == nullptr) return std::nullopt;
  return std::string(static_cast<const char*>(msg.key_pointer()), msg.key_len());
}

std::optional<std::int64_t> parse_int_header(std::optional<std::string_view> value) {
  if (!value || value->empty()) return std::nullopt;
  std::int64_t out = 0;
  const char* first = value->data();
  const char* last = first + value->size();
  auto [ptr, ec] = std::from_chars(first, last, out);
  if (ec != std::errc() || ptr != last) return std::nullopt;
  return out;
}

}  // namespace orderflow::messaging
