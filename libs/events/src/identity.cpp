#include "orderflow/events/identity.h"

#include <array>
#include <boost/uuid/name_generator_sha1.hpp>
#include <boost/uuid/string_generator.hpp>
#include <boost/uuid/uuid.hpp>
#include <cstdint>

namespace orderflow::events {
namespace {

constexpr std::string_view kHex = "0123456789abcdef";

std::string format_uuid(const std::array<std::uint8_t, 16>& bytes) {
  std::string out(36, '-');
  std::size_t pos = 0;
  for (std::size_t i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) ++pos;  // keep the '-'
    out[pos++] = kHex[bytes[i] >> 4U];
    out[pos++] = kHex[bytes[i] & 0xFU];
  }
  return out;
}

const boost::uuids::name_generator_sha1& generator() {
  static const boost::uuids::name_generator_sha1 gen{
      boost::uuids::string_generator{}(std::string(kOrderflowNamespaceUuid))};
  return gen;
}

}  // namespace

std::string uuid_v4(std::mt19937_64& rng) {
  std::array<std::uint8_t, 16> bytes{};
  for (std::size_t half = 0; half < 2; ++half) {
    const std::uint64_t r = rng();
    for (std::size_t i = 0; i < 8; ++i) bytes[half * 8 + i] = static_cast<std::uint8_t>(r >> (56U - 8U * i));
  }
  bytes[6] = static_cast<std::uint8_t>((bytes[6] & 0x0FU) | 0x40U);  // version 4
  bytes[8] = static_cast<std::uint8_t>((bytes[8] & 0x3FU) | 0x80U);  // RFC 4122 variant
  return format_uuid(bytes);
}

std::string uuid_v5(std::string_view name) {
  // The (pointer, size) overload hashes the bytes as they are (RFC 4122 §4.3).
  const boost::uuids::uuid id = generator()(name.data(), name.size());
  std::array<std::uint8_t, 16> bytes{};
  std::copy(id.begin(), id.end(), bytes.begin());
  return format_uuid(bytes);
}

std::string payment_id_for(std::string_view order_event_id) {
  std::string name;
  name.reserve(8 + order_event_id.size());
  name.append("payment:").append(order_event_id);
  return uuid_v5(name);
}

std::string notification_id_for(std::string_view order_id, NotificationKind kind) {
  const std::string_view kind_text = to_string(kind);
  std::string name;
  name.reserve(14 + order_id.size() + kind_text.size());
  name.append("notification:").append(order_id).append(":").append(kind_text);
  return uuid_v5(name);
}

}  // namespace orderflow::events
