// Tools a test needs that the project installs (scripts/build-packages.txt, `make deps`): where they are,
// and what a missing one means. Without ORDERFLOW_REQUIRE_ALL a test may skip (reported as skipped by
// CTest, never as passed); with ORDERFLOW_REQUIRE_ALL=1 (.ci/run) the skip is a failure, so a green CI
// run has run everything. Does not depend on GTest (gtest_require.h has the test-side macro).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace orderflow::testing {

// The full path of executable `name` on $PATH (then /usr/bin, /usr/local/bin); nullopt when absent.
std::optional<std::string> find_tool(std::string_view name);
// ORDERFLOW_REQUIRE_ALL=1: every skip of something the project can install is a failure.
bool require_all();
// "<name> is not installed (Debian package <package>, listed in scripts/build-packages.txt: run
// `make deps`)".
std::string missing_tool_message(std::string_view name, std::string_view package);

}  // namespace orderflow::testing
