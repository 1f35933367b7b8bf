#include "orderflow/messaging/record.h"

#include <charconv>

namespace orderflow::messaging {

std::optional<std::string> find_header(const RdKafka::Message& msg, std::string_view name) {
  // headers() on a const message is not const in the C++ API; the message keeps ownership.
  auto* headers = const_cast<RdKafka::Message&>(msg).headers();
  if (headers == nullptr) return std::nullopt;
  const auto found = headers->get_last(std::string(name));
  if (found.err() != RdKafka::ERR_NO_ERROR) return std::nullopt;
  if (found.value() == nullptr) return std::string();
  return std::string(static_cast<const char*>(found.value()), found.value_size());
}

Headers all_headers(const RdKafka::Message& msg) {
  Headers out;
  auto* headers = const_cast<RdKafka::Message&>(msg).headers();
  if (headers == nullptr) return out;
  for (const auto& h : headers->get_all()) {
    out.emplace_back(h.key(), h.value() == nullptr
                                  ? std::string()
                                  : std::string(static_cast<const char*>(h.value()), h.value_size()));
  }
  return out;
}

std::optional<std::string> message_key(const RdKafka::Message& msg) {
  if (msg.key_pointer() == nullptr) return std::nullopt;
  return std::string(static_cast<const char*>(msg.key_pointer()), msg.key_len());
}

std::optional<std::int64_t> parse_int_header(const std::optional<std::string>& value) {
  if (!value || value->empty()) return std::nullopt;
  std::int64_t out = 0;
  const char* first = value->data();
  const char* last = first + value->size();
  auto [ptr, ec] = std::from_chars(first, last, out);
  if (ec != std::errc() || ptr != last) return std::nullopt;
  return out;
}

}  // namespace orderflow::messaging
