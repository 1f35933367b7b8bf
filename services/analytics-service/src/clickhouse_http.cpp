// HttpInserter: one POST per INSERT with Boost.Beast. Asynchronous operations on a private io_context,
// run to completion by the caller, because only those honour the stream's deadline (a synchronous read
// from a server that stopped answering would block the service thread for ever).
#include <array>
#include <utility>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "orderflow/analytics/clickhouse_sink.h"

namespace orderflow::analytics {

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

std::string base64(std::string_view in) {
  static constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const auto n = (static_cast<unsigned>(static_cast<unsigned char>(in[i])) << 16U) |
                   (static_cast<unsigned>(static_cast<unsigned char>(in[i + 1])) << 8U) |
                   static_cast<unsigned>(static_cast<unsigned char>(in[i + 2]));
    out += kAlphabet[(n >> 18U) & 63U];
    out += kAlphabet[(n >> 12U) & 63U];
    out += kAlphabet[(n >> 6U) & 63U];
    out += kAlphabet[n & 63U];
  }
  if (i < in.size()) {
    unsigned n = static_cast<unsigned>(static_cast<unsigned char>(in[i])) << 16U;
    if (i + 1 < in.size()) n |= static_cast<unsigned>(static_cast<unsigned char>(in[i + 1])) << 8U;
    out += kAlphabet[(n >> 18U) & 63U];
    out += kAlphabet[(n >> 12U) & 63U];
    out += i + 1 < in.size() ? kAlphabet[(n >> 6U) & 63U] : '=';
    out += '=';
  }
  return out;
}

std::string url_encode(std::string_view s) {
  static constexpr std::string_view kHex = "0123456789ABCDEF";
  std::string out;
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if ((u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') || c == '-' || c == '_' ||
        c == '.' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += kHex[u >> 4U];
      out += kHex[u & 15U];
    }
  }
  return out;
}

// The first line of ClickHouse's error text (its stack trace, when sent, follows on later lines).
std::string first_line(std::string_view body) {
  const auto nl = body.find('\n');
  std::string s(body.substr(0, nl == std::string_view::npos ? body.size() : nl));
  constexpr std::size_t kMax = 512;
  if (s.size() > kMax) s.resize(kMax);
  return s;
}

}  // namespace

HttpInserter::HttpInserter(ClickHouseEndpoint endpoint, const std::string& user, const std::string& password,
                           std::chrono::milliseconds timeout)
    : endpoint_(std::move(endpoint)), timeout_(timeout) {
  if (!user.empty()) authorization_ = "Basic " + base64(user + ":" + password);
}

InsertResult HttpInserter::insert(const std::string& query, const std::string& body) {
  net::io_context ioc;
  tcp::resolver resolver(ioc);
  beast::tcp_stream stream(ioc);
  http::request<http::string_body> req{http::verb::post, "/?query=" + url_encode(query), 11};
  req.set(http::field::host, endpoint_.host + ":" + endpoint_.port);
  req.set(http::field::content_type, "application/x-ndjson");
  if (!authorization_.empty()) req.set(http::field::authorization, authorization_);
  req.body() = body;
  req.prepare_payload();
  http::response<http::string_body> res;
  beast::flat_buffer buffer;
  beast::error_code failure;
  std::string stage = "resolve";

  // resolve → connect → write → read, each step bounded by what is left of the deadline.
  stream.expires_after(timeout_);
  resolver.async_resolve(
      endpoint_.host, endpoint_.port, [&](beast::error_code ec, const tcp::resolver::results_type& r) {
        if (ec) {
          failure = ec;
          return;
        }
        stage = "connect";
        stream.async_connect(r, [&](beast::error_code ec2, const tcp::endpoint&) {
          if (ec2) {
            failure = ec2;
            return;
          }
          stage = "send";
          http::async_write(stream, req, [&](beast::error_code ec3, std::size_t) {
            if (ec3) {
              failure = ec3;
              return;
            }
            stage = "read the answer";
            http::async_read(stream, buffer, res, [&](beast::error_code ec4, std::size_t) { failure = ec4; });
          });
        });
      });
  ioc.run_for(timeout_ + std::chrono::seconds(1));  // the resolver has no deadline of its own
  if (!ioc.stopped()) {
    ioc.stop();
    failure = net::error::timed_out;
  }
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);

  const std::string where = "http://" + endpoint_.host + ":" + endpoint_.port;
  if (failure) {
    return {InsertResult::Kind::Unavailable, where + ": cannot " + stage + ": " + failure.message()};
  }
  const int status = static_cast<int>(res.result_int());
  if (status == 200) return {InsertResult::Kind::Ok, {}};
  std::string message = "HTTP " + std::to_string(status) + " from " + where + ": " + first_line(res.body());
  if (is_refusal(status, res.body())) return {InsertResult::Kind::Refused, std::move(message)};
  return {InsertResult::Kind::Unavailable, std::move(message)};
}

}  // namespace orderflow::analytics
