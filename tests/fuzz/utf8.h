// An independent strict UTF-8 check (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF),
// written from the RFC rather than reusing the events library's helper, so the two can disagree.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace orderflow::fuzz {

inline bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<std::uint8_t>(s[i]);
    std::size_t len = 0;
    std::uint32_t cp = 0;
    if (b < 0x80) {
      ++i;
      continue;
    }
    if ((b & 0xE0U) == 0xC0U) {
      len = 2;
      cp = b & 0x1FU;
    } else if ((b & 0xF0U) == 0xE0U) {
      len = 3;
      cp = b & 0x0FU;
    } else if ((b & 0xF8U) == 0xF0U) {
      len = 4;
      cp = b & 0x07U;
    } else {
      return false;
    }
    if (i + len > s.size()) return false;
    for (std::size_t k = 1; k < len; ++k) {
      const auto c = static_cast<std::uint8_t>(s[i + k]);
      if ((c & 0xC0U) != 0x80U) return false;
      cp = (cp << 6U) | (c & 0x3FU);
    }
    const std::uint32_t min = len == 2 ? 0x80U : len == 3 ? 0x800U : 0x10000U;
    if (cp < min || cp > 0x10FFFFU || (cp >= 0xD800U && cp <= 0xDFFFU)) return false;
    i += len;
  }
  return true;
}

}  // namespace orderflow::fuzz
