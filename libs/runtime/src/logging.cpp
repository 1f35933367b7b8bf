#include "orderflow/runtime/logging.h"

#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>
#include <mutex>

#include <nlohmann/json.hpp>

namespace orderflow::runtime {

namespace {

std::string iso_time(spdlog::log_clock::time_point tp) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(tp.time_since_epoch()).count();
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
  return buf;
}

// Splits "text\t{json object}" (a log_fields() suffix) into the text and the parsed object; the
// object is null when the message carries no (valid) suffix.
std::pair<std::string_view, nlohmann::ordered_json> split_fields(std::string_view text) {
  if (const auto tab = text.rfind("\t{"); tab != std::string_view::npos) {
    auto fields = nlohmann::ordered_json::parse(text.substr(tab + 1), nullptr, false);
    if (fields.is_object()) return {text.substr(0, tab), std::move(fields)};
  }
  return {text, nlohmann::ordered_json()};
}

// logfmt-style value: bare when it is a simple token, else a JSON string literal.
void append_text_value(std::string& out, const nlohmann::ordered_json& v) {
  if (!v.is_string()) {
    out += v.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
    return;
  }
  const auto& s = v.get_ref<const std::string&>();
  const bool bare = !s.empty() && s.find_first_of(" \t\r\n\"=\\") == std::string::npos;
  if (bare) {
    out += s;
  } else {
    out += v.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
  }
}

// One JSON object per line on stderr. Structured fields arrive as a log_fields() suffix
// ("…\t{json}") and become top-level keys; `ts`, `level`, `service` and `msg` always win.
class JsonSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit JsonSink(std::string service) : service_(std::move(service)) {}

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    auto [text, fields] = split_fields(std::string_view(msg.payload.data(), msg.payload.size()));
    nlohmann::ordered_json j = nlohmann::ordered_json::object();
    j["ts"] = iso_time(msg.time);
    const auto level = spdlog::level::to_string_view(msg.level);
    j["level"] = std::string(level.data(), level.size());
    j["service"] = service_;
    j["msg"] = std::string(text);
    if (fields.is_object()) {
      for (auto& [k, v] : fields.items()) {
        if (!j.contains(k)) j[k] = std::move(v);
      }
    }
    const auto line = j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
    std::fwrite(line.data(), 1, line.size(), stderr);
  }
  void flush_() override { std::fflush(stderr); }

 private:
  std::string service_;
};

// Human text on stderr through the logger's pattern, with a log_fields() suffix rendered as
// " key=value …".
class TextSink final : public spdlog::sinks::base_sink<std::mutex> {
 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    const std::string_view payload(msg.payload.data(), msg.payload.size());
    std::string rendered;
    spdlog::details::log_msg copy = msg;
    if (payload.find("\t{") != std::string_view::npos) {
      rendered = render_text_fields(payload);
      copy.payload = rendered;
    }
    spdlog::memory_buf_t buf;
    formatter_->format(copy, buf);
    std::fwrite(buf.data(), 1, buf.size(), stderr);
  }
  void flush_() override { std::fflush(stderr); }
};

}  // namespace

std::string render_text_fields(std::string_view message) {
  auto [text, fields] = split_fields(message);
  if (!fields.is_object()) return std::string(message);
  std::string out(text);
  for (const auto& [k, v] : fields.items()) {
    out += ' ';
    out += k;
    out += '=';
    append_text_value(out, v);
  }
  return out;
}

void setup_logging(const std::string& service, const std::string& level, const std::string& format) {
  std::shared_ptr<spdlog::logger> logger;
  if (format == "json") {
    logger = std::make_shared<spdlog::logger>(service, std::make_shared<JsonSink>(service));
  } else {
    logger = std::make_shared<spdlog::logger>(service, std::make_shared<TextSink>());
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %-5l [%n] %v", spdlog::pattern_time_type::utc);
  }
  logger->set_level(spdlog::level::from_str(level));
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
}

}  // namespace orderflow::runtime
