// How a fuzz target reports a broken property. Under libFuzzer (ORDERFLOW_LIBFUZZER) a failure prints the
// property and aborts, so libFuzzer saves the input as a crash artifact; in the g++ replay test
// (fuzz_regression_test) it throws, so one bad input fails one test instead of killing the process.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>

namespace orderflow::fuzz {

struct PropertyViolation : std::runtime_error {
  using std::runtime_error::runtime_error;
};

[[noreturn]] inline void fail(const std::string& what) {
#ifdef ORDERFLOW_LIBFUZZER
  std::fprintf(stderr, "orderflow fuzz property violated: %s\n", what.c_str());
  std::abort();
#else
  throw PropertyViolation(what);
#endif
}

}  // namespace orderflow::fuzz

#define ORDERFLOW_FUZZ_CHECK(cond, what)                                      \
  do {                                                                        \
    if (!(cond)) ::orderflow::fuzz::fail(std::string(#cond) + ": " + (what)); \
  } while (false)
