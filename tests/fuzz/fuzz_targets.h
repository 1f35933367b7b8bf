// The fuzz targets as plain functions, so the same code runs under libFuzzer (clang, scripts/fuzz.sh) and
// in the g++ replay test over the seed corpora and the saved regression inputs (fuzz_regression_test).
#pragma once

#include <cstddef>
#include <cstdint>

namespace orderflow::fuzz {

// parse_order_created / parse_payment_processed / parse_notification_sent + validate + round trip.
int events_parse_one(const std::uint8_t* data, std::size_t size);
// parse_int_header, trace_id_of / child_traceparent, bounded_message.
int headers_one(const std::uint8_t* data, std::size_t size);

}  // namespace orderflow::fuzz
