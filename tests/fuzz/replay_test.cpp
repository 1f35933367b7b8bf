// Replays the fuzz targets (compiled with the main compiler, without libFuzzer) over the seed corpus
// (tests/data/hostile), every saved regression input (tests/fuzz/regressions/<target>/) and the big hostile
// inputs that are generated rather than stored, so a fixed fuzz finding stays fixed without clang.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "fuzz_check.h"
#include "fuzz_targets.h"
#include "orderflow/events/codec.h"
#include "utf8.h"

namespace orderflow::fuzz {
namespace {

namespace fs = std::filesystem;

fs::path source_dir() {
  const char* dir = std::getenv("ORDERFLOW_SOURCE_DIR");
  return dir != nullptr ? fs::path(dir) : fs::path(ORDERFLOW_FUZZ_SOURCE_DIR);
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::vector<fs::path> inputs(const fs::path& dir) {
  std::vector<fs::path> out;
  if (!fs::exists(dir)) return out;
  for (const auto& e : fs::directory_iterator(dir)) {
    const auto ext = e.path().extension();
    if (e.is_regular_file() && ext != ".md" && ext != ".tsv") out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

template <class Target>
void replay(Target target, const std::vector<fs::path>& files) {
  for (const auto& f : files) {
    const std::string bytes = read_file(f);
    try {
      target(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
    } catch (const PropertyViolation& e) {
      ADD_FAILURE() << f.filename() << ": " << e.what();
    }
  }
}

void run_events(const std::string& bytes) {
  try {
    events_parse_one(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
  } catch (const PropertyViolation& e) {
    ADD_FAILURE() << e.what();
  }
}

TEST(FuzzRegressionTest, HostileCorpusKeepsEveryProperty) {
  const auto files = inputs(source_dir() / "tests/data/hostile");
  ASSERT_GE(files.size(), 50U) << "hostile corpus missing";
  replay(events_parse_one, files);
  replay(headers_one, files);
}

TEST(FuzzRegressionTest, SavedEventsRegressionsStayFixed) {
  replay(events_parse_one, inputs(source_dir() / "tests/fuzz/regressions/events_parse"));
}

TEST(FuzzRegressionTest, SavedHeadersRegressionsStayFixed) {
  replay(headers_one, inputs(source_dir() / "tests/fuzz/regressions/headers"));
}

// The inputs too big to store: the parser must reject them quickly and without deep recursion.
TEST(FuzzRegressionTest, GeneratedHugeInputs) {
  run_events(std::string(100000, '[') + std::string(100000, ']'));
  std::string objects;
  for (int i = 0; i < 100000; ++i) objects += "{\"a\":";
  objects += "1" + std::string(100000, '}');
  run_events(objects);
  run_events("{\"event_type\":\"OrderCreated\",\"order_id\":\"" + std::string(10U << 20U, 'x') + "\"}");
  run_events("[" + std::string(1U << 20U, '1') + "]");
  std::string items = "{\"items\":[";
  for (int i = 0; i < 20000; ++i) items += std::string(i == 0 ? "" : ",") + "{\"sku\":\"s\",\"quantity\":1}";
  run_events(items + "]}");
  const auto deep = events::parse_order_created(std::string(100000, '[') + std::string(100000, ']'));
  ASSERT_FALSE(deep.has_value());
  EXPECT_EQ(deep.error().message(), "$: nesting deeper than 64 levels");
}

// An unknown member name longer than 64 bytes of multi-byte characters: it is ignored like any unknown
// field, so the record is accepted; the same name twice is a duplicate key whose message quotes at most 64
// bytes of it, and must stay UTF-8 (x-error-message values are UTF-8, docs/contract.md §6 Headers) where that
// cut falls inside a character.
TEST(FuzzRegressionTest, UnknownLongMultibyteKeyIsIgnoredAndItsDuplicateGivesUtf8Message) {
  const auto bytes =
      read_file(source_dir() / "tests/fuzz/regressions/events_parse/unknown_key_split_utf8.json");
  ASSERT_FALSE(bytes.empty());
  const auto parsed = events::parse_order_created(bytes);
  ASSERT_TRUE(parsed.has_value()) << parsed.error().message();

  const auto key_start = bytes.rfind(",\"") + 1;
  const auto member = bytes.substr(key_start, bytes.size() - 1 - key_start);  // "<key>":1
  const auto duplicated = events::parse_order_created(bytes.substr(0, bytes.size() - 1) + "," + member + "}");
  ASSERT_FALSE(duplicated.has_value());
  EXPECT_TRUE(duplicated.error().message().starts_with("$: duplicate key ")) << duplicated.error().message();
  EXPECT_TRUE(valid_utf8(duplicated.error().message())) << duplicated.error().message();
}

}  // namespace
}  // namespace orderflow::fuzz
