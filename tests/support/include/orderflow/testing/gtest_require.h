// ORDERFLOW_REQUIRE_TOOL(var, "tool", "debian-package") inside a test: declares `var`, the tool's path
// (std::optional<std::string>, always set past the macro), or ends the test when the tool is missing —
// a skip, or a failure under ORDERFLOW_REQUIRE_ALL=1. orderflow_test()'s main turns a run with skips
// into exit 77, which CTest reports as skipped.
#pragma once

#include <gtest/gtest.h>

#include "orderflow/testing/require.h"

#define ORDERFLOW_REQUIRE_TOOL(var, name, package)                                   \
  const auto var = ::orderflow::testing::find_tool(name);                            \
  if (!(var)) {                                                                      \
    if (::orderflow::testing::require_all()) {                                       \
      GTEST_FAIL() << ::orderflow::testing::missing_tool_message(name, package)      \
                   << "; ORDERFLOW_REQUIRE_ALL=1, so this is a failure, not a skip"; \
    }                                                                                \
    GTEST_SKIP() << ::orderflow::testing::missing_tool_message(name, package)        \
                 << " (ORDERFLOW_REQUIRE_ALL=1 makes this a failure)";               \
  }
