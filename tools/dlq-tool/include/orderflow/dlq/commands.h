// The three dlq-tool subcommands over validated ToolOptions. Results go to `out` (stdout), errors to
// stderr as "dlq-tool: …" lines. Each returns the process exit code: 0 done, 1 the brokers, the topic,
// a replayed record or the replay's transactions failed, 2 a bad Kafka property, 130 replay interrupted.
// Call from main().
#pragma once

#include <ostream>

#include "orderflow/dlq/tool_options.h"

namespace orderflow::dlq {

int run_list(const ToolOptions& options, std::ostream& out);
int run_count(const ToolOptions& options, std::ostream& out);
int run_replay(const ToolOptions& options, std::ostream& out);
int run_command(const ToolOptions& options, std::ostream& out);

}  // namespace orderflow::dlq
