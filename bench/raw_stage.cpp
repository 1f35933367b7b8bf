// raw-stage: the baseline of the pipeline benchmark — the least one consume → produce stage with the
// services' delivery contract can do on this machine. It consumes a topic, produces every record's
// bytes unchanged (key, value, headers) to another topic with an idempotent producer (acks=all, same
// batching defaults as orderflow's Producer), and commits, periodically and at the end, only offsets
// whose records were acknowledged (highest contiguous delivered offset + 1 per partition). No JSON,
// no metrics, librdkafka's C API, one thread — so the difference to payment-service is the cost of
// orderflow's code, not of Kafka.
//
//   raw-stage --brokers HOST:PORT --group G --input T --output T2 [--expect N]
//             [--commit-interval-ms 1000] [--no-nudge] [-X key=value]...
//
// Like the services' consumer on librdkafka before 2.2 (libs/messaging/src/fetch_nudger.h), a second
// thread wakes the fetcher while records are consumed quickly, so a full prefetch queue is refilled as it
// drains instead of up to a second later; --no-nudge turns that off.
//
// With --expect N it stops by itself once N records were acknowledged (and committed); otherwise on
// SIGINT/SIGTERM. Prints one JSON line on stdout: consumed, delivered, first_consumed_ms,
// last_delivered_ms (Unix ms), cpu_s (getrusage, all threads: utime + stime as in /proc/PID/stat)
// and vm_hwm_kb (peak RSS), measured after the final flush and commit.
#include <librdkafka/rdkafka.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace {

std::atomic<bool> g_stop{false};
void on_signal(int /*sig*/) {
  g_stop = true;
}
std::atomic<std::uint64_t> g_consumed{0};  // for the nudge thread

// Every 20 ms, when >= 32 records were consumed meanwhile: ask one assigned partition's leader for its
// watermarks (round robin), which wakes that broker's thread to look at the prefetch queue again.
void nudge_fetcher(rd_kafka_t* consumer, const std::atomic<bool>& done) {
  std::uint64_t seen = 0;
  std::size_t next = 0;
  while (!done && !g_stop) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    const auto consumed = g_consumed.load(std::memory_order_relaxed);
    if (consumed - seen < 32) {
      seen = consumed;
      continue;
    }
    seen = consumed;
    rd_kafka_topic_partition_list_t* assignment = nullptr;
    if (rd_kafka_assignment(consumer, &assignment) == RD_KAFKA_RESP_ERR_NO_ERROR && assignment->cnt > 0) {
      const auto& tp = assignment->elems[next++ % static_cast<std::size_t>(assignment->cnt)];
      std::int64_t low = 0;
      std::int64_t high = 0;
      (void)rd_kafka_query_watermark_offsets(consumer, tp.topic, tp.partition, &low, &high, 200);
    }
    if (assignment != nullptr) rd_kafka_topic_partition_list_destroy(assignment);
  }
}

std::int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Per input partition: consumed offsets in order, with a done flag; what may be committed.
struct Progress {
  std::deque<std::pair<std::int64_t, bool>> pending;
  std::int64_t committable = -1;
  std::int64_t committed = -1;
  void begin(std::int64_t offset) { pending.emplace_back(offset, false); }
  void complete(std::int64_t offset) {
    auto it = std::lower_bound(pending.begin(), pending.end(), offset,
                               [](const auto& e, std::int64_t o) { return e.first < o; });
    if (it == pending.end() || it->first != offset) return;
    it->second = true;
    while (!pending.empty() && pending.front().second) {
      committable = pending.front().first + 1;
      pending.pop_front();
    }
  }
};

struct State {
  std::map<std::int32_t, Progress> parts;
  std::uint64_t consumed = 0;
  std::uint64_t delivered = 0;
  std::uint64_t failed = 0;
  std::uint64_t in_flight = 0;
  std::int64_t first_consumed_ms = 0;
  std::int64_t last_delivered_ms = 0;
};
State g_state;

// The opaque of each produced record: input partition and offset packed into one word, so the
// baseline does no per-record allocation of its own.
void* pack(std::int32_t partition, std::int64_t offset) {
  return reinterpret_cast<void*>((static_cast<std::uintptr_t>(partition) << 40U) |
                                 static_cast<std::uintptr_t>(offset));
}
std::pair<std::int32_t, std::int64_t> unpack(void* opaque) {
  const auto v = reinterpret_cast<std::uintptr_t>(opaque);
  return {static_cast<std::int32_t>(v >> 40U), static_cast<std::int64_t>(v & ((1ULL << 40U) - 1))};
}

void on_delivery(rd_kafka_t* /*rk*/, const rd_kafka_message_t* m, void* /*opaque*/) {
  --g_state.in_flight;
  if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    if (g_state.failed++ < 5)
      std::fprintf(stderr, "raw-stage: delivery failed: %s\n", rd_kafka_err2str(m->err));
    return;  // never committed past
  }
  ++g_state.delivered;
  g_state.last_delivered_ms = unix_ms();
  const auto [partition, offset] = unpack(m->_private);
  g_state.parts[partition].complete(offset);
}

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "raw-stage: %s\n", what.c_str());
  std::exit(2);
}

void set(rd_kafka_conf_t* conf, const std::string& k, const std::string& v) {
  char err[512];
  if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
    die("-X " + k + "=" + v + ": " + err);
  }
}

void commit(rd_kafka_t* consumer, const std::string& topic, bool sync) {
  rd_kafka_topic_partition_list_t* list =
      rd_kafka_topic_partition_list_new(static_cast<int>(g_state.parts.size()));
  for (auto& [p, prog] : g_state.parts) {
    if (prog.committable > prog.committed) {
      rd_kafka_topic_partition_list_add(list, topic.c_str(), p)->offset = prog.committable;
      prog.committed = prog.committable;
    }
  }
  if (list->cnt > 0) {
    const auto err = rd_kafka_commit(consumer, list, sync ? 0 : 1);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR__NO_OFFSET) {
      std::fprintf(stderr, "raw-stage: commit failed: %s\n", rd_kafka_err2str(err));
    }
  }
  rd_kafka_topic_partition_list_destroy(list);
}

long vm_hwm_kb() {
  std::FILE* f = std::fopen("/proc/self/status", "r");
  if (f == nullptr) return -1;
  char line[256];
  long kb = -1;
  while (std::fgets(line, sizeof line, f) != nullptr) {
    if (std::strncmp(line, "VmHWM:", 6) == 0) kb = std::strtol(line + 6, nullptr, 10);
  }
  std::fclose(f);
  return kb;
}

double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

}  // namespace

int main(int argc, char** argv) {
  std::string brokers = "localhost:9092";
  std::string group = "raw-stage";
  std::string input = "orders";
  std::string output = "raw-stage-out";
  std::uint64_t expect = 0;
  int commit_interval_ms = 1000;
  bool nudge = true;
  std::vector<std::pair<std::string, std::string>> overrides;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) die(a + ": missing value");
      return argv[++i];
    };
    if (a == "--brokers") {
      brokers = next();
    } else if (a == "--group") {
      group = next();
    } else if (a == "--input") {
      input = next();
    } else if (a == "--output") {
      output = next();
    } else if (a == "--expect") {
      expect = std::strtoull(next().c_str(), nullptr, 10);
    } else if (a == "--commit-interval-ms") {
      commit_interval_ms = std::atoi(next().c_str());
    } else if (a == "--no-nudge") {
      nudge = false;
    } else if (a == "-X") {
      const auto kv = next();
      const auto eq = kv.find('=');
      if (eq == std::string::npos) die("-X " + kv + ": expected key=value");
      overrides.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
    } else if (a == "--help" || a == "-h") {
      std::puts(
          "raw-stage --brokers HOST:PORT --group G --input T --output T2 [--expect N] "
          "[--commit-interval-ms MS] [--no-nudge] [-X key=value]...");
      return 0;
    } else {
      die("unknown flag " + a);
    }
  }
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);

  char err[512];
  // Producer: the same reliable defaults as orderflow::messaging::Producer.
  rd_kafka_conf_t* pconf = rd_kafka_conf_new();
  set(pconf, "bootstrap.servers", brokers);
  set(pconf, "enable.idempotence", "true");
  set(pconf, "acks", "all");
  set(pconf, "message.timeout.ms", "300000");
  set(pconf, "max.in.flight.requests.per.connection", "1");
  set(pconf, "linger.ms", "5");
  set(pconf, "batch.num.messages", "10000");
  set(pconf, "queue.buffering.max.messages", "200000");
  set(pconf, "compression.type", "none");
  set(pconf, "partitioner", "murmur2_random");
  set(pconf, "socket.nagle.disable", "true");
  for (const auto& [k, v] : overrides) set(pconf, k, v);
  rd_kafka_conf_set_dr_msg_cb(pconf, on_delivery);
  rd_kafka_t* producer = rd_kafka_new(RD_KAFKA_PRODUCER, pconf, err, sizeof err);
  if (producer == nullptr) die(std::string("producer: ") + err);
  rd_kafka_topic_t* out_topic = rd_kafka_topic_new(producer, output.c_str(), nullptr);

  // Consumer: the same settings as orderflow::messaging::Consumer (its 64 MiB prefetch queue is
  // librdkafka's default; its 2 MiB fetch.max.bytes is not copied, so the baseline stays the ceiling).
  rd_kafka_conf_t* cconf = rd_kafka_conf_new();
  set(cconf, "bootstrap.servers", brokers);
  set(cconf, "group.id", group);
  set(cconf, "enable.auto.commit", "false");
  set(cconf, "enable.auto.offset.store", "false");
  set(cconf, "auto.offset.reset", "earliest");
  set(cconf, "partition.assignment.strategy", "cooperative-sticky");
  set(cconf, "enable.partition.eof", "false");
  set(cconf, "socket.nagle.disable", "true");
  for (const auto& [k, v] : overrides) set(cconf, k, v);
  rd_kafka_t* consumer = rd_kafka_new(RD_KAFKA_CONSUMER, cconf, err, sizeof err);
  if (consumer == nullptr) die(std::string("consumer: ") + err);
  rd_kafka_poll_set_consumer(consumer);
  rd_kafka_topic_partition_list_t* subs = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(subs, input.c_str(), RD_KAFKA_PARTITION_UA);
  if (const auto e = rd_kafka_subscribe(consumer, subs); e != RD_KAFKA_RESP_ERR_NO_ERROR) {
    die(std::string("subscribe: ") + rd_kafka_err2str(e));
  }
  rd_kafka_topic_partition_list_destroy(subs);

  std::atomic<bool> done{false};
  std::thread nudger;
  if (nudge) nudger = std::thread(nudge_fetcher, consumer, std::cref(done));
  using Clock = std::chrono::steady_clock;
  auto next_commit = Clock::now() + std::chrono::milliseconds(commit_interval_ms);
  while (!g_stop && !(expect > 0 && g_state.delivered >= expect)) {
    // Same consume timeout policy as the stage: 1 ms while records are in flight, else 100 ms.
    rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer, g_state.in_flight > 0 ? 1 : 100);
    rd_kafka_poll(producer, 0);
    if (m != nullptr) {
      if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (g_state.consumed++ == 0) g_state.first_consumed_ms = unix_ms();
        g_consumed.fetch_add(1, std::memory_order_relaxed);
        g_state.parts[m->partition].begin(m->offset);
        rd_kafka_headers_t* hdrs = nullptr;
        rd_kafka_headers_t* copy = nullptr;
        if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR)
          copy = rd_kafka_headers_copy(hdrs);
        for (;;) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wold-style-cast"  // librdkafka's RD_KAFKA_V_* macros are C casts
          const auto e = rd_kafka_producev(
              producer, RD_KAFKA_V_RKT(out_topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
              RD_KAFKA_V_VALUE(m->payload, m->len), RD_KAFKA_V_KEY(m->key, m->key_len),
              RD_KAFKA_V_HEADERS(copy), RD_KAFKA_V_OPAQUE(pack(m->partition, m->offset)), RD_KAFKA_V_END);
#pragma GCC diagnostic pop
          if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
            ++g_state.in_flight;
            break;
          }
          if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            rd_kafka_poll(producer, 10);
            continue;
          }
          std::fprintf(stderr, "raw-stage: produce failed: %s\n", rd_kafka_err2str(e));
          if (copy != nullptr) rd_kafka_headers_destroy(copy);
          g_stop = true;
          break;
        }
      } else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        std::fprintf(stderr, "raw-stage: consumer: %s\n", rd_kafka_message_errstr(m));
      }
      rd_kafka_message_destroy(m);
    }
    if (Clock::now() >= next_commit) {
      commit(consumer, input, false);
      next_commit = Clock::now() + std::chrono::milliseconds(commit_interval_ms);
    }
  }
  done = true;
  if (nudger.joinable()) nudger.join();
  rd_kafka_flush(producer, 30000);
  commit(consumer, input, true);
  std::printf(
      "{\"consumed\": %llu, \"delivered\": %llu, \"failed\": %llu, \"first_consumed_ms\": %lld, "
      "\"last_delivered_ms\": %lld, \"cpu_s\": %.3f, \"vm_hwm_kb\": %ld}\n",
      static_cast<unsigned long long>(g_state.consumed), static_cast<unsigned long long>(g_state.delivered),
      static_cast<unsigned long long>(g_state.failed), static_cast<long long>(g_state.first_consumed_ms),
      static_cast<long long>(g_state.last_delivered_ms), cpu_seconds(), vm_hwm_kb());
  std::fflush(stdout);
  rd_kafka_consumer_close(consumer);
  rd_kafka_destroy(consumer);
  rd_kafka_topic_destroy(out_topic);
  rd_kafka_destroy(producer);
  return g_state.failed == 0 ? 0 : 1;
}
