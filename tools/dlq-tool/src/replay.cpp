#include "orderflow/dlq/replay.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <deque>
#include <map>
#include <memory>
#include <set>

#include <nlohmann/json.hpp>

namespace orderflow::dlq {

ReplayDecision decide(const DlqRecord& r, const ReplayOptions& options) {
  if (options.error_class && r.error_class() != options.error_class) return {ReplayDecision::Kind::Skip, {}};
  if (!options.to.empty()) return {ReplayDecision::Kind::Replay, options.to};
  auto original = r.original_topic();
  if (!original || original->empty()) return {ReplayDecision::Kind::Unroutable, {}};
  return {ReplayDecision::Kind::Replay, std::move(*original)};
}

std::string ReplaySummary::line(bool json) const {
  if (json) {
    nlohmann::ordered_json j;
    j["replayed"] = dry_run ? 0 : replayed;
    if (dry_run) j["would_replay"] = replayed;
    j["skipped"] = skipped;
    j["failed"] = failed;
    j["unroutable"] = unroutable;
    j["topic"] = topic;
    j["dry_run"] = dry_run;
    j["interrupted"] = interrupted;
    if (!error.empty()) j["error"] = error;
    return j.dump();
  }
  std::string out = fmt::format("{}={} skipped={} topic={}", dry_run ? "would_replay" : "replayed", replayed,
                                skipped, topic);
  if (failed > 0) out += fmt::format(" failed={}", failed);
  if (unroutable > 0) out += fmt::format(" unroutable={}", unroutable);
  if (dry_run) out += " dry_run=true";
  if (interrupted) out += " interrupted=true";
  return out;
}

int ReplaySummary::exit_code() const {
  if (failed > 0 || unroutable > 0 || !error.empty()) return 1;
  if (interrupted) return 130;
  return 0;
}

namespace {

// One record of the current batch, in read order. Its address is the producer's delivery context,
// so the batch is a deque (stable addresses on push_back).
struct Pending {
  enum class State { Skipped, InFlight, Acked, Failed, Unroutable };
  std::int32_t partition = -1;
  std::int64_t offset = -1;
  State state = State::Skipped;
};

class ReplayRun {
 public:
  ReplayRun(TopicScan& scan, const messaging::ProducerOptions& producer_options, const ReplayOptions& options,
            std::ostream& out)
      : scan_(scan), options_(options), out_(out) {
    summary_.topic = scan.topic();
    summary_.dry_run = options.dry_run;
    if (!options.dry_run) {
      producer_ =
          std::make_unique<messaging::Producer>(producer_options, [this](const messaging::DeliveryReport& r) {
            auto* p = static_cast<Pending*>(r.context);
            p->state = r.ok() ? Pending::State::Acked : Pending::State::Failed;
            if (!r.ok()) {
              spdlog::error("replay of {} [{}] offset {} to {} failed: {}", scan_.topic(), p->partition,
                            p->offset, r.topic, r.error_text);
            }
          });
    }
  }

  ReplaySummary run(const std::atomic<bool>* stop) {
    try {
      while (options_.limit == 0 || to_replay_ < options_.limit) {
        auto msg = scan_.next(stop);
        if (!msg) break;
        handle(from_message(*msg));
        if (batch_.size() >= options_.batch_size) finish_batch();
      }
    } catch (const ScanError& e) {
      summary_.error = e.what();
    }
    summary_.interrupted = stop != nullptr && stop->load();
    try {
      finish_batch();  // what was sent before a failure is still acknowledged and committed
    } catch (const ScanError& e) {
      summary_.error += (summary_.error.empty() ? "" : "; ") + std::string(e.what());
    }
    return summary_;
  }

 private:
  void handle(const DlqRecord& r) {
    if (halted_.count(r.partition) != 0) return;  // left for the next run (stop_partition raced a fetch)
    const auto decision = decide(r, options_);
    Pending& p = batch_.emplace_back(Pending{r.partition, r.offset, Pending::State::Skipped});
    switch (decision.kind) {
      case ReplayDecision::Kind::Skip:
        ++summary_.skipped;
        return;
      case ReplayDecision::Kind::Unroutable:
        // Committing past it would lose it; replaying later records of its partition first would
        // reorder them. Its partition stops here until someone replays it with --to.
        p.state = Pending::State::Unroutable;
        ++summary_.unroutable;
        halt(r.partition);
        spdlog::error("{} [{}] offset {} has no {} header: use --to TOPIC; partition {} stops here", r.topic,
                      r.partition, r.offset, messaging::header::kOriginalTopic, r.partition);
        return;
      case ReplayDecision::Kind::Replay:
        break;
    }
    ++to_replay_;
    if (options_.dry_run) {
      ++summary_.replayed;
      out_ << (options_.json ? format_json(r, kValuePreviewBytes, decision.target)
                             : "would replay to " + decision.target + ": " + format_text(r))
           << (options_.json ? "\n" : "");
      return;
    }
    if (checked_targets_.insert(decision.target).second) warn_if_missing(decision.target);
    p.state = Pending::State::InFlight;
    const std::string* key = r.key ? &*r.key : nullptr;
    std::string error;
    if (!producer_->produce(decision.target, key, r.value_null ? nullptr : r.value.data(), r.value.size(),
                            replay_headers(r.headers), &p, &error)) {
      p.state = Pending::State::Failed;
      spdlog::error("replay of {} [{}] offset {} to {} failed: {}", r.topic, r.partition, r.offset,
                    decision.target, error);
    }
  }

  // A broker without auto-create fails such records only after topic.metadata.propagation.max.ms
  // (30 s); say why up front. Not an error: the mock and many brokers create topics on first produce.
  void warn_if_missing(const std::string& topic) {
    RdKafka::Metadata* raw = nullptr;
    if (producer_->handle().metadata(true, nullptr, &raw, 5000) != RdKafka::ERR_NO_ERROR) return;
    std::unique_ptr<RdKafka::Metadata> md(raw);
    for (const auto* t : *md->topics()) {
      if (t->topic() == topic) return;
    }
    spdlog::warn(
        "topic '{}' does not exist yet: its records fail unless the broker creates topics on first use",
        topic);
  }

  void halt(std::int32_t partition) {
    halted_.insert(partition);
    scan_.stop_partition(partition);
  }

  // Waits for every acknowledgement of the batch, then commits per partition up to (not including)
  // its first record that was not replayed.
  void finish_batch() {
    if (producer_) {
      // Bounded by message.timeout.ms: every record completes, acknowledged or failed.
      while (!producer_->flush(std::chrono::seconds(1))) {
        spdlog::info("waiting for {} acknowledgements", producer_->outstanding());
      }
    }
    std::map<std::int32_t, std::int64_t> commit;
    std::set<std::int32_t> blocked;
    for (const auto& p : batch_) {
      if (p.state == Pending::State::Acked) ++summary_.replayed;
      if (p.state == Pending::State::Failed) ++summary_.failed;
      if (blocked.count(p.partition) != 0) continue;
      switch (p.state) {
        case Pending::State::Skipped:
        case Pending::State::Acked:
          commit[p.partition] = p.offset + 1;
          break;
        case Pending::State::Failed:
          halt(p.partition);
          blocked.insert(p.partition);
          break;
        case Pending::State::Unroutable:
        case Pending::State::InFlight:  // not after a full flush; never commit past it
          blocked.insert(p.partition);
          break;
      }
    }
    batch_.clear();
    if (!options_.dry_run) scan_.commit(commit);
  }

  TopicScan& scan_;
  const ReplayOptions& options_;
  std::ostream& out_;
  ReplaySummary summary_;
  std::unique_ptr<messaging::Producer> producer_;
  std::deque<Pending> batch_;
  std::set<std::int32_t> halted_;
  std::set<std::string> checked_targets_;
  std::int64_t to_replay_ = 0;
};

}  // namespace

ReplaySummary replay(TopicScan& scan, const messaging::ProducerOptions& producer_options,
                     const ReplayOptions& options, std::ostream& out, const std::atomic<bool>* stop) {
  ReplayRun run(scan, producer_options, options, out);
  return run.run(stop);
}

}  // namespace orderflow::dlq
