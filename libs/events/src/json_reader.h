// A strict, allocation-free JSON (RFC 8259) reader that drives a SAX-style handler: one value, nothing after
// it but whitespace, UTF-8 validated (no overlong forms, no surrogates), \u escapes decoded (lone surrogates
// rejected), bounded nesting without recursion. Strings without escapes reach the handler as views into the
// input (no copy). Written for the hot path of parse_*(): several times faster than a general DOM parser.
//
// Handler interface (each returns false to stop reading):
//   bool null(); bool boolean(bool); bool number_integer(std::int64_t); bool number_unsigned(std::uint64_t);
//   bool number_float(double, std::string_view token);  // also integer tokens beyond 64 bits
//   bool string(std::string_view); bool key(std::string_view);
//   bool start_object(); bool end_object(); bool start_array(); bool end_array();
//   void syntax_error(std::size_t byte_offset, std::string_view what);
//   void too_deep();
#pragma once

#include <array>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "text.h"

namespace orderflow::events::detail {

template <class Handler, int MaxDepth>
class JsonReader {
 public:
  JsonReader(std::string_view input, Handler& handler) : in_(input), h_(handler) {}

  // True when the whole input was read and the handler never stopped it.
  bool run() {
    enum class State : std::uint8_t { Value, AfterValue, Key };
    State state = State::Value;
    int depth = 0;
    for (;;) {
      skip_ws();
      switch (state) {
        case State::Value: {
          if (pos_ >= in_.size()) return error("unexpected end of input");
          const char c = in_[pos_];
          if (c == '{' || c == '[') {
            if (depth == MaxDepth) {
              h_.too_deep();
              return false;
            }
            ++pos_;
            const bool object = c == '{';
            stack_[static_cast<std::size_t>(depth++)] = object;
            if (!(object ? h_.start_object() : h_.start_array())) return false;
            skip_ws();
            if (pos_ < in_.size() && in_[pos_] == (object ? '}' : ']')) {
              ++pos_;
              --depth;
              if (!(object ? h_.end_object() : h_.end_array())) return false;
              state = State::AfterValue;
            } else {
              state = object ? State::Key : State::Value;
            }
            continue;
          }
          if (!scalar(c)) return false;
          state = State::AfterValue;
          continue;
        }
        case State::AfterValue: {
          if (depth == 0) {
            if (pos_ != in_.size()) return error("unexpected data after the JSON value");
            return true;
          }
          if (pos_ >= in_.size()) return error("unexpected end of input");
          const bool object = stack_[static_cast<std::size_t>(depth - 1)];
          const char c = in_[pos_];
          if (c == ',') {
            ++pos_;
            state = object ? State::Key : State::Value;
          } else if (c == (object ? '}' : ']')) {
            ++pos_;
            --depth;
            if (!(object ? h_.end_object() : h_.end_array())) return false;
          } else {
            return error(object ? "expected ',' or '}' after an object member"
                                : "expected ',' or ']' after an array element");
          }
          continue;
        }
        case State::Key: {
          if (pos_ >= in_.size()) return error("unexpected end of input");
          if (in_[pos_] != '"') return error("expected a string as object key");
          std::string_view key;
          if (!read_string(key)) return false;
          if (!h_.key(key)) return false;
          skip_ws();
          if (pos_ >= in_.size() || in_[pos_] != ':') return error("expected ':' after an object key");
          ++pos_;
          state = State::Value;
          continue;
        }
      }
    }
  }

 private:
  // Bytes that end a plain run inside a string: quote, backslash, control characters, non-ASCII.
  static constexpr std::array<bool, 256> kSpecial = [] {
    std::array<bool, 256> t{};
    for (std::size_t c = 0; c < 256; ++c) t[c] = c < 0x20 || c == '"' || c == '\\' || c >= 0x80;
    return t;
  }();

  bool error(std::string_view what) {
    h_.syntax_error(pos_, what);
    return false;
  }

  void skip_ws() noexcept {
    while (pos_ < in_.size()) {
      const char c = in_[pos_];
      if (c != ' ' && c != '\n' && c != '\r' && c != '\t') return;
      ++pos_;
    }
  }

  bool scalar(char c) {
    switch (c) {
      case '"': {
        std::string_view s;
        return read_string(s) && h_.string(s);
      }
      case 't':
        return literal("true") && h_.boolean(true);
      case 'f':
        return literal("false") && h_.boolean(false);
      case 'n':
        return literal("null") && h_.null();
      default:
        if (c == '-' || (c >= '0' && c <= '9')) return number();
        return error("unexpected character");
    }
  }

  bool literal(std::string_view word) {
    if (in_.substr(pos_, word.size()) != word) return error("invalid literal");
    pos_ += word.size();
    return true;
  }

  static bool digit(char c) noexcept { return c >= '0' && c <= '9'; }

  bool number() {
    const std::size_t start = pos_;
    const auto at = [&](std::size_t i) { return i < in_.size() ? in_[i] : '\0'; };
    if (at(pos_) == '-') ++pos_;
    if (at(pos_) == '0') {
      ++pos_;
      if (digit(at(pos_))) return error("invalid number: leading zero");
    } else if (digit(at(pos_))) {
      while (digit(at(pos_))) ++pos_;
    } else {
      return error("invalid number");
    }
    bool integer = true;
    if (at(pos_) == '.') {
      ++pos_;
      if (!digit(at(pos_))) return error("invalid number: expected a digit after '.'");
      while (digit(at(pos_))) ++pos_;
      integer = false;
    }
    if (at(pos_) == 'e' || at(pos_) == 'E') {
      ++pos_;
      if (at(pos_) == '+' || at(pos_) == '-') ++pos_;
      if (!digit(at(pos_))) return error("invalid number: expected a digit in the exponent");
      while (digit(at(pos_))) ++pos_;
      integer = false;
    }
    const std::string_view token = in_.substr(start, pos_ - start);
    const char* first = token.data();
    const char* last = token.data() + token.size();
    if (integer) {
      std::int64_t i = 0;
      if (const auto r = std::from_chars(first, last, i); r.ec == std::errc{} && r.ptr == last) {
        return h_.number_integer(i);
      }
      std::uint64_t u = 0;
      if (const auto r = std::from_chars(first, last, u); r.ec == std::errc{} && r.ptr == last) {
        return h_.number_unsigned(u);
      }
    }
    double d = 0;
    if (const auto r = std::from_chars(first, last, d); r.ec == std::errc::result_out_of_range) {
      d = token.front() == '-' ? -HUGE_VAL : HUGE_VAL;  // magnitude beyond double (tiny values round to 0)
    }
    return h_.number_float(d, token);
  }

  // Reads the string starting at the '"' at pos_; `out` views the input, or scratch_ when it had escapes.
  bool read_string(std::string_view& out) {
    const std::size_t begin = ++pos_;
    bool escaped = false;
    for (;;) {
      // Run of bytes that need no attention, found with a table lookup per byte.
      const char* const run_begin = in_.data() + pos_;
      const char* const end = in_.data() + in_.size();
      const char* p = run_begin;
      while (p != end && !kSpecial[static_cast<unsigned char>(*p)]) ++p;
      if (escaped) scratch_.append(run_begin, static_cast<std::size_t>(p - run_begin));
      pos_ = static_cast<std::size_t>(p - in_.data());
      if (pos_ >= in_.size()) return error("unterminated string");
      const auto c = static_cast<unsigned char>(in_[pos_]);
      if (c == '"') {
        out = escaped ? std::string_view(scratch_) : in_.substr(begin, pos_ - begin);
        ++pos_;
        return true;
      }
      if (c < 0x20) return error("control character in string (must be escaped)");
      if (c >= 0x80) {
        const std::size_t len = utf8_sequence_length(in_, pos_);
        if (len == 0) return error("invalid UTF-8 in string");
        if (escaped) scratch_.append(in_.data() + pos_, len);
        pos_ += len;
        continue;
      }
      // Backslash.
      if (!escaped) {
        escaped = true;
        scratch_.assign(in_.data() + begin, pos_ - begin);
      }
      if (!escape()) return false;
    }
  }

  bool escape() {
    const std::size_t at = pos_;
    if (pos_ + 1 >= in_.size()) return error("unterminated string");
    const char e = in_[pos_ + 1];
    pos_ += 2;
    switch (e) {
      case '"':
        scratch_.push_back('"');
        return true;
      case '\\':
        scratch_.push_back('\\');
        return true;
      case '/':
        scratch_.push_back('/');
        return true;
      case 'b':
        scratch_.push_back('\b');
        return true;
      case 'f':
        scratch_.push_back('\f');
        return true;
      case 'n':
        scratch_.push_back('\n');
        return true;
      case 'r':
        scratch_.push_back('\r');
        return true;
      case 't':
        scratch_.push_back('\t');
        return true;
      case 'u':
        break;
      default:
        pos_ = at;
        return error("invalid escape in string");
    }
    std::uint32_t cp = 0;
    if (!hex4(cp)) return false;
    if (cp >= 0xD800 && cp <= 0xDBFF) {
      std::uint32_t low = 0;
      if (pos_ + 1 >= in_.size() || in_[pos_] != '\\' || in_[pos_ + 1] != 'u') {
        pos_ = at;
        return error("lone surrogate in \\u escape");
      }
      pos_ += 2;
      if (!hex4(low)) return false;
      if (low < 0xDC00 || low > 0xDFFF) {
        pos_ = at;
        return error("lone surrogate in \\u escape");
      }
      cp = 0x10000 + ((cp - 0xD800) << 10U) + (low - 0xDC00);
    } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
      pos_ = at;
      return error("lone surrogate in \\u escape");
    }
    append_utf8(cp);
    return true;
  }

  bool hex4(std::uint32_t& value) {
    if (pos_ + 4 > in_.size()) return error("invalid \\u escape");
    value = 0;
    for (std::size_t i = 0; i < 4; ++i) {
      const char c = in_[pos_ + i];
      std::uint32_t v = 0;
      if (c >= '0' && c <= '9') {
        v = static_cast<std::uint32_t>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        v = static_cast<std::uint32_t>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        v = static_cast<std::uint32_t>(c - 'A' + 10);
      } else {
        return error("invalid \\u escape");
      }
      value = (value << 4U) | v;
    }
    pos_ += 4;
    return true;
  }

  void append_utf8(std::uint32_t cp) {
    if (cp < 0x80) {
      scratch_.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      scratch_.push_back(static_cast<char>(0xC0U | (cp >> 6U)));
      scratch_.push_back(static_cast<char>(0x80U | (cp & 0x3FU)));
    } else if (cp < 0x10000) {
      scratch_.push_back(static_cast<char>(0xE0U | (cp >> 12U)));
      scratch_.push_back(static_cast<char>(0x80U | ((cp >> 6U) & 0x3FU)));
      scratch_.push_back(static_cast<char>(0x80U | (cp & 0x3FU)));
    } else {
      scratch_.push_back(static_cast<char>(0xF0U | (cp >> 18U)));
      scratch_.push_back(static_cast<char>(0x80U | ((cp >> 12U) & 0x3FU)));
      scratch_.push_back(static_cast<char>(0x80U | ((cp >> 6U) & 0x3FU)));
      scratch_.push_back(static_cast<char>(0x80U | (cp & 0x3FU)));
    }
  }

  std::string_view in_;
  Handler& h_;
  std::size_t pos_ = 0;
  std::array<bool, static_cast<std::size_t>(MaxDepth)> stack_{};  // true = object
  std::string scratch_;  // decoded text of the current string when it had escapes
};

}  // namespace orderflow::events::detail
