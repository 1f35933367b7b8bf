// ValidationError and Result: how every parse/validate function of orderflow::events reports failure.
// Plain values, no shared state: thread-safe. An error names the field path and the reason.
#pragma once

#include <string>

#include <boost/outcome/result.hpp>

namespace orderflow::events {

// One validation failure. `field` is a path into the document: "currency", "items[2].quantity", or "$" for
// the document as a whole (not JSON, not an object, duplicate key, too deep). `reason` says what is wrong,
// with the offending value when it is short: "must be between 1 and 1000, got 0".
struct ValidationError {
  std::string field;
  std::string reason;

  // "<field>: <reason>", e.g. "items[2].quantity: must be between 1 and 1000, got 0".
  [[nodiscard]] std::string message() const;

  friend bool operator==(const ValidationError&, const ValidationError&) = default;
};

// A value or the first ValidationError found. Accessing value() of an error (or error() of a value)
// terminates the process: check has_value() first.
template <class T>
using Result = boost::outcome_v2::result<T, ValidationError, boost::outcome_v2::policy::terminate>;

}  // namespace orderflow::events
