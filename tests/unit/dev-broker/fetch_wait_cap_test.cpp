// FetchWaitCapper: Fetch requests' MaxWaitMs capped in a request stream split anywhere by the reads;
// other requests, small waits and fields split across reads pass unchanged.
#include "orderflow/dev_broker/fetch_wait_cap.h"

#include <gtest/gtest.h>
#include <sys/uio.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace orderflow::dev_broker {
namespace {

void put32(std::string& s, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) s += static_cast<char>((v >> shift) & 0xff);
}
void put16(std::string& s, std::uint16_t v) {
  s += static_cast<char>(v >> 8);
  s += static_cast<char>(v & 0xff);
}
std::uint32_t get32(const std::string& s, std::size_t at) {
  std::uint32_t v = 0;
  for (std::size_t i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(s[at + i]);
  return v;
}

struct Request {
  std::string bytes;
  std::size_t max_wait_at = 0;  // offset of MaxWaitMs (Fetch only)
};

// A request as librdkafka frames it: size, api key, version, correlation id, nullable client id, body.
// The Fetch body starts with ReplicaId and MaxWaitMs; the rest is filler that looks like anything.
Request request(std::int16_t api_key, std::int16_t version, const char* client_id, std::int32_t max_wait,
                std::size_t filler = 40) {
  std::string body;
  put16(body, static_cast<std::uint16_t>(api_key));
  put16(body, static_cast<std::uint16_t>(version));
  put32(body, 7);
  if (client_id == nullptr) {
    put16(body, 0xffff);
  } else {
    put16(body, static_cast<std::uint16_t>(std::string(client_id).size()));
    body += client_id;
  }
  put32(body, 0xffffffff);  // ReplicaId -1
  const auto at = 4 + body.size();
  put32(body, static_cast<std::uint32_t>(max_wait));
  for (std::size_t i = 0; i < filler; ++i) body += static_cast<char>(i % 2 == 0 ? 0x00 : 0x01);
  Request r;
  put32(r.bytes, static_cast<std::uint32_t>(body.size()));
  r.bytes += body;
  r.max_wait_at = at;
  return r;
}

TEST(FetchWaitCap, CapsALongWaitReadInOnePiece) {
  auto r = request(1, 11, "rdkafka", 500);
  FetchWaitCapper capper;
  capper.scan(r.bytes.data(), r.bytes.size(), 10);
  EXPECT_EQ(get32(r.bytes, r.max_wait_at), 10U);
  EXPECT_EQ(capper.capped(), 1U);
  EXPECT_EQ(capper.missed(), 0U);
}

TEST(FetchWaitCap, LeavesShortWaitsOtherRequestsAndNewerFetchVersionsAlone) {
  FetchWaitCapper capper;
  for (auto r : {request(1, 11, "c", 5), request(0, 7, "c", 500), request(1, 12, "c", 500),
                 request(3, 9, nullptr, 500)}) {
    const auto before = r.bytes;
    capper.scan(r.bytes.data(), r.bytes.size(), 10);
    EXPECT_EQ(r.bytes, before);
  }
  EXPECT_EQ(capper.capped(), 0U);
}

TEST(FetchWaitCap, ZeroCapChangesNothing) {
  auto r = request(1, 4, nullptr, 500);
  FetchWaitCapper capper;
  capper.scan(r.bytes.data(), r.bytes.size(), 0);
  EXPECT_EQ(get32(r.bytes, r.max_wait_at), 500U);
}

TEST(FetchWaitCap, FollowsAStreamSplitAnywhereAndAcrossBuffers) {
  // Many requests back to back, read in random pieces; a field is rewritten whenever one read holds
  // all four of its bytes (also when they sit in two iovecs of that read), and the scanner never
  // loses its place: every later request is still found.
  std::mt19937 rng(42);
  std::vector<Request> reqs;
  std::string stream;
  std::vector<std::size_t> starts;
  for (int i = 0; i < 300; ++i) {
    const auto kind = rng() % 4;
    auto r = kind == 0   ? request(0, 7, "producer", 500, rng() % 3000)
             : kind == 1 ? request(1, 11, nullptr, 100 + static_cast<std::int32_t>(rng() % 1000), rng() % 50)
                         : request(1, static_cast<std::int16_t>(rng() % 12), "consumer-1", 500, rng() % 200);
    starts.push_back(stream.size());
    stream += r.bytes;
    reqs.push_back(r);
  }
  FetchWaitCapper capper;
  std::size_t pos = 0;
  std::vector<std::pair<std::size_t, std::size_t>> reads;  // [begin, end) of each read
  while (pos < stream.size()) {
    const auto n = std::min<std::size_t>(stream.size() - pos, 1 + rng() % 700);
    // Two iovecs per read, split at a random point.
    const auto split = rng() % (n + 1);
    iovec iov[2] = {{stream.data() + pos, split}, {stream.data() + pos + split, n - split}};
    capper.scan(iov, 2, n, 10);
    reads.emplace_back(pos, pos + n);
    pos += n;
  }
  std::uint64_t expect_capped = 0;
  std::uint64_t expect_missed = 0;
  for (std::size_t i = 0; i < reqs.size(); ++i) {
    if (reqs[i].bytes[5] != 1) continue;  // api key low byte: only Fetch
    const auto at = starts[i] + reqs[i].max_wait_at;
    bool whole = false;
    for (const auto& [b, e] : reads) whole = whole || (at >= b && at + 4 <= e);
    if (whole) {
      ++expect_capped;
      EXPECT_EQ(get32(stream, at), 10U) << "request " << i;
    } else {
      ++expect_missed;
      EXPECT_EQ(get32(stream, at), get32(reqs[i].bytes, reqs[i].max_wait_at)) << "request " << i;
    }
  }
  EXPECT_EQ(capper.capped(), expect_capped);
  EXPECT_EQ(capper.missed(), expect_missed);
  EXPECT_GT(expect_capped, 100U);
}

TEST(FetchWaitCap, AFieldCutByTheEndOfAReadIsLeftAsSentAndTheNextRequestIsStillCapped) {
  auto first = request(1, 11, "x", 500);
  auto second = request(1, 11, "x", 500);
  std::string stream = first.bytes + second.bytes;
  FetchWaitCapper capper;
  const auto cut = first.max_wait_at + 2;
  capper.scan(stream.data(), cut, 10);
  capper.scan(stream.data() + cut, stream.size() - cut, 10);
  EXPECT_EQ(get32(stream, first.max_wait_at), 500U);
  EXPECT_EQ(get32(stream, first.bytes.size() + second.max_wait_at), 10U);
  EXPECT_EQ(capper.missed(), 1U);
  EXPECT_EQ(capper.capped(), 1U);
}

}  // namespace
}  // namespace orderflow::dev_broker
