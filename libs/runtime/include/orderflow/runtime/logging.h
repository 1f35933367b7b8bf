// Logging setup for every binary: spdlog to stderr, either human text or one JSON object per line
// (`ts`, `level`, `service`, `msg`, plus structured fields when a message carries them).
// Call setup_logging once in main() before any other thread starts; logging itself is thread-safe.
#pragma once

#include <string>

namespace orderflow::runtime {

// level: trace|debug|info|warn|error|critical|off; format: text|json.
void setup_logging(const std::string& service, const std::string& level, const std::string& format);

}  // namespace orderflow::runtime
