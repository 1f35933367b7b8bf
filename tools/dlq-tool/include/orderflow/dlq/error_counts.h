// The `count` tallies of a dead-letter topic: records by x-error-class and by x-failed-service, plus
// the total, rendered as a text table or one JSON object. Plain value; not thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "orderflow/dlq/dlq_record.h"

namespace orderflow::dlq {

// Shown for a record that lacks the header (a record someone wrote by hand, an older producer).
inline constexpr std::string_view kMissingHeader = "(none)";

struct ErrorCounts {
  std::string topic;
  std::int64_t total = 0;
  std::map<std::string, std::int64_t> by_error_class;
  std::map<std::string, std::int64_t> by_failed_service;

  void add(const DlqRecord& r);
  // total=… then one "  name  count" row per value, sorted by name.
  [[nodiscard]] std::string to_text() const;
  // {"topic":…,"total":…,"by_error_class":{…},"by_failed_service":{…}}
  [[nodiscard]] std::string to_json() const;
};

}  // namespace orderflow::dlq
