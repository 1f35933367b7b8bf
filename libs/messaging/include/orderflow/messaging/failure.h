// How a record failed, as the contract's x-error-class names it: poison (never retried), transient
// (retried with backoff) and exhausted (transient, out of attempts). Plain values.
#pragma once

#include <string>
#include <string_view>

namespace orderflow::messaging {

enum class ErrorClass { Poison, Transient, Exhausted };

std::string_view to_string(ErrorClass c);

struct Failure {
  ErrorClass error_class = ErrorClass::Transient;
  std::string message;

  static Failure poison(std::string msg) { return Failure{ErrorClass::Poison, std::move(msg)}; }
  static Failure transient(std::string msg) { return Failure{ErrorClass::Transient, std::move(msg)}; }
};

}  // namespace orderflow::messaging
