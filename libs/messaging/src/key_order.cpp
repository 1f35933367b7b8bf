#include "orderflow/messaging/key_order.h"

namespace orderflow::messaging {

KeyOrder::Admit KeyOrder::admit(std::int32_t partition, std::int64_t offset, const std::string* key,
                                bool from_retry, const Origin& first_read) {
  Admit admit;
  if (!enabled_) return admit;
  auto step = KeyGate::RetryStep::Process;
  if (from_retry) {
    const auto abandoned = gate_.abandoned();
    step = gate_.retry_step(partition, offset, key, first_read);
    admit.abandoned_first = gate_.abandoned() != abandoned;
    if (step == KeyGate::RetryStep::Skip) {
      admit.admission = Admission::Skip;
      return admit;
    }
  }
  if (key == nullptr) return admit;
  // A record parked again keeps its place in its key's order wherever it lands in the partition: KeyGate
  // lets only the first pending record of a key through.
  if (step == KeyGate::RetryStep::Follow || (!from_retry && gate_.held(partition, *key))) {
    admit.admission = Admission::Queue;
  }
  return admit;
}

void KeyOrder::settle(std::int32_t partition, const std::string* key, bool from_retry,
                      const Origin& first_read, Outcome outcome) {
  if (!enabled_ || key == nullptr || outcome == Outcome::Skipped) return;
  const bool retried = outcome == Outcome::Retried;
  // A retry record that fails again goes to the back of the retry partition but stays first of its key.
  if (from_retry && !retried) gate_.release(partition, *key, first_read);
  if (!from_retry && retried) gate_.hold(partition, *key, first_read);
}

KeyOrder::Restored KeyOrder::restore(std::int32_t partition, const std::vector<RetryRecordInfo>& records,
                                     const std::map<std::string, std::int64_t>& input_committed) {
  const auto backlog = rebuild_backlog(partition, records, input_committed);
  gate_.restore(partition, backlog);
  Restored restored;
  restored.stale = backlog.skip.size();
  for (const auto& [key, queue] : backlog.pending) restored.pending += queue.size();
  return restored;
}

}  // namespace orderflow::messaging
