// Text helpers of the events library: UTF-8 code point counting, JSON string escaping and the hand-written
// format checks (UUID, currency, timestamp) used on the hot path instead of regular expressions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace orderflow::events::detail {

// Number of Unicode code points of valid UTF-8 text (what JSON Schema's minLength/maxLength count).
[[nodiscard]] inline std::size_t code_points(std::string_view utf8) noexcept {
  std::size_t n = 0;
  for (const char c : utf8) {
    // Every code point has exactly one byte that is not a continuation byte (10xxxxxx).
    n += (static_cast<unsigned char>(c) & 0xC0U) != 0x80U ? 1U : 0U;
  }
  return n;
}

// Length of the well-formed UTF-8 sequence starting at s[i] (RFC 3629 table 3-7), 0 when ill-formed.
[[nodiscard]] inline std::size_t utf8_sequence_length(std::string_view s, std::size_t i) noexcept {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const auto b0 = byte(i);
  const std::size_t left = s.size() - i;
  const auto cont = [&](std::size_t k, unsigned lo, unsigned hi) {
    return k < left && byte(i + k) >= lo && byte(i + k) <= hi;
  };
  if (b0 >= 0xC2 && b0 <= 0xDF) return cont(1, 0x80, 0xBF) ? 2 : 0;
  if (b0 == 0xE0) return cont(1, 0xA0, 0xBF) && cont(2, 0x80, 0xBF) ? 3 : 0;
  if ((b0 >= 0xE1 && b0 <= 0xEC) || b0 == 0xEE || b0 == 0xEF)
    return cont(1, 0x80, 0xBF) && cont(2, 0x80, 0xBF) ? 3 : 0;
  if (b0 == 0xED) return cont(1, 0x80, 0x9F) && cont(2, 0x80, 0xBF) ? 3 : 0;  // no surrogates
  if (b0 == 0xF0) return cont(1, 0x90, 0xBF) && cont(2, 0x80, 0xBF) && cont(3, 0x80, 0xBF) ? 4 : 0;
  if (b0 >= 0xF1 && b0 <= 0xF3)
    return cont(1, 0x80, 0xBF) && cont(2, 0x80, 0xBF) && cont(3, 0x80, 0xBF) ? 4 : 0;
  if (b0 == 0xF4) return cont(1, 0x80, 0x8F) && cont(2, 0x80, 0xBF) && cont(3, 0x80, 0xBF) ? 4 : 0;
  return 0;
}

// Appends `text` as the body of a JSON string (without the quotes): '"', '\\' and control characters are
// escaped, valid UTF-8 is copied as is, each byte of an invalid UTF-8 sequence becomes U+FFFD.
void append_json_escaped(std::string& out, std::string_view text);

// Appends a quoted JSON string.
inline void append_json_string(std::string& out, std::string_view text) {
  out.push_back('"');
  append_json_escaped(out, text);
  out.push_back('"');
}

void append_int(std::string& out, std::int64_t value);

// 8-4-4-4-12 hexadecimal digits (either case), 36 characters.
[[nodiscard]] bool is_uuid(std::string_view text) noexcept;

// Exactly three ASCII upper-case letters.
[[nodiscard]] bool is_currency(std::string_view text) noexcept;

struct TimestampFields {
  int year = 0;
  unsigned month = 0;
  unsigned day = 0;
  int hour = 0;
  int minute = 0;
  int second = 0;
  int millisecond = 0;
};

// Parses "YYYY-MM-DDTHH:MM:SS.sssZ" with a real calendar date; false for anything else.
[[nodiscard]] bool parse_timestamp_fields(std::string_view text, TimestampFields& out) noexcept;

// Writes "YYYY-MM-DDTHH:MM:SS.sssZ" (24 characters) to `buffer`.
void write_timestamp(const TimestampFields& fields, char* buffer) noexcept;

}  // namespace orderflow::events::detail
