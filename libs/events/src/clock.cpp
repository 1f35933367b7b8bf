#include "orderflow/events/clock.h"

#include <cstdint>
#include <limits>

#include "text.h"

namespace orderflow::events {

std::string format_timestamp(std::chrono::system_clock::time_point time) {
  using namespace std::chrono;
  const auto ms = floor<milliseconds>(time);
  const auto day = floor<days>(ms);
  const year_month_day ymd{day};
  const hh_mm_ss hms{ms - day};
  detail::TimestampFields f;
  f.year = static_cast<int>(ymd.year());
  f.month = static_cast<unsigned>(ymd.month());
  f.day = static_cast<unsigned>(ymd.day());
  f.hour = static_cast<int>(hms.hours().count());
  f.minute = static_cast<int>(hms.minutes().count());
  f.second = static_cast<int>(hms.seconds().count());
  f.millisecond = static_cast<int>(hms.subseconds().count());
  std::string out(24, '\0');
  detail::write_timestamp(f, out.data());
  return out;
}

std::optional<std::chrono::system_clock::time_point> parse_timestamp(std::string_view text) {
  using namespace std::chrono;
  detail::TimestampFields f;
  if (!detail::parse_timestamp_fields(text, f)) return std::nullopt;
  const sys_days day{year{f.year} / month{f.month} / std::chrono::day{f.day}};
  const std::int64_t ms = duration_cast<milliseconds>(day.time_since_epoch()).count() +
                          ((f.hour * 60LL + f.minute) * 60LL + f.second) * 1000LL + f.millisecond;
  using rep = system_clock::duration::rep;
  constexpr auto kPerMs = duration_cast<system_clock::duration>(milliseconds{1}).count();
  if (ms > std::numeric_limits<rep>::max() / kPerMs || ms < std::numeric_limits<rep>::min() / kPerMs) {
    return std::nullopt;
  }
  return system_clock::time_point{duration_cast<system_clock::duration>(milliseconds{ms})};
}

bool is_valid_timestamp(std::string_view text) noexcept {
  detail::TimestampFields f;
  return detail::parse_timestamp_fields(text, f);
}

}  // namespace orderflow::events
