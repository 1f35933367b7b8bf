#include "orderflow/dev_broker/options.h"

#include <fmt/format.h>
#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <sstream>

#include <boost/program_options.hpp>

#include "orderflow/version.h"

namespace orderflow::dev_broker {
namespace po = boost::program_options;

namespace {

constexpr int kMaxBrokers = 64;
constexpr int kMaxPartitions = 10000;

std::string help_text(const po::options_description& visible) {
  std::ostringstream os;
  os << "Usage: kafka-dev-broker [--port PORT] [--brokers N] [--partitions N] [--topic TOPIC]...\n"
        "                        [--watermark-interval-ms MS] [--fetch-max-wait-ms MS]\n"
        "\n"
        "An in-memory Kafka for development, demos and tests: librdkafka's mock cluster behind a\n"
        "bootstrap forwarder on localhost:PORT. Prints 'ready bootstrap=localhost:PORT' on stdout "
        "once\n"
        "it accepts connections; stops on SIGINT/SIGTERM (exit 0). Exit 1 when the port is taken,\n"
        "exit 2 on a bad flag.\n"
        "\n"
        "Topics created at start, each with --partitions partitions:\n ";
  for (const auto& t : standard_topics()) {
    os << ' ' << t;
  }
  os << "\n  and every --topic. Any other topic is auto-created on first produce or subscribe with "
     << kMockAutoCreatePartitions
     << " partitions\n  (the mock cluster's default); pass --topic to choose its partition count.\n"
        "\n"
        "Limits of the mock (librdkafka "
     << rd_kafka_version_str()
     << "): it keeps only about 5 MiB per partition and silently drops older\n"
        "records (this program warns on stderr when a partition's low watermark rises above 0), it "
        "does\n"
        "not write transaction markers, and it does not support the Admin API (CreateTopics "
        "etc.).\n"
        "\n"
     << visible
     << "\n"
        "Example (a broker on localhost:9092, the other binaries' default --brokers):\n"
        "  kafka-dev-broker --port 9092\n";
  return os.str();
}

template <typename T>
bool in_range(T value, T lo, T hi) {
  return value >= lo && value <= hi;
}

}  // namespace

ParseOutcome parse_options(int argc, const char* const argv[]) {
  ParseOutcome outcome;
  // The flags' defaults are Options' initial values, each spelled there once.
  const Options defaults;
  int port = defaults.port;
  int brokers = defaults.brokers;
  int partitions = defaults.partitions;
  int watermark_ms = static_cast<int>(defaults.watermark_interval.count());
  int fetch_wait_ms = static_cast<int>(defaults.fetch_wait_cap.count());
  std::vector<std::string> topics;
  std::vector<std::string> positional;

  po::options_description visible("Options");
  visible.add_options()("help,h", "show this help and exit")("version", "show the version and exit")(
      "port", po::value<int>(&port)->default_value(port)->value_name("PORT"),
      "bootstrap port on 127.0.0.1 (0 = pick a free port)")(
      "brokers", po::value<int>(&brokers)->default_value(brokers)->value_name("N"),
      "number of mock brokers (ids 1..N)")(
      "partitions", po::value<int>(&partitions)->default_value(partitions)->value_name("N"),
      "partitions of every pre-created topic")(
      "topic", po::value<std::vector<std::string>>(&topics)->composing()->value_name("TOPIC"),
      "also create this topic (repeatable)")(
      "watermark-interval-ms", po::value<int>(&watermark_ms)->default_value(watermark_ms)->value_name("MS"),
      "how often to check for records dropped by the mock's retention (0 = never)")(
      "fetch-max-wait-ms", po::value<int>(&fetch_wait_ms)->default_value(fetch_wait_ms)->value_name("MS"),
      "answer a fetch that finds no records after at most this long, whatever the client's\n"
      "fetch.wait.max.ms (the mock cannot answer early when a record arrives, a real broker\n"
      "does); 0 = wait as long as the client asks");
  po::options_description hidden;
  hidden.add_options()("positional", po::value<std::vector<std::string>>(&positional));
  po::options_description all;
  all.add(visible).add(hidden);
  po::positional_options_description pos;
  pos.add("positional", -1);

  auto fail = [&outcome](std::string message) {
    outcome.exit_code = 2;
    outcome.err = fmt::format("kafka-dev-broker: {} (see --help)\n", message);
    return outcome;
  };

  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(all).positional(pos).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    return fail(e.what());
  }

  if (vm.count("help") != 0U) {
    outcome.out = help_text(visible);
    return outcome;
  }
  if (vm.count("version") != 0U) {
    outcome.out = fmt::format("kafka-dev-broker {}\n", ORDERFLOW_VERSION);
    return outcome;
  }
  if (!positional.empty()) {
    return fail(fmt::format("unexpected argument '{}'", positional.front()));
  }
  if (!in_range(port, 0, 65535)) {
    return fail(fmt::format("--port: must be between 0 and 65535, got {}", port));
  }
  if (!in_range(brokers, 1, kMaxBrokers)) {
    return fail(fmt::format("--brokers: must be between 1 and {}, got {}", kMaxBrokers, brokers));
  }
  if (!in_range(partitions, 1, kMaxPartitions)) {
    return fail(fmt::format("--partitions: must be between 1 and {}, got {}", kMaxPartitions, partitions));
  }
  if (watermark_ms < 0) {
    return fail(fmt::format("--watermark-interval-ms: must be >= 0, got {}", watermark_ms));
  }

  if (!in_range(fetch_wait_ms, 0, 300000)) {
    return fail(fmt::format("--fetch-max-wait-ms: must be between 0 and 300000, got {}", fetch_wait_ms));
  }

  Options options;
  options.port = static_cast<std::uint16_t>(port);
  options.brokers = brokers;
  options.partitions = partitions;
  options.watermark_interval = std::chrono::milliseconds(watermark_ms);
  options.fetch_wait_cap = std::chrono::milliseconds(fetch_wait_ms);
  for (auto& t : topics) {
    const bool legal_chars = std::all_of(t.begin(), t.end(), [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
             c == '_' || c == '-';
    });
    if (t.empty() || t.size() > 249 || !legal_chars || t == "." || t == "..") {
      return fail(
          fmt::format("--topic: a topic name has 1 to 249 characters of [a-zA-Z0-9._-], got '{}'", t));
    }
    const auto& std_topics = standard_topics();
    if (std::find(std_topics.begin(), std_topics.end(), t) == std_topics.end() &&
        std::find(options.extra_topics.begin(), options.extra_topics.end(), t) ==
            options.extra_topics.end()) {
      options.extra_topics.push_back(std::move(t));
    }
  }
  outcome.options = std::move(options);
  return outcome;
}

}  // namespace orderflow::dev_broker
