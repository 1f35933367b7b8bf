// ORDERFLOW_REQUIRE_TOOL: a tool that is there is found; a missing one ends the test as a skip, or as a
// failure under ORDERFLOW_REQUIRE_ALL=1. The outcomes are captured with gtest's own reporter interceptor,
// so this test itself passes either way.
#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <optional>
#include <string>

#include "orderflow/testing/gtest_require.h"

namespace orderflow::testing {
namespace {

// Sets ORDERFLOW_REQUIRE_ALL for one scope and restores what was there.
class ScopedRequireAll {
 public:
  explicit ScopedRequireAll(const char* value) {
    if (const char* old = std::getenv("ORDERFLOW_REQUIRE_ALL")) old_ = old;
    if (value != nullptr) {
      ::setenv("ORDERFLOW_REQUIRE_ALL", value, 1);
    } else {
      ::unsetenv("ORDERFLOW_REQUIRE_ALL");
    }
  }
  ~ScopedRequireAll() {
    if (old_) {
      ::setenv("ORDERFLOW_REQUIRE_ALL", old_->c_str(), 1);
    } else {
      ::unsetenv("ORDERFLOW_REQUIRE_ALL");
    }
  }
  ScopedRequireAll(const ScopedRequireAll&) = delete;
  ScopedRequireAll& operator=(const ScopedRequireAll&) = delete;

 private:
  std::optional<std::string> old_;
};

bool reached_past_the_macro = false;

void needs_missing_tool() {
  reached_past_the_macro = false;
  ORDERFLOW_REQUIRE_TOOL(tool, "orderflow-no-such-tool", "no-such-package");
  reached_past_the_macro = true;
}

// The one result needs_missing_tool() reports.
::testing::TestPartResult outcome() {
  ::testing::TestPartResultArray results;
  {
    ::testing::ScopedFakeTestPartResultReporter reporter(
        ::testing::ScopedFakeTestPartResultReporter::INTERCEPT_ONLY_CURRENT_THREAD, &results);
    needs_missing_tool();
  }
  EXPECT_EQ(results.size(), 1);
  EXPECT_FALSE(reached_past_the_macro);
  return results.GetTestPartResult(0);
}

TEST(RequireToolTest, FindsAToolOnPath) {
  const auto sh = find_tool("sh");
  ASSERT_TRUE(sh.has_value());
  EXPECT_EQ(sh->back(), 'h');
  EXPECT_FALSE(find_tool("orderflow-no-such-tool").has_value());
}

TEST(RequireToolTest, AMissingToolIsASkipByDefault) {
  ScopedRequireAll unset(nullptr);
  const auto r = outcome();
  EXPECT_TRUE(r.skipped());
  EXPECT_NE(std::string(r.message())
                .find("orderflow-no-such-tool is not installed (Debian package "
                      "no-such-package, listed in scripts/build-packages.txt"),
            std::string::npos)
      << r.message();
}

TEST(RequireToolTest, AMissingToolIsAFailureUnderRequireAll) {
  ScopedRequireAll all("1");
  const auto r = outcome();
  EXPECT_TRUE(r.fatally_failed());
  EXPECT_NE(std::string(r.message()).find("ORDERFLOW_REQUIRE_ALL=1"), std::string::npos) << r.message();
}

}  // namespace
}  // namespace orderflow::testing
