// The gtest fixture of tests that run the pipeline's services on a broker of their own (six partitions)
// with a Pipeline's per-test topic and group names; a test suite names it with `using`.
#pragma once

#include <gtest/gtest.h>

#include "pipeline_fixture.h"

namespace orderflow::testing {

class PipelineTestBase : public ::testing::Test {
 protected:
  TestBroker broker{6};
  Pipeline pipe{broker};
};

}  // namespace orderflow::testing
