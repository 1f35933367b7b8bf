// Schema agreement: every case of tests/data/schema_cases/<schema>.json must get the expected answer from the
// C++ validator (valid or not, and which field) AND from python3-jsonschema on proto-schemas/<schema>.json,
// so the published schemas and orderflow::events never drift apart.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "orderflow/events/codec.h"

namespace {

namespace fs = std::filesystem;
namespace ev = orderflow::events;
using nlohmann::json;

fs::path source_dir() {
  if (const char* dir = std::getenv("ORDERFLOW_SOURCE_DIR"); dir != nullptr && *dir != '\0') return dir;
  return ORDERFLOW_EVENTS_DEFAULT_SOURCE_DIR;
}

std::string python() {
  if (const char* p = std::getenv("ORDERFLOW_PYTHON"); p != nullptr && *p != '\0') return p;
  return "python3";
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Runs a command, returns its stdout and exit code (stderr goes to the test's stderr).
std::pair<std::string, int> run(const std::string& command) {
  std::string out;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return {"", -1};
  std::array<char, 4096> buf{};
  std::size_t n = 0;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0) out.append(buf.data(), n);
  const int status = ::pclose(pipe);
  return {out, WIFEXITED(status) ? WEXITSTATUS(status) : -1};
}

std::string quote(const fs::path& p) {
  return "'" + p.string() + "'";
}

std::string from_hex(const std::string& hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
    out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  return out;
}

// Parses with the event's parser; on success also checks parse(to_json(x)) == x.
template <class Event>
std::optional<ev::ValidationError> check_with(ev::Result<Event> (*parse)(std::string_view),
                                              std::string_view bytes, std::string& round_trip_problem) {
  auto r = parse(bytes);
  if (!r) return r.error();
  const std::string again = ev::to_json(r.value());
  auto r2 = parse(again);
  if (!r2) {
    round_trip_problem = "to_json output rejected: " + r2.error().message() + " in " + again;
  } else if (!(r2.value() == r.value())) {
    round_trip_problem = "parse(to_json(x)) != x for " + again;
  }
  return std::nullopt;
}

using Checker = std::function<std::optional<ev::ValidationError>(std::string_view, std::string&)>;

const std::map<std::string, Checker>& checkers() {
  static const std::map<std::string, Checker> m = {
      {"order_created.v1.json",
       [](std::string_view b, std::string& p) { return check_with(&ev::parse_order_created, b, p); }},
      {"payment_processed.v1.json",
       [](std::string_view b, std::string& p) { return check_with(&ev::parse_payment_processed, b, p); }},
      {"notification_sent.v1.json",
       [](std::string_view b, std::string& p) { return check_with(&ev::parse_notification_sent, b, p); }},
  };
  return m;
}

TEST(SchemaAgreement, EveryCaseAgreesWithCppAndJsonSchema) {
  const fs::path schemas = source_dir() / "proto-schemas";
  const fs::path tables = source_dir() / "tests" / "data" / "schema_cases";
  const fs::path script = source_dir() / "tests" / "unit" / "events" / "schema_check.py";
  ASSERT_TRUE(fs::is_directory(schemas)) << schemas;

  std::size_t total_cases = 0;
  std::size_t schema_files = 0;
  for (const auto& entry : fs::directory_iterator(schemas)) {
    if (entry.path().extension() != ".json") continue;
    ++schema_files;
    const std::string name = entry.path().filename().string();
    SCOPED_TRACE("schema " + name);
    const auto checker = checkers().find(name);
    ASSERT_NE(checker, checkers().end()) << "no C++ parser is mapped to schema " << name;
    const fs::path table_path = tables / name;
    ASSERT_TRUE(fs::exists(table_path)) << "no agreement table for " << name << " at " << table_path;
    const json table = json::parse(read_file(table_path));
    ASSERT_TRUE(table.is_array());

    // Reference validator.
    const auto [out, code] =
        run(python() + " " + quote(script) + " " + quote(entry.path()) + " " + quote(table_path));
    ASSERT_EQ(code, 0) << "schema_check.py failed for " << name << " (is python3-jsonschema installed?)";
    const json reference = json::parse(out);
    std::map<std::string, json> by_name;
    for (const auto& r : reference.at("results")) by_name[r.at("name").get<std::string>()] = r;

    std::size_t valid = 0;
    std::size_t invalid = 0;
    for (const auto& c : table) {
      const std::string case_name = c.at("name").get<std::string>();
      const bool expect_valid = c.at("valid").get<bool>();
      (expect_valid ? valid : invalid)++;
      ++total_cases;
      std::string bytes;
      if (c.contains("raw")) {
        bytes = c.at("raw").get<std::string>();
      } else if (c.contains("raw_hex")) {
        bytes = from_hex(c.at("raw_hex").get<std::string>());
      } else {
        bytes = c.at("doc").dump();
      }

      // C++.
      std::string round_trip_problem;
      const auto error = checker->second(bytes, round_trip_problem);
      if (expect_valid) {
        EXPECT_FALSE(error.has_value())
            << name << " case " << case_name
            << ": C++ rejected a valid document: " << (error ? error->message() : "");
        EXPECT_EQ(round_trip_problem, "") << name << " case " << case_name;
      } else if (!error) {
        ADD_FAILURE() << name << " case " << case_name << ": C++ accepted an invalid document";
      } else {
        EXPECT_EQ(error->field, c.at("error_field").get<std::string>())
            << name << " case " << case_name << ": " << error->message();
        if (c.contains("error_message")) {
          EXPECT_EQ(error->message(), c.at("error_message").get<std::string>())
              << name << " case " << case_name;
        }
      }

      // JSON Schema (documents only: raw bytes may not even be JSON).
      if (!c.contains("doc")) continue;
      const bool schema_expect = c.value("schema_valid", expect_valid);
      const auto r = by_name.find(case_name);
      if (r == by_name.end()) {
        ADD_FAILURE() << name << " case " << case_name << ": no result from schema_check.py";
        continue;
      }
      EXPECT_EQ(r->second.at("valid").get<bool>(), schema_expect)
          << name << " case " << case_name << ": jsonschema " << reference.at("jsonschema").get<std::string>()
          << " says " << r->second.dump();
    }
    EXPECT_GT(valid, 0U) << name;
    EXPECT_GT(invalid, 0U) << name;
  }
  EXPECT_EQ(schema_files, checkers().size()) << "every event type has a schema";
  EXPECT_GE(total_cases, 60U);
}

}  // namespace
