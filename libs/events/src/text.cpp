#include "text.h"

#include <array>
#include <charconv>
#include <cstdint>

namespace orderflow::events::detail {
namespace {

constexpr std::array<char, 16> kHex = {'0', '1', '2', '3', '4', '5', '6', '7',
                                       '8', '9', 'a', 'b', 'c', 'd', 'e', 'f'};

// For each byte: 1 when it is a hex digit (either case). Random ids mix digits and letters, so a test
// per range mispredicts about every other character; a load does not.
constexpr std::array<std::uint8_t, 256> kIsHex = [] {
  std::array<std::uint8_t, 256> t{};
  for (int c = '0'; c <= '9'; ++c) t[static_cast<std::size_t>(c)] = 1;
  for (int c = 'a'; c <= 'f'; ++c) t[static_cast<std::size_t>(c)] = 1;
  for (int c = 'A'; c <= 'F'; ++c) t[static_cast<std::size_t>(c)] = 1;
  return t;
}();

bool is_digit(char c) noexcept {
  return c >= '0' && c <= '9';
}

int digits(std::string_view s, std::size_t pos, std::size_t count) noexcept {
  int value = 0;
  for (std::size_t k = pos; k < pos + count; ++k) value = value * 10 + (s[k] - '0');
  return value;
}

bool is_leap(int year) noexcept {
  return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

unsigned days_in_month(int year, unsigned month) noexcept {
  static constexpr std::array<unsigned, 12> kDays = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && is_leap(year) ? 29U : kDays[month - 1];
}

void put2(char* p, int v) noexcept {
  p[0] = static_cast<char>('0' + v / 10);
  p[1] = static_cast<char>('0' + v % 10);
}

}  // namespace

void append_json_escaped(std::string& out, std::string_view text) {
  std::size_t i = 0;
  const std::size_t n = text.size();
  while (i < n) {
    // Copy the longest run that needs no attention in one go.
    std::size_t run = i;
    while (run < n) {
      const auto c = static_cast<unsigned char>(text[run]);
      if (c < 0x20 || c == '"' || c == '\\' || c >= 0x80) break;
      ++run;
    }
    out.append(text.data() + i, run - i);
    i = run;
    if (i == n) break;
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x80) {
      if (const std::size_t len = utf8_sequence_length(text, i); len != 0) {
        out.append(text.data() + i, len);
        i += len;
      } else {
        out.append("\xEF\xBF\xBD");
        ++i;
      }
      continue;
    }
    switch (c) {
      case '"':
        out.append("\\\"");
        break;
      case '\\':
        out.append("\\\\");
        break;
      case '\b':
        out.append("\\b");
        break;
      case '\f':
        out.append("\\f");
        break;
      case '\n':
        out.append("\\n");
        break;
      case '\r':
        out.append("\\r");
        break;
      case '\t':
        out.append("\\t");
        break;
      default: {
        const std::array<char, 6> esc = {'\\', 'u', '0', '0', kHex[c >> 4U], kHex[c & 0xFU]};
        out.append(esc.data(), esc.size());
      }
    }
    ++i;
  }
}

void append_int(std::string& out, std::int64_t value) {
  std::array<char, 24> buf{};
  const auto res = std::to_chars(buf.data(), buf.data() + buf.size(), value);
  out.append(buf.data(), res.ptr);
}

bool is_uuid(std::string_view text) noexcept {
  if (text.size() != 36 || text[8] != '-' || text[13] != '-' || text[18] != '-' || text[23] != '-')
    return false;
  unsigned all = 1;
  for (std::size_t i = 0; i < 36; ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) continue;  // unrolled: the compiler drops these tests
    all &= kIsHex[static_cast<unsigned char>(text[i])];
  }
  return all != 0;
}

bool is_currency(std::string_view text) noexcept {
  if (text.size() != 3) return false;
  for (const char c : text) {
    if (c < 'A' || c > 'Z') return false;
  }
  return true;
}

bool parse_timestamp_fields(std::string_view s, TimestampFields& out) noexcept {
  // YYYY-MM-DDTHH:MM:SS.sssZ
  // 0123456789012345678901234
  if (s.size() != 24) return false;
  for (const std::size_t i : {0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18, 20, 21, 22}) {
    if (!is_digit(s[i])) return false;
  }
  if (s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[19] != '.' ||
      s[23] != 'Z') {
    return false;
  }
  out.year = digits(s, 0, 4);
  out.month = static_cast<unsigned>(digits(s, 5, 2));
  out.day = static_cast<unsigned>(digits(s, 8, 2));
  out.hour = digits(s, 11, 2);
  out.minute = digits(s, 14, 2);
  out.second = digits(s, 17, 2);
  out.millisecond = digits(s, 20, 3);
  return out.month >= 1 && out.month <= 12 && out.day >= 1 && out.day <= days_in_month(out.year, out.month) &&
         out.hour <= 23 && out.minute <= 59 && out.second <= 59;
}

void write_timestamp(const TimestampFields& f, char* p) noexcept {
  put2(p, f.year / 100);
  put2(p + 2, f.year % 100);
  p[4] = '-';
  put2(p + 5, static_cast<int>(f.month));
  p[7] = '-';
  put2(p + 8, static_cast<int>(f.day));
  p[10] = 'T';
  put2(p + 11, f.hour);
  p[13] = ':';
  put2(p + 14, f.minute);
  p[16] = ':';
  put2(p + 17, f.second);
  p[19] = '.';
  p[20] = static_cast<char>('0' + f.millisecond / 100);
  put2(p + 21, f.millisecond % 100);
  p[23] = 'Z';
}

}  // namespace orderflow::events::detail
