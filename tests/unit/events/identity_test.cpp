// uuid_v4 / uuid_v5 and the derived identities. The v5 values are fixed: they are part of the contract
// (expected values computed independently with Python's uuid.uuid5).
#include "orderflow/events/identity.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace {

namespace ev = orderflow::events;

TEST(UuidV5, StableValues) {
  EXPECT_EQ(ev::uuid_v5(""), "87f999ba-ea72-5c5e-a625-9784e8d1efa4");
  EXPECT_EQ(ev::uuid_v5("hello"), "eb466596-e038-5053-9500-353c57f70883");
  EXPECT_EQ(ev::uuid_v5("caf\xc3\xa9"), "122a523e-9eef-572c-9abb-a39f95679c4e");
}

TEST(UuidV5, NamesAroundTheJoinedBufferSize) {
  // 16 namespace bytes + 240 = 256 bytes are hashed in one update, 241 and more in pieces: same values.
  EXPECT_EQ(ev::uuid_v5(std::string(240, 'x')), "d858fc95-a71b-5448-9816-cde5abdfacb8");
  EXPECT_EQ(ev::uuid_v5(std::string(241, 'x')), "01ddccff-3712-5995-9b2b-2432e2a48830");
  EXPECT_EQ(ev::uuid_v5(std::string(1000, 'x')), "b0ace6be-e45c-523f-85ec-6bdee6d0aba4");
  EXPECT_EQ(ev::notification_id_for(std::string(64, 'o'), ev::NotificationKind::PaymentDeclined),
            "5c42aa2e-8daa-5f4a-91fa-c17fe81af14c");
}

TEST(UuidV5, DerivedIdentities) {
  EXPECT_EQ(ev::payment_id_for("0b7e3a52-6d1f-4c1e-9a3e-2f5d8c9b1a01"),
            "8fc5cc3c-cec1-565e-b8d5-c6c42db9fc2d");
  EXPECT_EQ(ev::notification_id_for("order-1", ev::NotificationKind::OrderReceived),
            "e331c3e7-ec43-5539-ad07-81a1fab07b8a");
  EXPECT_EQ(ev::notification_id_for("order-1", ev::NotificationKind::PaymentAuthorized),
            "0e9b5b41-ee1f-5afc-8514-8617269bdd00");
  EXPECT_EQ(ev::notification_id_for("order-1", ev::NotificationKind::PaymentDeclined),
            "41209503-d3c4-54d8-977b-2a0cd344d541");
}

TEST(UuidV5, NamespaceIsItselfDerived) {
  // kOrderflowNamespaceUuid = uuid5(NAMESPACE_URL, "urn:orderflow:events"): documented, so checked.
  EXPECT_EQ(ev::kOrderflowNamespaceUuid, "2d5da835-253b-563a-8efd-43564007abdb");
}

void expect_v4_shape(const std::string& id) {
  ASSERT_EQ(id.size(), 36U) << id;
  for (std::size_t i = 0; i < id.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      EXPECT_EQ(id[i], '-') << id;
    } else {
      EXPECT_TRUE((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')) << id;
    }
  }
  EXPECT_EQ(id[14], '4') << id;
  EXPECT_NE(std::string("89ab").find(id[19]), std::string::npos) << id;
}

TEST(UuidV4, ShapeAndReproducibility) {
  std::mt19937_64 a(42);
  std::mt19937_64 b(42);
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    const std::string id = ev::uuid_v4(a);
    expect_v4_shape(id);
    EXPECT_EQ(id, ev::uuid_v4(b));
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 1000U);
  std::mt19937_64 c(43);
  EXPECT_EQ(seen.count(ev::uuid_v4(c)), 0U);
}

}  // namespace
