// An in-memory RdKafka::Event (type, error code, severity, fatal flag, text, facility) so event callbacks
// (ClientEvents, LastClientError) can be unit-tested without a client. Target orderflow::messaging_testing
// (header only).
#pragma once

#include <librdkafka/rdkafkacpp.h>

#include <string>
#include <utility>

namespace orderflow::testing {

class FakeEvent final : public RdKafka::Event {
 public:
  FakeEvent(Type type, RdKafka::ErrorCode err, Severity severity, std::string text, bool fatal = false,
            std::string facility = "FAIL")
      : type_(type),
        err_(err),
        severity_(severity),
        text_(std::move(text)),
        fatal_(fatal),
        facility_(std::move(facility)) {}
  // An EVENT_ERROR, as librdkafka reports a client error.
  static FakeEvent error(RdKafka::ErrorCode err, std::string text, bool fatal = false) {
    return FakeEvent(EVENT_ERROR, err, EVENT_SEVERITY_ERROR, std::move(text), fatal);
  }
  // An EVENT_LOG line at `severity`.
  static FakeEvent log(Severity severity, std::string text, std::string facility) {
    return FakeEvent(EVENT_LOG, RdKafka::ERR_NO_ERROR, severity, std::move(text), false, std::move(facility));
  }

  Type type() const override { return type_; }
  RdKafka::ErrorCode err() const override { return err_; }
  Severity severity() const override { return severity_; }
  std::string fac() const override { return facility_; }
  std::string str() const override { return text_; }
  int throttle_time() const override { return 0; }
  std::string broker_name() const override { return {}; }
  int broker_id() const override { return -1; }
  bool fatal() const override { return fatal_; }

 private:
  Type type_;
  RdKafka::ErrorCode err_;
  Severity severity_;
  std::string text_;
  bool fatal_;
  std::string facility_;
};

}  // namespace orderflow::testing
