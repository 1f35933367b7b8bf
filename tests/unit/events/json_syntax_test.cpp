// The record reader is a hand-written strict JSON reader (for speed). This test holds it to nlohmann::json's
// verdict on what is JSON, on a list of edge cases and on thousands of seeded mutations of a real record.
// Known, deliberate differences: nlohmann takes a NUL byte for the end of input and skips a UTF-8 BOM (we
// reject both), accepts duplicate keys and any depth (we reject them), and rejects numbers beyond the range
// of a double such as 1e400, which RFC 8259's grammar allows (we read them, then reject them as not an
// integer).
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "orderflow/events/codec.h"

namespace {

namespace ev = orderflow::events;

const std::string kRecord =
    R"({"event_id":"e331c3e7-ec43-5539-ad07-81a1fab07b8a","event_type":"NotificationSent","schema_version":1,)"
    R"("occurred_at":"2026-11-23T12:00:00.123Z","notification_id":"e331c3e7-ec43-5539-ad07-81a1fab07b8a",)"
    R"("order_id":"o-\u00e9\"1","customer_id":"c\ud83d\ude00","source_event_id":"0b7e3a52-6d1f-4c1e-9a3e-2f5d8c9b1a01",)"
    R"("kind":"ORDER_RECEIVED","channel":"log","x":[1.5e3,-0,true,false,null,{"y":[]}]})";

// nullopt when nlohmann gives up on a number that RFC 8259 allows.
std::optional<bool> nlohmann_is_json(const std::string& text) {
  if (nlohmann::json::accept(text)) return true;
  try {
    const auto parsed = nlohmann::json::parse(text);
    return parsed.is_discarded();  // not reached: accept() said no
  } catch (const nlohmann::json::out_of_range& e) {
    if (std::string_view(e.what()).find("number overflow") != std::string_view::npos) return std::nullopt;
  } catch (const nlohmann::json::parse_error&) {
  }
  return false;
}

void check(const std::string& text) {
  auto r = ev::parse_notification_sent(text);
  const bool document_error = !r.has_value() && r.error().field == "$";
  if (!r.has_value() &&
      (r.error().reason.rfind("duplicate key", 0) == 0 || r.error().reason.rfind("nesting", 0) == 0)) {
    return;
  }
  if (text.find('\0') != std::string::npos || text.rfind("\xEF\xBB\xBF", 0) == 0) {
    EXPECT_TRUE(document_error) << testing::PrintToString(text);
    return;
  }
  const auto expected = nlohmann_is_json(text);
  if (!expected.has_value()) return;
  // A JSON value that is not an object is a document error too.
  bool object = false;
  if (*expected) object = nlohmann::json::parse(text, nullptr, false).is_object();
  EXPECT_EQ(!document_error, *expected && object)
      << testing::PrintToString(text) << " -> " << (r.has_value() ? "OK" : r.error().message());
}

TEST(JsonSyntax, EdgeCasesAgreeWithNlohmann) {
  for (const char* value : {"1",
                            "-1",
                            "-0",
                            "0.5",
                            "1e5",
                            "1E+5",
                            "1e-5",
                            "01",
                            "-",
                            "1.",
                            ".5",
                            "1e",
                            "+1",
                            "0x10",
                            "1.5e",
                            "--1",
                            "Infinity",
                            "NaN",
                            "true",
                            "tru",
                            "nul",
                            "null",
                            "falsey",
                            R"("\x")",
                            R"("\u12")",
                            R"("\u12G4")",
                            R"("\ud83d\ude00")",
                            R"("\ud83d")",
                            R"("\ude00")",
                            R"("\ud83d\u0041")",
                            R"("a\/b")",
                            "\"\t\"",
                            "\"\x7f\"",
                            "\"\xc3\xa9\"",
                            "\"\xc3\"",
                            "\"\xe0\x80\x80\"",
                            "\"\xf4\x90\x80\x80\"",
                            "\"\xf0\x9f\x98\x80\"",
                            "[1,]",
                            "[,1]",
                            "[1 2]",
                            "{\"a\" 1}",
                            "{\"a\":}",
                            "{1:2}",
                            "{\"a\":1,,\"b\":2}",
                            "[[[]]]",
                            "[]]",
                            "[",
                            "]",
                            "{}",
                            "{} {}",
                            "\"unterminated",
                            "'a'",
                            "[1]\n",
                            " [1] ",
                            "[1]\x0b",
                            "\x0c[1]",
                            "[\"\\u0000\"]",
                            "123456789012345678901234567890",
                            "1e-400",
                            "1e400",
                            "-1e400"}) {
    SCOPED_TRACE(value);
    check(value);
    check(std::string(R"({"a":)") + value + "}");
    check(std::string(R"({"a":[)") + value + "]}");
  }
}

TEST(JsonSyntax, NumbersBeyondDoubleAreJsonButNotIntegers) {
  auto r = ev::parse_notification_sent(R"({"schema_version":1e400})");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().message(), "event_type: is required");
  r = ev::parse_notification_sent(R"({"event_type":"NotificationSent","schema_version":1e400})");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().message(), "schema_version: must be an integer within the 64-bit range, got 1e400");
}

TEST(JsonSyntax, SeededMutationsAgreeWithNlohmann) {
  check(kRecord);
  std::mt19937_64 rng(20261123);
  const std::string alphabet = "{}[]:,\"\\ 0123456789-+.eEtrufalsn\x01\x7f\xc3\xa9\xff\xed\xa0\x80uU/";
  for (int i = 0; i < 5000; ++i) {
    std::string s = kRecord;
    const int edits = 1 + static_cast<int>(rng() % 3);
    for (int e = 0; e < edits; ++e) {
      const std::size_t pos = rng() % (s.size() + 1);
      const char c = alphabet[rng() % alphabet.size()];
      switch (rng() % 3) {
        case 0:
          s.insert(pos, 1, c);
          break;
        case 1:
          if (pos < s.size()) s.erase(pos, 1);
          break;
        default:
          if (pos < s.size()) s[pos] = c;
          break;
      }
    }
    check(s);
    if (HasFailure()) break;  // one readable failure is enough
  }
}

}  // namespace
