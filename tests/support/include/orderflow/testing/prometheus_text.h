// Test helper: a minimal reader of the Prometheus text exposition format, so assertions do not depend on
// label order or on how the serializer prints numbers.
#pragma once

#include <limits>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace orderflow::testing {

struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0.0;
};

inline std::vector<Sample> parse_prometheus_text(const std::string& text) {
  std::vector<Sample> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    Sample s;
    std::size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ') s.name += line[i++];
    if (i < line.size() && line[i] == '{') {
      ++i;
      while (i < line.size() && line[i] != '}') {
        std::string key;
        while (i < line.size() && line[i] != '=') key += line[i++];
        i += 2;  // ="
        std::string value;
        while (i < line.size() && line[i] != '"') {
          if (line[i] == '\\' && i + 1 < line.size()) ++i;
          value += line[i++];
        }
        ++i;  // closing quote
        if (i < line.size() && line[i] == ',') ++i;
        s.labels[key] = value;
      }
      ++i;  // }
    }
    while (i < line.size() && line[i] == ' ') ++i;
    const std::string value_text = line.substr(i, line.find(' ', i) - i);
    if (value_text == "+Inf") {
      s.value = std::numeric_limits<double>::infinity();
    } else {
      s.value = std::stod(value_text);
    }
    out.push_back(std::move(s));
  }
  return out;
}

// Samples named `name` whose labels include every pair of `labels`.
inline std::vector<Sample> find_samples(const std::vector<Sample>& samples, const std::string& name,
                                        const std::map<std::string, std::string>& labels = {}) {
  std::vector<Sample> out;
  for (const auto& s : samples) {
    if (s.name != name) continue;
    bool match = true;
    for (const auto& [k, v] : labels) {
      auto it = s.labels.find(k);
      if (it == s.labels.end() || it->second != v) match = false;
    }
    if (match) out.push_back(s);
  }
  return out;
}

// The value of the single matching sample, nullopt when there is none (several → nullopt too).
inline std::optional<double> sample_value(const std::vector<Sample>& samples, const std::string& name,
                                          const std::map<std::string, std::string>& labels = {}) {
  const auto found = find_samples(samples, name, labels);
  if (found.size() != 1) return std::nullopt;
  return found.front().value;
}

}  // namespace orderflow::testing
