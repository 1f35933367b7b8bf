// The main of every orderflow_test() binary: gtest's, except that a run in which tests were skipped and
// none failed exits 77. CTest reports a GTEST_SKIP as "Passed" otherwise; orderflow_test() sets
// SKIP_RETURN_CODE 77 so that such a run is listed as skipped. (SKIP_REGULAR_EXPRESSION on gtest's
// "[  SKIPPED ]" line would not do: CTest then reports a binary with a skipped and a failed test as
// skipped.)
#include <gtest/gtest.h>

#include <iostream>

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  const int rc = RUN_ALL_TESTS();
  const int skipped = ::testing::UnitTest::GetInstance()->skipped_test_count();
  if (rc == 0 && skipped > 0) {
    std::cout << "SKIP: " << skipped << " test(s) skipped, see [  SKIPPED ] above (exit 77)" << std::endl;
    return 77;
  }
  return rc;
}
