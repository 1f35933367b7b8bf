#include "orderflow/messaging/trace_context.h"

#include <array>
#include <random>

namespace orderflow::messaging {

namespace {

std::mt19937_64& rng() {
  thread_local std::mt19937_64 gen{std::random_device{}()};
  return gen;
}

void append_hex(std::string& out, std::size_t digits) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::uint64_t bits = 0;
  for (std::size_t i = 0; i < digits; ++i) {
    if (i % 16 == 0) {
      do {
        bits = rng()();
      } while (bits == 0);
    }
    out.push_back(kHex[bits & 0xFU]);
    bits >>= 4U;
  }
}

// Lower-case hex digits (W3C Trace Context allows no upper case). A table and an AND over the whole
// field instead of a branch per character: the digits of a trace id are random, and the branchy loop
// mispredicted often enough to cost ~2 % of payment-service's CPU (perf, 2026-11-24).
constexpr std::array<bool, 256> kIsHex = [] {
  std::array<bool, 256> t{};
  for (char c = '0'; c <= '9'; ++c) t[static_cast<unsigned char>(c)] = true;
  for (char c = 'a'; c <= 'f'; ++c) t[static_cast<unsigned char>(c)] = true;
  return t;
}();

bool is_hex(std::string_view s) {
  bool all = true;
  for (const char c : s) all &= kIsHex[static_cast<unsigned char>(c)];
  return all;
}

}  // namespace

std::string_view trace_id_of(std::string_view tp) {
  // 00-<32>-<16>-<2>
  if (tp.size() != 55 || tp.substr(0, 3) != "00-" || tp[35] != '-' || tp[52] != '-') return {};
  auto id = tp.substr(3, 32);
  auto span = tp.substr(36, 16);
  if (!is_hex(id) || id == std::string_view("00000000000000000000000000000000")) return {};
  if (!is_hex(span) || span == std::string_view("0000000000000000") || !is_hex(tp.substr(53, 2))) return {};
  return id;
}

std::string new_traceparent() {
  std::string out = "00-";
  out.reserve(55);
  append_hex(out, 32);
  out += '-';
  append_hex(out, 16);
  out += "-01";
  return out;
}

std::string child_traceparent(std::string_view parent) {
  const auto trace = trace_id_of(parent);
  if (trace.empty()) return new_traceparent();
  std::string out = "00-";
  out.reserve(55);
  out += trace;
  out += '-';
  append_hex(out, 16);
  out += "-01";
  return out;
}

}  // namespace orderflow::messaging
