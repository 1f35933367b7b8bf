#include "orderflow/dlq/error_counts.h"

#include <fmt/format.h>

#include <algorithm>

#include <nlohmann/json.hpp>

namespace orderflow::dlq {

void ErrorCounts::add(const DlqRecord& r) {
  ++total;
  ++by_error_class[escape_bytes(r.error_class().value_or(std::string(kMissingHeader)))];
  ++by_failed_service[escape_bytes(r.failed_service().value_or(std::string(kMissingHeader)))];
}

std::string ErrorCounts::to_text() const {
  std::size_t width = std::string_view("x-failed-service").size();
  for (const auto& [name, n] : by_error_class) width = std::max(width, name.size() + 2);
  for (const auto& [name, n] : by_failed_service) width = std::max(width, name.size() + 2);
  std::string out = fmt::format("topic {}\n{:<{}} {:>10}\n", topic, "total", width, total);
  const auto section = [&](std::string_view title, const std::map<std::string, std::int64_t>& rows) {
    out += fmt::format("\nby {}\n", title);
    for (const auto& [name, n] : rows) out += fmt::format("  {:<{}} {:>10}\n", name, width - 2, n);
  };
  section("x-error-class", by_error_class);
  section("x-failed-service", by_failed_service);
  return out;
}

std::string ErrorCounts::to_json() const {
  nlohmann::ordered_json j;
  j["topic"] = topic;
  j["total"] = total;
  j["by_error_class"] = nlohmann::ordered_json(by_error_class);
  j["by_failed_service"] = nlohmann::ordered_json(by_failed_service);
  return j.dump();
}

}  // namespace orderflow::dlq
