// Fixtures for tests that run the real service binaries: a per-test set of topic names (plain names
// on the dev broker, suffixed and created through the Admin API on the shared real broker), service
// processes with their metrics ports, HTTP probes, and helpers that index what landed in topics.
// Not thread-safe; one per test.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "orderflow/events/events.h"
#include "orderflow/testing/ports.h"
#include "orderflow/testing/process.h"
#include "orderflow/testing/test_broker.h"
#include "orderflow/testing/topic_reader.h"

namespace orderflow::testing {

// GET http://127.0.0.1:port/path → (status, body); status 0 when nothing answered.
std::pair<int, std::string> http_get(int port, const std::string& path);
// Creates topics through the Admin API (real Kafka); existing ones are fine.
void create_topics(const std::string& bootstrap, const std::vector<std::string>& names, int partitions);

// The common flags of the two consuming services for one bootstrap and set of names: fast group timing
// for restarts (the mock waits session.timeout.ms - 1 s on every re-join) and 200 ms commits, then `extra`.
std::vector<std::string> payment_service_args(const std::string& bootstrap, const std::string& group,
                                              const std::string& orders, const std::string& payments,
                                              int metrics_port, const std::vector<std::string>& extra);
std::vector<std::string> notification_service_args(const std::string& bootstrap, const std::string& group,
                                                   const std::string& orders, const std::string& payments,
                                                   const std::string& notifications, int metrics_port,
                                                   const std::vector<std::string>& extra);

// payment-service and notification-service of one pipeline, each with a free metrics port of its own.
struct Services {
  int pay_port;
  int note_port;
  Process pay;
  Process note;
  // Waits for payment-service's, then notification-service's /readyz (each up to `timeout`): "" when both
  // answered, else which did not and its output.
  [[nodiscard]] std::string wait_ready(std::chrono::milliseconds timeout) const;
};

struct Pipeline {
  explicit Pipeline(TestBroker& broker, int partitions = 6);

  TestBroker& broker;
  std::string orders;
  std::string payments;
  std::string notifications;
  std::string payment_group;
  std::string notification_group;
  [[nodiscard]] std::string payment_dlq() const { return payment_group + ".dlq"; }
  [[nodiscard]] std::string payment_retry() const { return payment_group + ".retry"; }
  [[nodiscard]] std::string notification_dlq() const { return notification_group + ".dlq"; }
  [[nodiscard]] std::string notification_retry() const { return notification_group + ".retry"; }

  // Common flags: brokers, topics, group, fast group timing for restarts on the mock.
  std::vector<std::string> payment_args(int metrics_port, const std::vector<std::string>& extra = {}) const;
  std::vector<std::string> notification_args(int metrics_port,
                                             const std::vector<std::string>& extra = {}) const;
  Process start_payment(int metrics_port, const std::vector<std::string>& extra = {},
                        const std::string& log = "") const;
  Process start_notification(int metrics_port, const std::vector<std::string>& extra = {},
                             const std::string& log = "") const;
  // Both consuming services with only the common flags (see wait_ready).
  [[nodiscard]] Services start_services() const;
  // Runs order-producer to completion (bounded); returns its exit code and output.
  std::pair<int, std::string> produce_orders(const std::vector<std::string>& args,
                                             std::chrono::seconds timeout = std::chrono::seconds(120)) const;
};

bool wait_ready(int port, std::chrono::milliseconds timeout);

struct OrderIndex {
  std::map<std::string, events::OrderCreated> valid_by_event_id;          // order event_id → order
  std::vector<Record> invalid;                                            // records that fail validation
  std::map<std::string, std::vector<std::string>> order_ids_by_customer;  // valid, in topic order
};
OrderIndex index_orders(const std::vector<Record>& records);

// Value of a metric in Prometheus text (sum over samples whose labels contain all `labels`); 0 when no
// sample matches, so only for values known to be there (use find_metric / scrape_metric otherwise).
double metric_value(const std::string& text, const std::string& name,
                    const std::map<std::string, std::string>& labels = {});
// The same sum, nullopt when no sample matches: an absent series is not a 0.
std::optional<double> find_metric(const std::string& text, const std::string& name,
                                  const std::map<std::string, std::string>& labels = {});
// GET /metrics of the service on `port` and find_metric in it: nullopt when the scrape fails (no answer,
// not 200) or the metric is absent, so `EXPECT_EQ(scrape_metric(...), 0.0)` fails when /metrics is down.
std::optional<double> scrape_metric(int port, const std::string& name,
                                    const std::map<std::string, std::string>& labels = {});

std::optional<std::string> header(const Record& r, const std::string& name);

}  // namespace orderflow::testing
