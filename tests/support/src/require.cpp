#include "orderflow/testing/require.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdlib>
#include <sstream>

namespace orderflow::testing {

std::optional<std::string> find_tool(std::string_view name) {
  const char* env = std::getenv("PATH");
  // /usr/bin and /usr/local/bin too: CTest may run with a reduced PATH, and Debian installs there.
  std::istringstream dirs(std::string(env != nullptr ? env : "") + ":/usr/bin:/usr/local/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    if (dir.empty()) continue;
    auto candidate = fmt::format("{}/{}", dir, name);
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return std::nullopt;
}

bool require_all() {
  const char* v = std::getenv("ORDERFLOW_REQUIRE_ALL");
  return v != nullptr && std::string_view(v) == "1";
}

std::string missing_tool_message(std::string_view name, std::string_view package) {
  return fmt::format(
      "{} is not installed (Debian package {}, listed in scripts/build-packages.txt: run `make deps`)", name,
      package);
}

}  // namespace orderflow::testing
