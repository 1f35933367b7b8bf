// Event timestamps: RFC 3339 UTC with exactly millisecond precision, "2026-11-23T12:00:00.123Z".
// Pure functions: thread-safe. parse_timestamp reports failure as nullopt.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace orderflow::events {

// "YYYY-MM-DDTHH:MM:SS.sssZ", truncated (floored) to the millisecond.
[[nodiscard]] std::string format_timestamp(std::chrono::system_clock::time_point time);

// Inverse of format_timestamp. Accepts exactly the occurred_at format of the contract: 24 characters,
// upper-case 'T' and 'Z', exactly three fractional digits, a real calendar date (leap years included),
// hour 00-23, minute 00-59, second 00-59 (no leap second). nullopt for anything else, and for dates that
// system_clock::time_point cannot represent (outside about 1678-2262 with libstdc++'s nanoseconds).
[[nodiscard]] std::optional<std::chrono::system_clock::time_point> parse_timestamp(std::string_view text);

// True when `text` has the occurred_at format above (any year 0000-9999; no time_point range limit).
[[nodiscard]] bool is_valid_timestamp(std::string_view text) noexcept;

}  // namespace orderflow::events
