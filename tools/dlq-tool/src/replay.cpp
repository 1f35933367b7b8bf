#include "orderflow/dlq/replay.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <deque>
#include <memory>
#include <set>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace orderflow::dlq {

namespace {
constexpr std::string_view kToolPrefix = "dlq-tool.";
constexpr int kTxnAttempts = 3;
}  // namespace

std::string replay_transactional_id(const std::string& replay_group) {
  if (replay_group.rfind(kToolPrefix, 0) == 0) return replay_group;
  return std::string(kToolPrefix) + replay_group;
}

TxnFailureAction txn_failure_action(bool retriable, bool abortable, bool fatal, int attempt,
                                    int max_attempts) {
  if (fatal) return TxnFailureAction::Fatal;
  if (abortable) return TxnFailureAction::Abort;
  if (retriable && attempt < max_attempts) return TxnFailureAction::Retry;
  // Neither flag (a state error) or retries used up: the transaction's outcome is left to the abort.
  return TxnFailureAction::Abort;
}

bool offsets_stored(const std::map<std::int32_t, std::int64_t>& sent,
                    const std::map<std::int32_t, std::int64_t>& committed) {
  for (const auto& [partition, offset] : sent) {
    const auto it = committed.find(partition);
    if (it == committed.end() || it->second != offset) return false;
  }
  return true;
}

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

using Offsets = std::map<std::int32_t, std::int64_t>;

// One record of the current round, in read order. Its address is the producer's delivery context,
// so the round is a deque (stable addresses on push_back).
struct Pending {
  enum class State { Skipped, InFlight, Acked, Failed, Unroutable };
  std::int32_t partition = -1;
  std::int64_t offset = -1;
  State state = State::Skipped;
};

// librdkafka's log and error events of the group handle: connection noise, at debug level.
class DebugEvents : public RdKafka::EventCb {
 public:
  void event_cb(RdKafka::Event& e) override {
    if (e.type() == RdKafka::Event::EVENT_ERROR || e.type() == RdKafka::Event::EVENT_LOG) {
      spdlog::debug("librdkafka replay group: {}", e.str());
    }
  }
};

// The replay group as send_offsets_to_transaction takes it (a consumer's group metadata: generation
// −1 and no member, which the broker accepts for a group without members, like the explicit commits
// of --no-transactions), and a read of what the group has committed. It never joins the group.
class ReplayGroup {
 public:
  ReplayGroup(const messaging::KafkaProperties& kafka, const std::string& group)
      : events_(std::make_unique<DebugEvents>()) {
    messaging::KafkaProperties props;
    for (const auto& [k, v] : kafka.entries()) props.set(k, v);
    props.set("group.id", group);
    props.set("enable.auto.commit", "false");
    // OffsetFetch then asks for stable offsets: right after a commit the broker answers once the
    // transaction's offsets are applied, not with the previous ones.
    props.set("isolation.level", "read_committed");
    auto conf = messaging::make_conf(props);
    std::string err;
    if (conf->set("event_cb", static_cast<RdKafka::EventCb*>(events_.get()), err) != RdKafka::Conf::CONF_OK) {
      throw messaging::ConfigError("replay group event callback: " + err);
    }
    consumer_.reset(RdKafka::KafkaConsumer::create(conf.get(), err));
    if (!consumer_) throw messaging::ConfigError("cannot create Kafka consumer: " + err);
  }
  ~ReplayGroup() { consumer_->close(); }
  ReplayGroup(const ReplayGroup&) = delete;
  ReplayGroup& operator=(const ReplayGroup&) = delete;

  [[nodiscard]] std::unique_ptr<RdKafka::ConsumerGroupMetadata> metadata() const {
    return std::unique_ptr<RdKafka::ConsumerGroupMetadata>(consumer_->groupMetadata());
  }

  // The group's committed offsets of `topic` for the partitions of `which`; nullopt (and `error`)
  // when the broker does not answer in `timeout`.
  std::optional<Offsets> committed(const std::string& topic, const Offsets& which,
                                   std::chrono::milliseconds timeout, std::string* error) const {
    std::vector<RdKafka::TopicPartition*> list;
    for (const auto& [p, offset] : which) list.push_back(RdKafka::TopicPartition::create(topic, p));
    const auto rc = consumer_->committed(list, static_cast<int>(timeout.count()));
    Offsets out;
    for (const auto* tp : list) {
      if (tp->err() == RdKafka::ERR_NO_ERROR) out[tp->partition()] = tp->offset();
    }
    RdKafka::TopicPartition::destroy(list);
    if (rc != RdKafka::ERR_NO_ERROR) {
      *error = RdKafka::err2str(rc);
      return std::nullopt;
    }
    return out;
  }

 private:
  std::unique_ptr<DebugEvents> events_;  // outlives consumer_
  std::unique_ptr<RdKafka::KafkaConsumer> consumer_;
};

// Runs a transactional call, trying a retriable failure again; throws the TxnError to act on.
template <typename Call>
void txn_call(Call&& call) {
  for (int attempt = 1;; ++attempt) {
    try {
      call();
      return;
    } catch (const messaging::TxnError& e) {
      if (txn_failure_action(e.retriable(), e.abortable(), e.fatal(), attempt, kTxnAttempts) !=
          TxnFailureAction::Retry) {
        throw;
      }
      spdlog::warn("{} (attempt {} of {}); trying again", e.what(), attempt, kTxnAttempts);
    }
  }
}

class ReplayRun {
 public:
  ReplayRun(ScanOptions scan_options, const messaging::ProducerOptions& producer_options,
            const ReplayOptions& options, std::ostream& out)
      : options_(options), out_(out), read_timeout_(scan_options.timeout) {
    summary_.topic = scan_options.topic;
    summary_.dry_run = options.dry_run;
    scan_options.from_committed = true;
    group_id_ = scan_options.group_id;
    if (!options.dry_run) {
      auto po = producer_options;
      if (options.transactions) {
        transactional_id_ = replay_transactional_id(group_id_);
        po.transactional_id = transactional_id_;
      }
      producer_ = std::make_unique<messaging::Producer>(po, [this](const messaging::DeliveryReport& r) {
        auto* p = static_cast<Pending*>(r.context);
        p->state = r.ok() ? Pending::State::Acked : Pending::State::Failed;
        if (!r.ok()) {
          report_failure(p->partition, p->offset, r.topic, r.error_text,
                         r.err == RdKafka::ERR__PURGE_QUEUE || r.err == RdKafka::ERR__PURGE_INFLIGHT);
        }
      });
    }
    if (!transactional_id_.empty()) {
      group_ = std::make_unique<ReplayGroup>(scan_options.kafka, group_id_);
      // Before the scan reads the group's offsets: a previous run with this transactional.id is fenced
      // and the broker completes its transaction first (aborts an open round, finishes a committing
      // one), so the offsets read next are exactly what was replayed.
      try {
        txn_call([&] { producer_->init_transactions(options_.txn_timeout); });
      } catch (const messaging::TxnError& e) {
        const auto* bootstrap = scan_options.kafka.find("bootstrap.servers");
        throw ReplayError(
            fmt::format("cannot initialise transactions (transactional.id '{}') on {}: {}; a broker without "
                        "transaction support needs --no-transactions",
                        transactional_id_, bootstrap != nullptr ? *bootstrap : "?", e.what()));
      }
      spdlog::info("replaying {} in transactions of up to {} records (transactional.id={})", summary_.topic,
                   options_.batch_size, transactional_id_);
    }
    scan_ = std::make_unique<TopicScan>(std::move(scan_options));
  }

  ReplaySummary run(const std::atomic<bool>* stop) {
    try {
      while (!halted_run_ && (options_.limit == 0 || to_replay_ < options_.limit)) {
        // Checked here too: next() hands out the records it buffered during a commit without looking.
        if (stop != nullptr && stop->load()) break;
        auto msg = scan_->next(stop);
        if (!msg) break;
        handle(from_message(*msg));
        if (batch_.size() >= options_.batch_size) finish_batch();
      }
    } catch (const ScanError& e) {
      set_error(e.what());
    }
    summary_.interrupted = stop != nullptr && stop->load();
    try {
      finish_batch();  // what was sent before a failure is still acknowledged and committed
    } catch (const ScanError& e) {
      set_error(e.what());
    }
    return summary_;
  }

 private:
  [[nodiscard]] bool transactional() const { return !transactional_id_.empty(); }

  void handle(const DlqRecord& r) {
    if (halted_.count(r.partition) != 0) return;  // left for the next run (stop_partition raced a fetch)
    if (transactional() && !txn_open_ && !begin_round()) return;
    const auto decision = decide(r, options_);
    Pending& p = batch_.emplace_back(Pending{r.partition, r.offset, Pending::State::Skipped});
    switch (decision.kind) {
      case ReplayDecision::Kind::Skip:
        ++summary_.skipped;
        ++round_skipped_;
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
      report_failure(r.partition, r.offset, decision.target, error);
      // The round cannot commit now (it is aborted at its end): reading on would only send more.
      if (transactional()) halted_run_ = true;
    }
  }

  // Without transactions every failed record stops its own partition and is worth a line. In a
  // transaction the first failure dooms the round: it is kept for the abort's message (and logged unless
  // the producer is fenced, which the run's one error line says); the rest go to debug level, and so do
  // records librdkafka purged because the transaction had already failed (`purged`), which say nothing
  // of the cause.
  void report_failure(std::int32_t partition, std::int64_t offset, std::string_view target,
                      std::string_view error, bool purged = false) {
    const auto what =
        fmt::format("{} [{}] offset {} to {}: {}", summary_.topic, partition, offset, target, error);
    if (!transactional()) {
      spdlog::error("cannot replay {}", what);
      return;
    }
    if (purged || !round_first_failure_.empty()) {
      spdlog::debug("cannot replay {}", what);
      return;
    }
    round_first_failure_ = what;
    if (producer_->fatal_error().empty()) spdlog::error("cannot replay {}", what);
  }

  // Records of the current round handed to the producer (acknowledged, failed or still in flight).
  [[nodiscard]] std::int64_t sent_in_round() const {
    std::int64_t n = 0;
    for (const auto& p : batch_) {
      if (p.state == Pending::State::InFlight || p.state == Pending::State::Acked ||
          p.state == Pending::State::Failed) {
        ++n;
      }
    }
    return n;
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
    scan_->stop_partition(partition);
  }

  bool begin_round() {
    try {
      producer_->begin_transaction();
    } catch (const messaging::TxnError& e) {
      fail_fatally(e.what());
      return false;
    }
    txn_open_ = true;
    round_skipped_ = 0;
    round_first_failure_.clear();
    return true;
  }

  // Waits for every acknowledgement of the round, then commits (transactions: the round's
  // transaction with its offsets; otherwise offsets per partition up to, not including, its first
  // record that was not replayed).
  void finish_batch() {
    if (producer_) {
      // Bounded by message.timeout.ms: every record completes, acknowledged or failed.
      while (!producer_->flush(std::chrono::seconds(1))) {
        spdlog::info("waiting for {} acknowledgements", producer_->outstanding());
      }
    }
    if (transactional()) {
      if (txn_open_) finish_transaction();
      batch_.clear();
      return;
    }
    Offsets commit;
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
    if (!options_.dry_run) scan_->commit(commit);
  }

  void finish_transaction() {
    const std::int64_t sent = sent_in_round();
    std::int64_t acked = 0;
    Offsets commit;
    std::set<std::int32_t> blocked;
    for (const auto& p : batch_) {
      if (p.state == Pending::State::Acked) ++acked;
      if (blocked.count(p.partition) != 0) continue;
      if (p.state == Pending::State::Skipped || p.state == Pending::State::Acked) {
        commit[p.partition] = p.offset + 1;
      } else {
        blocked.insert(p.partition);
      }
    }
    if (const auto fatal = producer_->fatal_error(); !fatal.empty()) {
      fail_fatally(fatal);
      return;
    }
    // A record the broker did not take leaves the transaction abortable (librdkafka), and committing
    // the others would consume it: the whole round goes.
    if (sent != acked) {
      abort_round(fmt::format("{} record(s) of the round were not acknowledged{}", sent - acked,
                              round_first_failure_.empty() ? "" : ", the first: " + round_first_failure_));
      return;
    }
    std::vector<RdKafka::TopicPartition*> offsets;
    for (const auto& [p, next] : commit) {
      offsets.push_back(RdKafka::TopicPartition::create(scan_->topic(), p, next));
    }
    bool committing = false;
    try {
      if (!offsets.empty()) {
        const auto group = group_->metadata();
        txn_call([&] { producer_->send_offsets_to_transaction(offsets, group.get(), options_.txn_timeout); });
      }
      committing = true;
      txn_call([&] { producer_->commit_transaction(options_.txn_timeout); });
    } catch (const messaging::TxnError& e) {
      RdKafka::TopicPartition::destroy(offsets);
      if (txn_failure_action(e.retriable(), e.abortable(), e.fatal(), kTxnAttempts, kTxnAttempts) ==
          TxnFailureAction::Fatal) {
        fail_fatally(e.what(), committing);
      } else {
        abort_round(e.what());
      }
      return;
    }
    RdKafka::TopicPartition::destroy(offsets);
    txn_open_ = false;
    round_skipped_ = 0;
    summary_.replayed += acked;
    ++rounds_;
    spdlog::debug("round {} committed: {} record(s) replayed, {} partition offset(s)", rounds_, acked,
                  commit.size());
    if (!commit.empty()) keep_progress(commit);
  }

  // Checks once that the broker stored the offsets of a committed transaction. One that accepts them
  // without storing them (librdkafka's mock cluster, hence kafka-dev-broker) would make every later
  // run replay everything again: there, progress is also committed directly after each round.
  void keep_progress(const Offsets& commit) {
    if (!progress_checked_) {
      progress_checked_ = true;
      std::string error;
      const auto read = group_->committed(scan_->topic(), commit, read_timeout_, &error);
      if (!read || !offsets_stored(commit, *read)) {
        direct_commits_ = true;
        spdlog::warn(
            "the broker did not keep the offsets sent with the transaction ({}): committing replay progress "
            "directly after each round from now on; such a broker (e.g. kafka-dev-broker) has no "
            "transaction markers either, so a replay killed there can send up to two rounds again",
            read ? "reading them back gave older ones" : "reading them back failed: " + error);
      }
    }
    if (direct_commits_) scan_->commit(commit);
  }

  void abort_round(const std::string& why) {
    spdlog::warn("aborting the round's transaction: {}", why);
    try {
      txn_call([&] { producer_->abort_transaction(options_.txn_timeout); });
    } catch (const messaging::TxnError& e) {
      fail_fatally(e.what());
      return;
    }
    const auto sent = sent_in_round();
    txn_open_ = false;
    halted_run_ = true;
    summary_.failed += sent;
    summary_.skipped -= round_skipped_;
    round_skipped_ = 0;
    set_error(
        fmt::format("transaction aborted ({}): the round's {} record(s) were neither replayed nor "
                    "consumed (read_committed consumers never see them); run replay again",
                    why, sent));
  }

  // Fenced by a newer run of the same replay group, or a producer whose transactional state broke:
  // nothing more can be sent. The broker aborts the open round, unless its commit had already reached
  // the broker (`while_committing`): then the broker finishes that commit, and only the group's offsets
  // tell which way it went.
  void fail_fatally(const std::string& why, bool while_committing = false) {
    const auto sent = sent_in_round();
    txn_open_ = false;
    halted_run_ = true;
    summary_.fenced = true;
    if (while_committing) {
      set_error(
          fmt::format("transactional.id '{}' fenced or failed while committing its round of {} record(s) "
                      "({}): another replay of group '{}' probably started; whether that round was "
                      "committed is the broker's to say, and the next replay continues from the "
                      "group's committed offsets",
                      transactional_id_, sent, why, group_id_));
      return;
    }
    summary_.failed += sent;
    summary_.skipped -= round_skipped_;
    round_skipped_ = 0;
    set_error(
        fmt::format("transactional.id '{}' fenced or failed ({}): another replay of group '{}' "
                    "probably started; this run's open round is aborted and not consumed",
                    transactional_id_, why, group_id_));
  }

  void set_error(const std::string& e) { summary_.error += (summary_.error.empty() ? "" : "; ") + e; }

  const ReplayOptions& options_;
  std::ostream& out_;
  std::chrono::milliseconds read_timeout_;
  std::string group_id_;
  std::string transactional_id_;  // empty: no transactions (or a dry run)
  ReplaySummary summary_;
  std::unique_ptr<messaging::Producer> producer_;
  std::unique_ptr<ReplayGroup> group_;
  std::unique_ptr<TopicScan> scan_;
  std::deque<Pending> batch_;
  std::set<std::int32_t> halted_;
  std::set<std::string> checked_targets_;
  std::int64_t to_replay_ = 0;
  std::int64_t round_skipped_ = 0;
  std::string round_first_failure_;  // transactions: the first record of the round that failed, and why

  std::int64_t rounds_ = 0;
  bool txn_open_ = false;
  bool halted_run_ = false;  // a round was aborted or the producer fenced: read nothing more
  bool progress_checked_ = false;
  bool direct_commits_ = false;
};

}  // namespace

ReplaySummary replay(ScanOptions scan, const messaging::ProducerOptions& producer_options,
                     const ReplayOptions& options, std::ostream& out, const std::atomic<bool>* stop) {
  ReplayRun run(std::move(scan), producer_options, options, out);
  return run.run(stop);
}

}  // namespace orderflow::dlq
