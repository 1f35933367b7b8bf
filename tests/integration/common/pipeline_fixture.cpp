#include "pipeline_fixture.h"

#include <fmt/core.h>
#include <librdkafka/rdkafka.h>

#include <sstream>
#include <stdexcept>
#include <utility>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "orderflow/testing/paths.h"
#include "orderflow/testing/wait.h"

namespace orderflow::testing {

std::pair<int, std::string> http_get(int port, const std::string& path) {
  namespace beast = boost::beast;
  namespace http = beast::http;
  try {
    boost::asio::io_context io;
    beast::tcp_stream stream(io);
    stream.expires_after(std::chrono::seconds(3));
    stream.connect(boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"),
                                                  static_cast<unsigned short>(port)));
    http::request<http::empty_body> req{http::verb::get, path, 11};
    req.set(http::field::host, "127.0.0.1");
    http::write(stream, req);
    beast::flat_buffer buf;
    http::response<http::string_body> res;
    http::read(stream, buf, res);
    return {static_cast<int>(res.result_int()), res.body()};
  } catch (const std::exception&) {
    return {0, {}};
  }
}

void create_topics(const std::string& bootstrap, const std::vector<std::string>& names, int partitions) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), err, sizeof err);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (rk == nullptr) throw std::runtime_error(std::string("create_topics: ") + err);
  std::vector<rd_kafka_NewTopic_t*> topics;
  for (const auto& n : names)
    topics.push_back(rd_kafka_NewTopic_new(n.c_str(), partitions, 1, err, sizeof err));
  rd_kafka_queue_t* q = rd_kafka_queue_new(rk);
  rd_kafka_AdminOptions_t* opts = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
  rd_kafka_AdminOptions_set_operation_timeout(opts, 30000, err, sizeof err);
  rd_kafka_CreateTopics(rk, topics.data(), topics.size(), opts, q);
  rd_kafka_event_t* ev = rd_kafka_queue_poll(q, 60000);
  std::string failure;
  if (ev == nullptr) {
    failure = "no answer within 60 s";
  } else {
    const auto* res = rd_kafka_event_CreateTopics_result(ev);
    size_t n = 0;
    const rd_kafka_topic_result_t** results = rd_kafka_CreateTopics_result_topics(res, &n);
    for (size_t i = 0; i < n; ++i) {
      const auto e = rd_kafka_topic_result_error(results[i]);
      if (e != RD_KAFKA_RESP_ERR_NO_ERROR && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
        failure += fmt::format("{}: {}; ", rd_kafka_topic_result_name(results[i]), rd_kafka_err2str(e));
      }
    }
    rd_kafka_event_destroy(ev);
  }
  rd_kafka_AdminOptions_destroy(opts);
  for (auto* t : topics) rd_kafka_NewTopic_destroy(t);
  rd_kafka_queue_destroy(q);
  rd_kafka_destroy(rk);
  if (!failure.empty()) throw std::runtime_error("create_topics: " + failure);
}

Pipeline::Pipeline(TestBroker& b, int partitions) : broker(b) {
  const std::string sfx = broker.is_real() ? "-" + broker.unique_suffix() : "";
  orders = "orders" + sfx;
  payments = "payments" + sfx;
  notifications = "notifications" + sfx;
  payment_group = "payment-service" + sfx;
  notification_group = "notification-service" + sfx;
  if (broker.is_real()) {
    create_topics(broker.bootstrap(),
                  {orders, payments, notifications, payment_retry(), payment_dlq(), notification_retry(),
                   notification_dlq()},
                  partitions);
  }
}

namespace {
std::vector<std::string> with(std::vector<std::string> base, const std::vector<std::string>& extra) {
  base.insert(base.end(), extra.begin(), extra.end());
  return base;
}
}  // namespace

std::vector<std::string> payment_service_args(const std::string& bootstrap, const std::string& group,
                                              const std::string& orders, const std::string& payments,
                                              int metrics_port, const std::vector<std::string>& extra) {
  return with({"--brokers", bootstrap, "--metrics-address", fmt::format("127.0.0.1:{}", metrics_port),
               "--group-id", group, "--orders-topic", orders, "--payments-topic", payments, "-X",
               "session.timeout.ms=6000", "-X", "heartbeat.interval.ms=1000", "--commit-interval-ms", "200"},
              extra);
}

std::vector<std::string> notification_service_args(const std::string& bootstrap, const std::string& group,
                                                   const std::string& orders, const std::string& payments,
                                                   const std::string& notifications, int metrics_port,
                                                   const std::vector<std::string>& extra) {
  return with({"--brokers",
               bootstrap,
               "--metrics-address",
               fmt::format("127.0.0.1:{}", metrics_port),
               "--group-id",
               group,
               "--orders-topic",
               orders,
               "--payments-topic",
               payments,
               "--notifications-topic",
               notifications,
               "--sink",
               "file:/dev/null",
               "-X",
               "session.timeout.ms=6000",
               "-X",
               "heartbeat.interval.ms=1000",
               "--commit-interval-ms",
               "200"},
              extra);
}

std::vector<std::string> Pipeline::payment_args(int port, const std::vector<std::string>& extra) const {
  return payment_service_args(broker.bootstrap(), payment_group, orders, payments, port, extra);
}

std::vector<std::string> Pipeline::notification_args(int port, const std::vector<std::string>& extra) const {
  return notification_service_args(broker.bootstrap(), notification_group, orders, payments, notifications,
                                   port, extra);
}

Process Pipeline::start_payment(int port, const std::vector<std::string>& extra,
                                const std::string& log) const {
  return Process::start(bin_path("payment-service"), payment_args(port, extra), {}, log);
}

Process Pipeline::start_notification(int port, const std::vector<std::string>& extra,
                                     const std::string& log) const {
  return Process::start(bin_path("notification-service"), notification_args(port, extra), {}, log);
}

std::pair<int, std::string> Pipeline::produce_orders(const std::vector<std::string>& args,
                                                     std::chrono::seconds timeout) const {
  auto all =
      with({"--brokers", broker.bootstrap(), "--topic", orders, "--metrics-address", "127.0.0.1:0"}, args);
  auto p = Process::start(bin_path("order-producer"), all);
  auto rc = p.wait(timeout);
  if (!rc) {
    p.signal(SIGKILL);
    p.wait(std::chrono::seconds(5));
    return {-1, p.output()};
  }
  return {*rc, p.output()};
}

bool wait_ready(int port, std::chrono::milliseconds timeout) {
  return wait_until([&] { return http_get(port, "/readyz").first == 200; }, timeout,
                    std::chrono::milliseconds(100));
}

Services Pipeline::start_services() const {
  const int pay_port = free_port();
  const int note_port = free_port();
  auto pay = start_payment(pay_port);
  auto note = start_notification(note_port);
  return Services{pay_port, note_port, std::move(pay), std::move(note)};
}

std::string Services::wait_ready(std::chrono::milliseconds timeout) const {
  if (!testing::wait_ready(pay_port, timeout)) return "payment-service is not ready:\n" + pay.output();
  if (!testing::wait_ready(note_port, timeout)) return "notification-service is not ready:\n" + note.output();
  return "";
}

OrderIndex index_orders(const std::vector<Record>& records) {
  OrderIndex idx;
  for (const auto& r : records) {
    auto parsed = events::parse_order_created(r.value);
    if (!parsed) {
      idx.invalid.push_back(r);
      continue;
    }
    idx.order_ids_by_customer[parsed.value().customer_id].push_back(parsed.value().order_id);
    idx.valid_by_event_id.emplace(parsed.value().event_id, parsed.value());
  }
  return idx;
}

double metric_value(const std::string& text, const std::string& name,
                    const std::map<std::string, std::string>& labels) {
  return find_metric(text, name, labels).value_or(0.0);
}

std::optional<double> find_metric(const std::string& text, const std::string& name,
                                  const std::map<std::string, std::string>& labels) {
  std::optional<double> total;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    if (line.compare(0, name.size(), name) != 0) continue;
    if (line.size() > name.size() && line[name.size()] != '{' && line[name.size()] != ' ') continue;
    bool match = true;
    for (const auto& [k, v] : labels) {
      if (line.find(k + "=\"" + v + "\"") == std::string::npos) match = false;
    }
    if (!match) continue;
    total = total.value_or(0.0) + std::stod(line.substr(line.rfind(' ') + 1));
  }
  return total;
}

std::optional<double> scrape_metric(int port, const std::string& name,
                                    const std::map<std::string, std::string>& labels) {
  const auto [status, body] = http_get(port, "/metrics");
  if (status != 200) return std::nullopt;
  return find_metric(body, name, labels);
}

std::optional<std::string> header(const Record& r, const std::string& name) {
  std::optional<std::string> out;
  for (const auto& [k, v] : r.headers) {
    if (k == name) out = v;
  }
  return out;
}

}  // namespace orderflow::testing
