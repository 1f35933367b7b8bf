// format_timestamp / parse_timestamp: the occurred_at format of docs/contract.md §5 Events.
#include "orderflow/events/clock.h"

#include <gtest/gtest.h>

#include <chrono>

namespace {

namespace ev = orderflow::events;
using namespace std::chrono;

sys_time<milliseconds> at(int y, unsigned m, unsigned d, int hh, int mm, int ss, int ms) {
  return sys_days{year{y} / month{m} / day{d}} + hours{hh} + minutes{mm} + seconds{ss} + milliseconds{ms};
}

TEST(FormatTimestamp, Examples) {
  EXPECT_EQ(ev::format_timestamp(system_clock::time_point{}), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(ev::format_timestamp(at(2026, 11, 23, 12, 0, 0, 123)), "2026-11-23T12:00:00.123Z");
  EXPECT_EQ(ev::format_timestamp(at(2024, 2, 29, 23, 59, 59, 999)), "2024-02-29T23:59:59.999Z");
  EXPECT_EQ(ev::format_timestamp(at(1999, 12, 31, 0, 0, 0, 5)), "1999-12-31T00:00:00.005Z");
}

TEST(FormatTimestamp, TruncatesToMilliseconds) {
  const auto t = system_clock::time_point{at(2026, 1, 2, 3, 4, 5, 678)} + microseconds{999};
  EXPECT_EQ(ev::format_timestamp(t), "2026-01-02T03:04:05.678Z");
  // Before the epoch, floor (not truncation toward zero).
  EXPECT_EQ(ev::format_timestamp(system_clock::time_point{} - microseconds{1}), "1969-12-31T23:59:59.999Z");
}

TEST(ParseTimestamp, RoundTrip) {
  for (const char* text : {"2026-11-23T12:00:00.123Z", "1970-01-01T00:00:00.000Z", "2000-02-29T00:00:00.000Z",
                           "1969-07-20T20:17:40.000Z", "2262-04-11T00:00:00.000Z"}) {
    const auto t = ev::parse_timestamp(text);
    ASSERT_TRUE(t.has_value()) << text;
    EXPECT_EQ(ev::format_timestamp(*t), text);
  }
  EXPECT_EQ(ev::parse_timestamp("2026-11-23T12:00:00.123Z"),
            system_clock::time_point{at(2026, 11, 23, 12, 0, 0, 123)});
}

TEST(ParseTimestamp, RejectsEverythingElse) {
  for (const char* text : {"",
                           "2026-11-23T12:00:00Z",
                           "2026-11-23T12:00:00.12Z",
                           "2026-11-23T12:00:00.1234Z",
                           "2026-11-23T12:00:00.123",
                           "2026-11-23T12:00:00.123+00:00",
                           "2026-11-23t12:00:00.123Z",
                           "2026-11-23T12:00:00.123z",
                           "2026-11-23 12:00:00.123Z",
                           "2026-13-01T00:00:00.000Z",
                           "2026-00-01T00:00:00.000Z",
                           "2026-02-29T00:00:00.000Z",
                           "1900-02-29T00:00:00.000Z",
                           "2026-04-31T00:00:00.000Z",
                           "2026-01-00T00:00:00.000Z",
                           "2026-01-01T24:00:00.000Z",
                           "2026-01-01T00:60:00.000Z",
                           "2026-01-01T00:00:60.000Z",
                           "+2026-01-01T00:00:00.000Z",
                           "2026-1-01T00:00:00.000Z",
                           "2026-11-23T12:00:00.123Z\n"}) {
    EXPECT_FALSE(ev::parse_timestamp(text).has_value()) << text;
    EXPECT_FALSE(ev::is_valid_timestamp(text)) << text;
  }
}

TEST(ParseTimestamp, ValidButUnrepresentableYears) {
  // Valid occurred_at values, outside what a nanosecond system_clock can hold.
  EXPECT_TRUE(ev::is_valid_timestamp("0000-02-29T00:00:00.000Z"));
  EXPECT_TRUE(ev::is_valid_timestamp("9999-12-31T23:59:59.999Z"));
  EXPECT_FALSE(ev::parse_timestamp("9999-12-31T23:59:59.999Z").has_value());
  EXPECT_FALSE(ev::parse_timestamp("1000-01-01T00:00:00.000Z").has_value());
}

}  // namespace
