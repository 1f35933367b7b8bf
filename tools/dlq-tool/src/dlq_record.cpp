#include "orderflow/dlq/dlq_record.h"

#include <algorithm>
#include <array>

#include <nlohmann/json.hpp>

namespace orderflow::dlq {

namespace {

std::optional<std::string> last_header(const messaging::Headers& headers, std::string_view name) {
  for (auto it = headers.rbegin(); it != headers.rend(); ++it) {
    if (it->first == name) return it->second;
  }
  return std::nullopt;
}

// Length of the well-formed UTF-8 sequence starting at bytes[i] (2..4), or 0 when there is none.
// Rejects overlong forms, surrogates and code points above U+10FFFF, as RFC 3629 does.
std::size_t utf8_sequence(std::string_view bytes, std::size_t i) {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(bytes[k]); };
  const unsigned char lead = b(i);
  std::size_t len = 0;
  unsigned char lo = 0x80;
  unsigned char hi = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    len = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    len = 3;
    if (lead == 0xE0) lo = 0xA0;
    if (lead == 0xED) hi = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    len = 4;
    if (lead == 0xF0) lo = 0x90;
    if (lead == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (i + len > bytes.size()) return 0;
  if (b(i + 1) < lo || b(i + 1) > hi) return 0;
  for (std::size_t k = 2; k < len; ++k) {
    if (b(i + k) < 0x80 || b(i + k) > 0xBF) return 0;
  }
  // C1 control characters (U+0080..U+009F) are as unprintable as their ASCII cousins.
  if (len == 2 && lead == 0xC2 && b(i + 1) <= 0x9F) return 0;
  return len;
}

std::string_view preview_of(const std::string& value, std::size_t preview) {
  return std::string_view(value).substr(0, std::min(preview, value.size()));
}

}  // namespace

std::optional<std::string> DlqRecord::header(std::string_view name) const {
  return last_header(headers, name);
}
std::optional<std::string> DlqRecord::error_class() const {
  return header(messaging::header::kErrorClass);
}
std::optional<std::string> DlqRecord::failed_service() const {
  return header(messaging::header::kFailedService);
}
std::optional<std::string> DlqRecord::original_topic() const {
  return header(messaging::header::kOriginalTopic);
}

DlqRecord from_message(const RdKafka::Message& msg) {
  DlqRecord r;
  r.topic = msg.topic_name();
  r.partition = msg.partition();
  r.offset = msg.offset();
  r.timestamp_ms = msg.timestamp().timestamp;
  r.key = messaging::message_key(msg);
  if (msg.payload() != nullptr) {
    r.value.assign(static_cast<const char*>(msg.payload()), msg.len());
  } else {
    r.value_null = true;
  }
  r.headers = messaging::all_headers(msg);
  return r;
}

bool is_failure_header(std::string_view name) {
  namespace h = messaging::header;
  static constexpr std::array<std::string_view, 9> kFailure = {
      h::kOriginalTopic, h::kOriginalPartition, h::kOriginalOffset, h::kAttempt,  h::kErrorClass,
      h::kErrorMessage,  h::kFailedService,     h::kFailedAt,       h::kNotBefore};
  return std::find(kFailure.begin(), kFailure.end(), name) != kFailure.end();
}

messaging::Headers replay_headers(const messaging::Headers& headers) {
  messaging::Headers out;
  for (const auto& h : headers) {
    if (!is_failure_header(h.first)) out.push_back(h);
  }
  return out;
}

std::string escape_bytes(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size());
  for (std::size_t i = 0; i < bytes.size();) {
    const auto c = static_cast<unsigned char>(bytes[i]);
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c >= 0x20 && c < 0x7F) {
      out += static_cast<char>(c);
    } else if (const auto len = c >= 0x80 ? utf8_sequence(bytes, i) : 0; len > 0) {
      out.append(bytes.substr(i, len));
      i += len;
      continue;
    } else {
      out += "\\x";
      out += kHex[c >> 4U];
      out += kHex[c & 0x0FU];
    }
    ++i;
  }
  return out;
}

std::string base64_encode(std::string_view bytes) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  const auto b = [&](std::size_t k) {
    return static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[k]));
  };
  for (; i + 2 < bytes.size(); i += 3) {
    const std::uint32_t n = (b(i) << 16U) | (b(i + 1) << 8U) | b(i + 2);
    out += kAlphabet[(n >> 18U) & 63U];
    out += kAlphabet[(n >> 12U) & 63U];
    out += kAlphabet[(n >> 6U) & 63U];
    out += kAlphabet[n & 63U];
  }
  if (const auto rest = bytes.size() - i; rest > 0) {
    const std::uint32_t n = (b(i) << 16U) | (rest == 2 ? b(i + 1) << 8U : 0U);
    out += kAlphabet[(n >> 18U) & 63U];
    out += kAlphabet[(n >> 12U) & 63U];
    out += rest == 2 ? kAlphabet[(n >> 6U) & 63U] : '=';
    out += '=';
  }
  return out;
}

std::string format_text(const DlqRecord& r, std::size_t preview) {
  std::string out = "partition " + std::to_string(r.partition) + " offset " + std::to_string(r.offset) +
                    " key " + (r.key ? "\"" + escape_bytes(*r.key) + "\"" : std::string("(null)")) +
                    (r.value_null ? std::string(" value (null)\n")
                                  : " value " + std::to_string(r.value.size()) + " bytes\n");
  for (const auto& [name, value] : r.headers) {
    out += "  " + escape_bytes(name) + ": " + escape_bytes(value) + "\n";
  }
  out += "  value: " + escape_bytes(preview_of(r.value, preview));
  if (r.value.size() > preview) out += "… (" + std::to_string(r.value.size() - preview) + " more bytes)";
  out += "\n";
  return out;
}

std::string format_json(const DlqRecord& r, std::size_t preview, std::string_view replay_to) {
  nlohmann::ordered_json j;
  j["topic"] = r.topic;
  j["partition"] = r.partition;
  j["offset"] = r.offset;
  j["timestamp_ms"] = r.timestamp_ms;
  j["key"] = r.key ? nlohmann::ordered_json(escape_bytes(*r.key)) : nlohmann::ordered_json(nullptr);
  auto headers = nlohmann::ordered_json::object();
  for (const auto& [name, value] : r.headers) headers[escape_bytes(name)] = escape_bytes(value);
  j["headers"] = std::move(headers);
  j["value"] = r.value_null ? nlohmann::ordered_json(nullptr)
                            : nlohmann::ordered_json(escape_bytes(preview_of(r.value, preview)));
  j["value_bytes"] = r.value.size();
  j["value_truncated"] = r.value.size() > preview;
  j["value_base64"] =
      r.value_null ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(base64_encode(r.value));
  if (!replay_to.empty()) j["replay_to"] = std::string(replay_to);
  // escape_bytes leaves only well-formed UTF-8, so dump() cannot throw on encoding.
  return j.dump();
}

}  // namespace orderflow::dlq
