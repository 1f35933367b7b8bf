#include "orderflow/runtime/logging.h"

#include <nlohmann/json.hpp>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>
#include <mutex>

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

// One JSON object per line on stderr. Messages of the form "text {k=v k2=v2}" are not parsed:
// structured fields are passed as a JSON object suffix "…\t{json}" by log_fields() callers.
class JsonSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit JsonSink(std::string service) : service_(std::move(service)) {}

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    nlohmann::json j;
    j["ts"] = iso_time(msg.time);
    j["level"] = std::string(spdlog::level::to_string_view(msg.level).data(),
                             spdlog::level::to_string_view(msg.level).size());
    j["service"] = service_;
    std::string text(msg.payload.data(), msg.payload.size());
    // Optional structured fields appended by the caller after a TAB as a JSON object.
    if (const auto tab = text.rfind("\t{"); tab != std::string::npos) {
      auto fields = nlohmann::json::parse(text.substr(tab + 1), nullptr, false);
      if (fields.is_object()) {
        for (auto& [k, v] : fields.items()) j[k] = v;
        text.resize(tab);
      }
    }
    j["msg"] = text;
    const auto line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    std::fwrite(line.data(), 1, line.size(), stderr);
  }
  void flush_() override { std::fflush(stderr); }

 private:
  std::string service_;
};

}  // namespace

void setup_logging(const std::string& service, const std::string& level, const std::string& format) {
  std::shared_ptr<spdlog::logger> logger;
  if (format == "json") {
    logger = std::make_shared<spdlog::logger>(service, std::make_shared<JsonSink>(service));
  } else {
    logger = std::make_shared<spdlog::logger>(service, std::make_shared<spdlog::sinks::stderr_sink_mt>());
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %^%-5l%$ [%n] %v", spdlog::pattern_time_type::utc);
  }
  logger->set_level(spdlog::level::from_str(level));
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
}

}  // namespace orderflow::runtime
