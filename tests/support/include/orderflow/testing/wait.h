// Waiting on a condition with a deadline: the only way tests synchronise (never a fixed sleep).
// Thread-safe as far as `pred` is; reports nothing but the predicate's last value.
#pragma once

#include <chrono>
#include <functional>

namespace orderflow::testing {

// Polls `pred` every `poll` until it returns true or `timeout` has passed; returns its last value
// (pred is always evaluated at least once, and once more at the deadline).
bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout,
                std::chrono::milliseconds poll = std::chrono::milliseconds(20));

}  // namespace orderflow::testing
