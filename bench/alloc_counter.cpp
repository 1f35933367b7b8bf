// Counting interposers for the C allocator (bench binary only, glibc). libstdc++'s operator new
// calls malloc, and so does librdkafka, so interposing malloc & co. counts C++ and C allocations
// alike (e.g. RdKafka::Headers and the rd_kafka_header_t entries behind it). The real work is done
// by glibc's exported __libc_* entry points. Counters are thread-local: the benchmarks run on the
// main thread, and background threads (none in these benchmarks) would not disturb the figures.
#include "alloc_counter.h"

#include <cerrno>
#include <cstddef>
#include <cstdlib>

extern "C" {
void* __libc_malloc(std::size_t);
void __libc_free(void*);
void* __libc_calloc(std::size_t, std::size_t);
void* __libc_realloc(void*, std::size_t);
void* __libc_memalign(std::size_t, std::size_t);
void* __libc_valloc(std::size_t);
void* __libc_pvalloc(std::size_t);
}

namespace {
// Plain (trivially constructible) thread-locals: no TLS initialisation calls from inside malloc.
thread_local std::uint64_t t_count = 0;
thread_local std::uint64_t t_bytes = 0;

inline void note(std::size_t n) noexcept {
  ++t_count;
  t_bytes += n;
}
}  // namespace

namespace orderflow::bench {
AllocStats alloc_stats() noexcept {
  return AllocStats{t_count, t_bytes};
}
}  // namespace orderflow::bench

extern "C" {

void* malloc(std::size_t n) {
  note(n);
  return __libc_malloc(n);
}

void free(void* p) {
  __libc_free(p);
}

void* calloc(std::size_t count, std::size_t size) {
  note(count * size);
  return __libc_calloc(count, size);
}

void* realloc(void* p, std::size_t n) {
  note(n);
  return __libc_realloc(p, n);
}

void* memalign(std::size_t align, std::size_t n) {
  note(n);
  return __libc_memalign(align, n);
}

void* aligned_alloc(std::size_t align, std::size_t n) {
  note(n);
  return __libc_memalign(align, n);
}

int posix_memalign(void** out, std::size_t align, std::size_t n) {
  if (align < sizeof(void*) || (align & (align - 1)) != 0) return EINVAL;
  note(n);
  void* p = __libc_memalign(align, n);
  if (p == nullptr) return ENOMEM;
  *out = p;
  return 0;
}

void* valloc(std::size_t n) {
  note(n);
  return __libc_valloc(n);
}

void* pvalloc(std::size_t n) {
  note(n);
  return __libc_pvalloc(n);
}

}  // extern "C"
