// Logging setup for every binary: spdlog to stderr, either human text or one JSON object per line
// (`ts`, `level`, `service`, `msg`, plus structured fields when a message carries them).
// Call setup_logging once in main() before any other thread starts; logging itself is thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "orderflow/messaging/log_fields.h"

namespace orderflow::runtime {

// level: trace|debug|info|warn|error|critical|off; format: text|json.
void setup_logging(const std::string& service, const std::string& level, const std::string& format);

// Structured fields for a log message (orderflow/messaging/log_fields.h, where the stage uses them too):
//   spdlog::warn("dead-lettering record{}", log_fields({{"topic", t}, {"partition", p}, {"offset", o}}));
using messaging::FieldValue;
using messaging::log_fields;

// The text rendering of a message that may end in a log_fields() suffix (what the text sink
// prints); a message without a suffix is returned unchanged. Exposed for tests.
std::string render_text_fields(std::string_view message);

}  // namespace orderflow::runtime
