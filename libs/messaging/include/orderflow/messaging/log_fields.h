// Structured fields for a log message: "\t" + a JSON object appended to the message, which the runtime's
// sinks render (docs/contract.md §10: top-level fields of a JSON line, or ` name=value` in text). Here,
// below the runtime library, so that the stage writes its fields the same way; orderflow::runtime
// re-exports it as runtime::log_fields.
#pragma once

#include <concepts>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace orderflow::messaging {

// One structured field value: a string, an integer, a floating-point number or a bool. Holds a view
// of string arguments, so use it only within the log_fields() call (as the braces below do).
class FieldValue {
 public:
  enum class Kind { String, Signed, Unsigned, Double, Bool };
  FieldValue(std::string_view s) : kind_(Kind::String), str_(s) {}    // NOLINT(google-explicit-constructor)
  FieldValue(const std::string& s) : kind_(Kind::String), str_(s) {}  // NOLINT(google-explicit-constructor)
  FieldValue(const char* s) : kind_(Kind::String), str_(s) {}         // NOLINT(google-explicit-constructor)
  FieldValue(bool b) : kind_(Kind::Bool), u_(b ? 1 : 0) {}            // NOLINT(google-explicit-constructor)
  template <std::signed_integral T>
  FieldValue(T v) : kind_(Kind::Signed), i_(v) {}  // NOLINT(google-explicit-constructor)
  template <std::unsigned_integral T>
  requires(!std::same_as<T, bool>) FieldValue(T v)
      : kind_(Kind::Unsigned), u_(v) {}  // NOLINT(google-explicit-constructor)
  template <std::floating_point T>
  FieldValue(T v) : kind_(Kind::Double), d_(static_cast<double>(v)) {}  // NOLINT(google-explicit-constructor)

  [[nodiscard]] Kind kind() const { return kind_; }
  [[nodiscard]] std::string_view str() const { return str_; }
  [[nodiscard]] std::int64_t i() const { return i_; }
  [[nodiscard]] std::uint64_t u() const { return u_; }
  [[nodiscard]] double d() const { return d_; }

 private:
  Kind kind_;
  std::string_view str_;
  std::int64_t i_ = 0;
  std::uint64_t u_ = 0;
  double d_ = 0;
};

// Structured fields for a log message, appended as its last argument:
//   spdlog::warn("dead-lettering record{}", log_fields({{"topic", t}, {"partition", p}, {"offset", o}}));
// Returns "\t" + a JSON object. The json format turns it into top-level fields of the line; the text
// format renders it as " topic=orders partition=3 offset=17" (strings with spaces, quotes or `=`
// are quoted). Empty input → "". Thread-safe (pure).
std::string log_fields(std::initializer_list<std::pair<std::string_view, FieldValue>> fields);

}  // namespace orderflow::messaging
