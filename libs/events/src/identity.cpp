#include "orderflow/events/identity.h"

#include <openssl/err.h>
#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <stdexcept>

namespace orderflow::events {
namespace {

constexpr std::string_view kHex = "0123456789abcdef";

using Bytes = std::array<std::uint8_t, 16>;

std::string format_uuid(const Bytes& bytes) {
  std::string out(36, '-');
  std::size_t pos = 0;
  for (std::size_t i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) ++pos;  // keep the '-'
    out[pos++] = kHex[bytes[i] >> 4U];
    out[pos++] = kHex[bytes[i] & 0xFU];
  }
  return out;
}

constexpr int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// kOrderflowNamespaceUuid as its 16 bytes, in network order (RFC 4122 §4.3: the namespace id is hashed
// as bytes, then the name).
constexpr Bytes namespace_bytes() {
  Bytes out{};
  std::size_t n = 0;
  int high = -1;
  for (const char c : kOrderflowNamespaceUuid) {
    const int v = hex_value(c);
    if (v < 0) continue;  // '-'
    if (high < 0) {
      high = v;
    } else {
      out[n++] = static_cast<std::uint8_t>((high << 4) | v);
      high = -1;
    }
  }
  if (n != out.size())
    throw std::logic_error("kOrderflowNamespaceUuid is not 32 hex digits");  // compile error
  return out;
}
constexpr Bytes kNamespaceBytes = namespace_bytes();

[[noreturn]] void fail(const char* what) {
  std::string message = std::string("uuid_v5: OpenSSL ") + what;
  if (const unsigned long code = ERR_get_error(); code != 0) {
    std::array<char, 256> text{};
    ERR_error_string_n(code, text.data(), text.size());
    message += ": ";
    message += text.data();
  }
  throw std::runtime_error(message);
}

// SHA-1 through libcrypto's EVP interface. The algorithm is fetched once (OpenSSL 3 looks it up in
// the provider on every SHA1()/EVP_sha1() one-shot call, which costs more than hashing 60 bytes) and
// each thread keeps one digest context, re-initialised per call: several times faster than Boost.Uuid's
// portable SHA-1 (bench: BM_PaymentIdFor).
const EVP_MD* sha1() {
  static const std::unique_ptr<EVP_MD, decltype(&EVP_MD_free)> md(EVP_MD_fetch(nullptr, "SHA1", nullptr),
                                                                  &EVP_MD_free);
  if (!md) fail("offers no SHA-1");
  return md.get();
}

EVP_MD_CTX* thread_context() {
  thread_local const std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(),
                                                                                 &EVP_MD_CTX_free);
  if (!ctx) fail("cannot allocate a digest context");
  return ctx.get();
}

// RFC 4122 §4.3: SHA-1(namespace bytes ‖ name bytes), first 16 bytes, version 5, RFC 4122 variant.
// The name is given in pieces so that callers need not concatenate it first.
std::string uuid_v5_of(std::initializer_list<std::string_view> name_parts) {
  EVP_MD_CTX* ctx = thread_context();
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int size = 0;
  if (EVP_DigestInit_ex2(ctx, sha1(), nullptr) != 1) fail("EVP_DigestInit_ex2 failed");
  // One update of namespace and name when they fit a small buffer (ids, the usual case): each update
  // through EVP costs about as much as hashing a block.
  std::array<unsigned char, 256> joined{};
  std::size_t size_needed = kNamespaceBytes.size();
  for (const auto part : name_parts) size_needed += part.size();
  bool ok = true;
  if (size_needed <= joined.size()) {
    auto* out = std::copy(kNamespaceBytes.begin(), kNamespaceBytes.end(), joined.begin());
    for (const auto part : name_parts) out = std::copy(part.begin(), part.end(), out);
    ok = EVP_DigestUpdate(ctx, joined.data(), size_needed) == 1;
  } else {
    ok = EVP_DigestUpdate(ctx, kNamespaceBytes.data(), kNamespaceBytes.size()) == 1;
    for (const auto part : name_parts) ok = ok && EVP_DigestUpdate(ctx, part.data(), part.size()) == 1;
  }
  if (!ok || EVP_DigestFinal_ex(ctx, digest.data(), &size) != 1 || size < 16) fail("SHA-1 failed");
  Bytes bytes{};
  std::copy_n(digest.begin(), bytes.size(), bytes.begin());
  bytes[6] = static_cast<std::uint8_t>((bytes[6] & 0x0FU) | 0x50U);  // version 5
  bytes[8] = static_cast<std::uint8_t>((bytes[8] & 0x3FU) | 0x80U);  // RFC 4122 variant
  return format_uuid(bytes);
}

}  // namespace

std::string uuid_v4(std::mt19937_64& rng) {
  Bytes bytes{};
  for (std::size_t half = 0; half < 2; ++half) {
    const std::uint64_t r = rng();
    for (std::size_t i = 0; i < 8; ++i) bytes[half * 8 + i] = static_cast<std::uint8_t>(r >> (56U - 8U * i));
  }
  bytes[6] = static_cast<std::uint8_t>((bytes[6] & 0x0FU) | 0x40U);  // version 4
  bytes[8] = static_cast<std::uint8_t>((bytes[8] & 0x3FU) | 0x80U);  // RFC 4122 variant
  return format_uuid(bytes);
}

std::string uuid_v5(std::string_view name) {
  return uuid_v5_of({name});
}

std::string payment_id_for(std::string_view order_event_id) {
  return uuid_v5_of({"payment:", order_event_id});
}

std::string notification_id_for(std::string_view order_id, NotificationKind kind) {
  return uuid_v5_of({"notification:", order_id, ":", to_string(kind)});
}

}  // namespace orderflow::events
