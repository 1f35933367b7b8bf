#include "orderflow/lag/lag_reader.h"

#include <algorithm>
#include <map>
#include <set>
#include <stdexcept>

namespace orderflow::lag {

namespace {

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t");
  return b == std::string::npos ? std::string() : s.substr(b, s.find_last_not_of(" \t") - b + 1);
}

std::vector<std::string> split(const std::string& text, char sep) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (;;) {
    const auto end = text.find(sep, start);
    out.push_back(trim(text.substr(start, end == std::string::npos ? std::string::npos : end - start)));
    if (end == std::string::npos) return out;
    start = end + 1;
  }
}

}  // namespace

std::int64_t PartitionLag::lag() const {
  return std::max<std::int64_t>(0, high - (committed >= 0 ? committed : low));
}

LagReader::LagReader(const messaging::KafkaProperties& props) : admin_(props) {}

std::vector<GroupLag> LagReader::read(const std::vector<GroupSpec>& groups,
                                      std::chrono::milliseconds timeout) {
  std::vector<GroupLag> out(groups.size());
  for (std::size_t i = 0; i < groups.size(); ++i) out[i].group = groups[i].group;

  std::string error;
  const auto partitions = admin_.partition_counts(timeout, &error);
  if (!partitions) {
    for (auto& g : out) g.error = "metadata: " + error;
    return out;
  }

  // Watermarks are shared between groups that consume the same topic: one ListOffsets per partition and read.
  std::map<std::pair<std::string, std::int32_t>, std::pair<std::int64_t, std::int64_t>> watermarks;
  for (std::size_t i = 0; i < groups.size(); ++i) {
    auto& g = out[i];
    std::map<std::string, int> named;
    for (const auto& topic : groups[i].topics) {
      const auto it = partitions->find(topic);
      if (it == partitions->end()) {
        g.error = "topic " + topic + " does not exist";
        break;
      }
      named.insert(*it);
    }
    if (!g.error.empty()) continue;
    const auto committed = admin_.committed_offsets(g.group, named, timeout, &error);
    if (!committed) {
      g.error = error;
      continue;
    }
    std::set<std::string> topics;
    for (const auto& [topic, count] : named) topics.insert(topic);
    for (const auto& [tp, offset] : *committed) topics.insert(tp.first);
    for (const auto& topic : topics) {
      const auto it = partitions->find(topic);
      if (it == partitions->end()) {
        g.error = "topic " + topic + " not in the brokers' metadata";
        break;
      }
      for (std::int32_t p = 0; p < it->second && g.error.empty(); ++p) {
        auto w = watermarks.find({topic, p});
        if (w == watermarks.end()) {
          const auto read = admin_.watermarks(topic, p, timeout, &error);
          if (!read) {
            g.error = std::string(topic)
                          .append("[")
                          .append(std::to_string(p))
                          .append("] watermarks: ")
                          .append(error);
            break;
          }
          w = watermarks.emplace(std::make_pair(topic, p), *read).first;
        }
        const auto c = committed->find({topic, p});
        g.partitions.push_back(PartitionLag{topic, p, c == committed->end() ? -1 : c->second, w->second.first,
                                            w->second.second});
      }
      if (!g.error.empty()) break;
    }
    if (!g.error.empty()) g.partitions.clear();
  }
  return out;
}

std::vector<GroupSpec> parse_group_specs(const std::string& text) {
  std::vector<GroupSpec> out;
  for (const auto& entry : split(text, ',')) {
    if (entry.empty()) continue;
    GroupSpec spec;
    const auto colon = entry.find(':');
    spec.group = trim(entry.substr(0, colon));
    if (colon != std::string::npos) spec.topics = split(entry.substr(colon + 1), '+');
    const bool empty_topic =
        std::any_of(spec.topics.begin(), spec.topics.end(), [](const auto& t) { return t.empty(); });
    if (spec.group.empty() || empty_topic) {
      throw std::invalid_argument("'" + entry + "' is not GROUP or GROUP:TOPIC+TOPIC");
    }
    out.push_back(std::move(spec));
  }
  return out;
}

}  // namespace orderflow::lag
