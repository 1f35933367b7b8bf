// order-producer: generates (or reads from a JSONL file) orders and sends them to `orders` with an
// idempotent producer; exits 0 only when every record was acknowledged (docs/contract.md §8 Delivery
// guarantees).
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <random>
#include <utility>

#include <boost/asio.hpp>
#include <nlohmann/json.hpp>

#include "orderflow/messaging/producer.h"
#include "orderflow/messaging/trace_context.h"
#include "orderflow/producer/order_generator.h"
#include "orderflow/runtime/cli.h"
#include "orderflow/runtime/http_server.h"
#include "orderflow/runtime/logging.h"
#include "orderflow/runtime/metrics.h"
#include "orderflow/runtime/shutdown.h"
#include "orderflow/runtime/stage_service.h"

using namespace orderflow;
namespace po = runtime::po;
using Clock = std::chrono::steady_clock;

namespace {

// The producer's settings; their initial values are the flags' defaults.
struct Settings {
  long long count = 1000;
  double rate = 0;
  int customers = 1000;
  std::uint64_t seed = 0;
  double invalid_ratio = 0;
  std::string from_file;
  std::string topic = "orders";
  int timeout_s = 30;
};

struct Counters {
  std::uint64_t sent = 0;
  std::uint64_t delivered = 0;
  std::uint64_t failed = 0;
  std::uint64_t invalid = 0;
};

std::optional<std::string> string_field(const nlohmann::json& j, const char* name) {
  if (j.is_object()) {
    auto it = j.find(name);
    if (it != j.end() && it->is_string()) return it->get<std::string>();
  }
  return std::nullopt;
}

}  // namespace

int main(int argc, char** argv) {
  runtime::CommandLine cli;
  cli.program = "order-producer";
  cli.usage =
      "order-producer [--count N] [--rate N] [--customers N] [--seed N] [--invalid-ratio RATIO]\n"
      "                      [--from-file F.jsonl] [--topic TOPIC] [--brokers HOST:PORT,…] [options]";
  cli.description =
      "Sends OrderCreated events to `orders`, keyed by customer_id, with an idempotent producer\n"
      "(enable.idempotence=true, acks=all). Prints `sent=N delivered=N failed=N elapsed_s=… rate=…/s`\n"
      "and exits 0 only when the broker acknowledged every record.";
  cli.example = "order-producer --count 5000 --rate 1000";
  runtime::add_common_options(cli, {"0.0.0.0:9101", false, ""});
  const Settings defaults;
  cli.options.add_options()(
      "count", po::value<long long>()->default_value(defaults.count)->value_name("N"),
      "orders to send; 0 = until stopped (with --from-file: the whole file unless --count is given)")(
      "rate", po::value<double>()->default_value(defaults.rate)->value_name("N"),
      "orders per second; 0 = as fast as possible")(
      "customers", po::value<int>()->default_value(defaults.customers)->value_name("N"),
      "size of the customer pool")("seed", po::value<unsigned long long>()->value_name("N"),
                                   "seed for a reproducible stream (default: random)")(
      "invalid-ratio", po::value<double>()->default_value(defaults.invalid_ratio)->value_name("RATIO"),
      "fraction of deliberately malformed orders, 0..1")(
      "from-file", po::value<std::string>()->value_name("F.jsonl"),
      "send the lines of F as they are (one order per line)")(
      "topic", po::value<std::string>()->default_value(defaults.topic)->value_name("TOPIC"),
      "destination topic")("timeout-s", po::value<int>()->default_value(defaults.timeout_s)->value_name("S"),
                           "exit 1 when the brokers cannot be reached within this");
  cli.env["count"] = "ORDER_COUNT";
  cli.env["rate"] = "ORDER_RATE";
  cli.env["customers"] = "ORDER_CUSTOMERS";
  cli.env["seed"] = "ORDER_SEED";
  cli.env["invalid-ratio"] = "INVALID_RATIO";

  auto parsed = runtime::parse_command_line(cli, argc, argv);
  if (parsed.exit_code) return *parsed.exit_code;
  const auto& vm = parsed.vm;
  runtime::CommonOptions common;
  Settings s;
  messaging::KafkaProperties props;
  try {
    common = runtime::read_common_options(vm, false);
    props = runtime::kafka_properties(common);
    s.count = vm["count"].as<long long>();
    if (s.count < 0) throw runtime::UsageError("--count: must not be negative");
    s.rate = vm["rate"].as<double>();
    if (!(s.rate >= 0)) throw runtime::UsageError("--rate: must not be negative");
    s.customers = vm["customers"].as<int>();
    if (s.customers < 1) throw runtime::UsageError("--customers: must be at least 1");
    s.seed = vm.count("seed") != 0 ? vm["seed"].as<unsigned long long>() : std::random_device{}();
    s.invalid_ratio = vm["invalid-ratio"].as<double>();
    if (!(s.invalid_ratio >= 0 && s.invalid_ratio <= 1))
      throw runtime::UsageError("--invalid-ratio: must be between 0 and 1");
    if (vm.count("from-file") != 0) {
      s.from_file = vm["from-file"].as<std::string>();
      // The default --count is for the generator: a file is sent whole unless a count was asked for.
      if (vm["count"].defaulted()) s.count = 0;
    }
    s.topic = vm["topic"].as<std::string>();
    s.timeout_s = vm["timeout-s"].as<int>();
    if (s.timeout_s < 1) throw runtime::UsageError("--timeout-s: must be at least 1");
  } catch (const runtime::UsageError& e) {
    return runtime::usage_error(cli.program, e.what());
  }
  runtime::setup_logging("order-producer", common.log_level, common.log_format);
  // A file that cannot be read is a configuration error, for a start and for --check-config alike.
  std::ifstream input;
  if (!s.from_file.empty()) {
    input.open(s.from_file);
    if (!input) {
      spdlog::error("--from-file: cannot open {}", s.from_file);
      return 2;
    }
  }
  runtime::ServiceMetrics metrics("order-producer");
  messaging::ProducerOptions popts;
  popts.properties = props;
  popts.on_stats = [&metrics](std::string_view json) { metrics.kafka_stats(json); };
  if (common.check_config) {
    return runtime::check_config(cli, vm, [&popts] { messaging::Producer::check_config(popts); });
  }

  runtime::ShutdownSignal shutdown;
  Counters c;
  auto& failed_counter =
      metrics.counter("orderflow_produce_failures_total", "Records the broker did not acknowledge");
  // The configuration first, as the producer would check it: one librdkafka or our checks reject (e.g.
  // acks=1 with idempotence) is a usage error before any waiting for brokers. The producer itself is
  // created once the brokers answered, so that the wait is the one client reporting why they do not
  // (an authentication or TLS failure once, not also the producer's error line at every reconnect).
  try {
    messaging::Producer::check_config(popts, /*log_warnings=*/false);
  } catch (const messaging::ConfigError& e) {
    spdlog::error("{}", e.what());
    return 2;
  }

  std::atomic<bool> reached{false};
  std::mutex waiting_mutex;
  std::string waiting = "not ready: waiting for the Kafka brokers";
  std::unique_ptr<runtime::HttpServer> http;
  try {
    http = std::make_unique<runtime::HttpServer>(common.metrics_address, metrics.registry_ptr(),
                                                 [&]() -> std::optional<std::string> {
                                                   if (!reached) {
                                                     const std::lock_guard lock(waiting_mutex);
                                                     return waiting;
                                                   }
                                                   return metrics.broker_problem();
                                                 });
    if (!runtime::wait_for_broker(props, std::chrono::seconds(s.timeout_s), [&](const std::string& problem) {
          const std::lock_guard lock(waiting_mutex);
          waiting = "not ready: waiting for the Kafka brokers (" + problem + ")";
        })) {
      return 1;
    }
  } catch (const messaging::ConfigError& e) {
    spdlog::error("{}", e.what());
    return 2;
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return 1;
  }
  std::unique_ptr<messaging::Producer> producer;
  try {
    producer = std::make_unique<messaging::Producer>(popts, [&](const messaging::DeliveryReport& r) {
      if (r.ok()) {
        ++c.delivered;
        metrics.produced(r.topic);
      } else {
        if (c.failed++ < 10) spdlog::error("delivery to {} failed: {}", r.topic, r.error_text);
        failed_counter.Increment();
      }
    });
  } catch (const messaging::ConfigError& e) {
    spdlog::error("{}", e.what());
    return 2;
  }
  producer->set_interrupt(&shutdown.flag());  // Ctrl-C while the brokers take nothing: stop waiting for room
  reached = true;
  // Without the topic's partitions known up front, librdkafka holds every record sent to it until its
  // next once-a-second topic scan: the first second of orders waited up to 1 s before anyone could read them.
  // Best effort, bounded like the stages' (StageRunner::run): the broker already answered wait_for_broker.
  producer->prepare_topics({s.topic}, messaging::Producer::kPrepareTopicsTimeout);

  spdlog::info("sending {} orders to {} at {} (seed {})",
               s.count == 0 ? std::string("unbounded") : std::to_string(s.count), s.topic,
               s.rate > 0 ? fmt::format("{}/s", s.rate) : std::string("full speed"), s.seed);

  producer::OrderGenerator generator(s.seed, s.customers, s.invalid_ratio);
  boost::asio::io_context io;
  boost::asio::steady_timer timer(io);
  const bool tty = isatty(STDERR_FILENO) != 0;
  const auto started = Clock::now();
  auto next_progress = started + std::chrono::seconds(1);
  std::string line;
  std::string error;
  std::vector<messaging::Header> headers(2);
  headers[0].first = messaging::header::kCorrelationId;
  headers[1].first = messaging::header::kTraceparent;
  bool enqueue_failed = false;

  while (!shutdown.requested() &&
         (s.count == 0 || c.sent < static_cast<std::uint64_t>(s.count) || !s.from_file.empty())) {
    std::string key;
    std::string value;
    std::string order_id;
    if (!s.from_file.empty()) {
      if (s.count > 0 && c.sent >= static_cast<std::uint64_t>(s.count)) break;
      if (!std::getline(input, line)) break;
      if (line.empty()) continue;
      value = line;
      // Sent as it is; only the key (customer_id) and the correlation id (order_id) are read from it.
      const auto j = nlohmann::json::parse(line, nullptr, false);
      key = string_field(j, "customer_id").value_or("");
      order_id = string_field(j, "order_id").value_or("");
    } else {
      auto rec = generator.next(std::chrono::system_clock::now());
      if (!rec.valid) ++c.invalid;
      key = std::move(rec.key);
      value = std::move(rec.value);
      order_id = std::move(rec.order_id);
    }
    headers[0].second = order_id;
    headers[1].second = messaging::new_traceparent();
    const std::string* key_ptr = key.empty() ? nullptr : &key;
    if (!producer->produce(s.topic, key_ptr, value.data(), value.size(), headers, nullptr, &error)) {
      if (producer->interrupted_while_full())
        break;  // stopped: like any stop, the summary says what was sent
      spdlog::error("cannot enqueue record {}: {}", c.sent + 1, error);
      enqueue_failed = true;
      break;
    }
    ++c.sent;
    producer->poll(std::chrono::milliseconds(0));
    if (s.rate > 0) {
      const auto due = started + std::chrono::duration_cast<Clock::duration>(
                                     std::chrono::duration<double>(static_cast<double>(c.sent) / s.rate));
      // Long waits in the producer's poll, in slices of at most 100 ms that end before `due`: delivery
      // reports (and the produced counter) keep up at any rate, and a stop is seen within 100 ms even at
      // one order a minute. The last (sub-)millisecond on a precise timer: poll() counts whole
      // milliseconds, and overshooting every send by up to 1 ms would turn a steady rate (5,000/s) into
      // bursts that raise the pipeline's tail latency.
      for (auto now = Clock::now(); due > now && !shutdown.requested(); now = Clock::now()) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(due - now);
        if (left >= std::chrono::milliseconds(2)) {
          producer->poll(std::min(left - std::chrono::milliseconds(1), std::chrono::milliseconds(100)));
          continue;
        }
        timer.expires_at(due);
        boost::system::error_code ec;
        timer.wait(ec);
        break;
      }
    }
    if (tty && Clock::now() >= next_progress) {
      const double secs = std::chrono::duration<double>(Clock::now() - started).count();
      std::fprintf(stderr, "\rsent=%llu delivered=%llu failed=%llu rate=%.0f/s   ",
                   static_cast<unsigned long long>(c.sent), static_cast<unsigned long long>(c.delivered),
                   static_cast<unsigned long long>(c.failed), static_cast<double>(c.sent) / secs);
      next_progress += std::chrono::seconds(1);
    }
  }
  if (tty) std::fprintf(stderr, "\n");

  // Wait for every delivery report (bounded by message.timeout.ms); a second signal exits at once.
  while (producer->outstanding() > 0 && !(c.delivered + c.failed >= c.sent)) {
    producer->flush(std::chrono::milliseconds(500));
  }
  producer->poll(std::chrono::milliseconds(0));
  const double elapsed = std::chrono::duration<double>(Clock::now() - started).count();
  std::printf("sent=%llu delivered=%llu failed=%llu elapsed_s=%.3f rate=%.0f/s\n",
              static_cast<unsigned long long>(c.sent), static_cast<unsigned long long>(c.delivered),
              static_cast<unsigned long long>(c.failed), elapsed,
              elapsed > 0 ? static_cast<double>(c.delivered) / elapsed : 0.0);
  std::fflush(stdout);
  if (c.invalid > 0) spdlog::info("{} of the sent orders were deliberately malformed", c.invalid);
  const bool ok = !enqueue_failed && c.failed == 0 && c.delivered == c.sent;
  if (!ok) spdlog::error("not every record was acknowledged by the broker");
  return ok ? 0 : 1;
}
