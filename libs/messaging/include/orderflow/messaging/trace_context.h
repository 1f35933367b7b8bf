// W3C trace context (`traceparent: 00-<trace-id 32 hex>-<span-id 16 hex>-<flags>`): a new trace per
// order, a new span per hop, the trace id kept end to end. Functions are thread-safe (thread-local
// random source).
#pragma once

#include <string>
#include <string_view>

namespace orderflow::messaging {

std::string new_traceparent();
// Same trace id as `parent`, new span id; a malformed or absent parent starts a new trace.
std::string child_traceparent(std::string_view parent);
// The 32-hex trace id of a well-formed traceparent, else empty.
std::string_view trace_id_of(std::string_view traceparent);

}  // namespace orderflow::messaging
