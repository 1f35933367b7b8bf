// Measures request/response round trips against a broker, to prove TCP_NODELAY is in effect
// (~1 ms with it, ~40 ms without: Nagle on the mock's side meets the client's delayed ACK).
#pragma once

#include <string>
#include <vector>

namespace orderflow::testing {

// Milliseconds of each synchronous offset commit (after a warm-up), `samples` of them.
std::vector<double> commit_round_trips_ms(const std::string& bootstrap, const std::string& topic,
                                          int samples);
// Milliseconds of each produce-one-record + flush (acks=all, idempotent), `samples` of them.
std::vector<double> produce_flush_round_trips_ms(const std::string& bootstrap, const std::string& topic,
                                                 int samples);
double median(std::vector<double> values);

}  // namespace orderflow::testing
