#include "orderflow/dlq/commands.h"

#include <iostream>
#include <utility>

#include "orderflow/dlq/dlq_record.h"
#include "orderflow/dlq/error_counts.h"
#include "orderflow/dlq/replay.h"
#include "orderflow/dlq/topic_scan.h"
#include "orderflow/runtime/shutdown.h"
#include "orderflow/runtime/stage_service.h"

namespace orderflow::dlq {

namespace {

constexpr const char* kProgram = "dlq-tool";

int fail(const std::string& message) {
  std::cerr << kProgram << ": " << message << "\n";
  return 1;
}

ScanOptions scan_options(const ToolOptions& o, bool from_committed) {
  return ScanOptions{o.kafka, o.topic, o.group_id, from_committed, o.timeout};
}

bool matches(const ToolOptions& o, const DlqRecord& r) {
  return !o.error_class || r.error_class() == o.error_class;
}

// Every subcommand: reach the brokers first (bounded), then run; Kafka errors become exit codes.
template <typename Body>
int with_kafka(const ToolOptions& o, Body&& body) {
  try {
    std::string failure;  // "cannot reach Kafka at … within N s: <the connection error>"
    if (!runtime::wait_for_broker(o.kafka, o.timeout, {}, &failure)) return fail(failure);
    return std::forward<Body>(body)();
  } catch (const messaging::ConfigError& e) {
    std::cerr << kProgram << ": " << e.what() << "\n";
    return 2;
  } catch (const ScanError& e) {
    return fail(e.what());
  } catch (const ReplayError& e) {
    return fail(e.what());
  }
}

}  // namespace

int run_list(const ToolOptions& o, std::ostream& out) {
  return with_kafka(o, [&] {
    TopicScan scan(scan_options(o, false));
    std::int64_t shown = 0;
    while (o.limit == 0 || shown < o.limit) {
      auto msg = scan.next();
      if (!msg) break;
      const auto r = from_message(*msg);
      if (!matches(o, r)) continue;
      ++shown;
      if (o.json) {
        out << format_json(r) << "\n";
      } else {
        out << format_text(r) << "\n";
      }
    }
    if (!o.json) out << "listed=" << shown << " topic=" << o.topic << "\n";
    out.flush();
    return 0;
  });
}

int run_count(const ToolOptions& o, std::ostream& out) {
  return with_kafka(o, [&] {
    TopicScan scan(scan_options(o, false));
    ErrorCounts counts;
    counts.topic = o.topic;
    while (o.limit == 0 || counts.total < o.limit) {
      auto msg = scan.next();
      if (!msg) break;
      const auto r = from_message(*msg);
      if (matches(o, r)) counts.add(r);
    }
    out << (o.json ? counts.to_json() + "\n" : counts.to_text());
    out.flush();
    return 0;
  });
}

int run_replay(const ToolOptions& o, std::ostream& out) {
  runtime::ShutdownSignal shutdown;  // SIGINT/SIGTERM: stop reading, wait for acks, commit, exit 130
  return with_kafka(o, [&] {
    ReplayOptions ro;
    ro.to = o.to;
    ro.error_class = o.error_class;
    ro.limit = o.limit;
    ro.dry_run = o.dry_run;
    ro.json = o.json;
    ro.transactions = o.transactions;
    messaging::ProducerOptions po;
    // The transactional.id is replay's own (the replay group's); a -X one would make a --no-transactions
    // producer transactional without its transactions ever being initialised.
    for (const auto& [k, v] : o.kafka.entries()) {
      if (k != "transactional.id") po.properties.set(k, v);
    }
    const auto summary = replay(scan_options(o, true), po, ro, out, &shutdown.flag());
    out << summary.line(o.json) << "\n";
    out.flush();
    if (!summary.error.empty()) {
      fail(summary.error);  // one line; an aborted round or a fenced run says what it left behind
      if (summary.replayed > 0 && !summary.fenced && summary.failed == 0) {
        std::cerr << kProgram << ": progress up to the failure was committed; run replay again to continue\n";
      }
    }
    if (summary.unroutable > 0) {
      fail(std::to_string(summary.unroutable) +
           " record(s) have no x-original-topic; replay them with --to TOPIC (their partitions stopped "
           "there)");
    }
    if (summary.failed > 0 && summary.error.empty()) {
      fail(std::to_string(summary.failed) +
           " record(s) were not acknowledged and not committed; run replay again");
    }
    return summary.exit_code();
  });
}

int run_command(const ToolOptions& o, std::ostream& out) {
  switch (o.command) {
    case Command::List:
      return run_list(o, out);
    case Command::Count:
      return run_count(o, out);
    case Command::Replay:
      return run_replay(o, out);
  }
  return 2;
}

}  // namespace orderflow::dlq
