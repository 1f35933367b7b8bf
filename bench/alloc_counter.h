// Heap accounting for the micro-benchmarks: the bench binary interposes malloc & co.
// (alloc_counter.cpp, glibc), so each benchmark can report allocations and bytes requested per op,
// C++ (operator new) and C (librdkafka) allocations alike. Counters are thread-local: only the
// benchmark thread is counted.
#pragma once

#include <benchmark/benchmark.h>

#include <cstdint>

namespace orderflow::bench {

struct AllocStats {
  std::uint64_t count = 0;
  std::uint64_t bytes = 0;
};

AllocStats alloc_stats() noexcept;

// Snapshot at construction; report() stores allocs/op and bytes/op in state.counters.
class AllocScope {
 public:
  AllocScope() : start_(alloc_stats()) {}
  void report(benchmark::State& state, double ops_per_iteration = 1.0) const {
    const auto now = alloc_stats();
    const double iters = static_cast<double>(state.iterations()) * ops_per_iteration;
    if (iters <= 0) return;
    state.counters["allocs/op"] = static_cast<double>(now.count - start_.count) / iters;
    state.counters["bytes/op"] = static_cast<double>(now.bytes - start_.bytes) / iters;
  }

 private:
  AllocStats start_;
};

}  // namespace orderflow::bench
