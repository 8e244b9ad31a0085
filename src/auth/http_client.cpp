#include "auth/http_client.hpp"

#include <openssl/ssl.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/url/parse.hpp>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <variant>

namespace imagecpp::auth {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

struct Origin {
  bool tls = false;
  std::string host;         // for DNS, SNI and certificate checks (no IPv6 brackets)
  std::string port;         // numeric, defaulted from the scheme
  std::string host_header;  // host[:port] as written in the URL
  std::string base_path;    // without a trailing '/'
};

Origin parse_origin(std::string_view base_url) {
  const auto parsed = boost::urls::parse_absolute_uri(base_url);
  if (!parsed) throw std::invalid_argument("auth service URL is not an absolute URL");
  const boost::urls::url_view& url = *parsed;
  Origin o;
  if (url.scheme() == "https") {
    o.tls = true;
  } else if (url.scheme() != "http") {
    throw std::invalid_argument("auth service URL: scheme must be http or https");
  }
  o.host = url.host_address();
  if (o.host.empty()) throw std::invalid_argument("auth service URL has no host");
  o.port = url.has_port() ? std::string(url.port()) : (o.tls ? "443" : "80");
  o.host_header = std::string(url.encoded_host_and_port());
  o.base_path = std::string(url.encoded_path());
  while (!o.base_path.empty() && o.base_path.back() == '/') o.base_path.pop_back();
  return o;
}

using PlainStream = beast::tcp_stream;
using TlsStream = asio::ssl::stream<beast::tcp_stream>;

// One connection to the origin. All its I/O runs on its own strand, so beast's timeout timer
// and the operations it cancels never race, whichever request coroutine borrows it.
struct Connection {
  Connection(asio::strand<asio::any_io_executor> s, asio::ssl::context* tls)
      : strand(std::move(s)), stream(make_stream(strand, tls)) {}

  static std::variant<PlainStream, TlsStream> make_stream(
      const asio::strand<asio::any_io_executor>& s, asio::ssl::context* tls) {
    if (tls == nullptr) return std::variant<PlainStream, TlsStream>(std::in_place_index<0>, s);
    return std::variant<PlainStream, TlsStream>(std::in_place_index<1>, s, *tls);
  }

  beast::tcp_stream& lowest() {
    return std::visit([](auto& s) -> beast::tcp_stream& { return beast::get_lowest_layer(s); },
                      stream);
  }

  asio::strand<asio::any_io_executor> strand;
  std::variant<PlainStream, TlsStream> stream;
  beast::flat_buffer buffer;
  bool connected = false;
};

using Request = bhttp::request<bhttp::empty_body>;

struct Outcome {
  beast::error_code error;
  HttpResponse response;
  bool keep_alive = false;
  std::unique_ptr<Connection> connection;
};

}  // namespace

struct HttpClient::Impl {
  Impl(std::string_view url, HttpClientSettings s)
      : origin(parse_origin(url)), settings(std::move(s)) {
    if (origin.tls) tls.emplace(make_tls_context(settings.ca_file));
  }

  static asio::ssl::context make_tls_context(const std::string& ca_file) {
    asio::ssl::context ctx(asio::ssl::context::tls_client);
    ctx.set_default_verify_paths();
    if (!ca_file.empty()) ctx.load_verify_file(ca_file);
    ctx.set_verify_mode(asio::ssl::verify_peer);
    return ctx;
  }

  std::unique_ptr<Connection> take_idle() {
    const std::lock_guard lock(mutex);
    if (idle.empty()) return nullptr;
    auto c = std::move(idle.back());
    idle.pop_back();
    return c;
  }

  void give_back(std::unique_ptr<Connection> c) {
    std::unique_ptr<Connection> dropped;  // destroyed outside the lock
    const std::lock_guard lock(mutex);
    if (closed || idle.size() >= settings.max_idle) {
      dropped = std::move(c);
    } else {
      idle.push_back(std::move(c));
    }
  }

  std::unique_ptr<Connection> open(const asio::any_io_executor& executor) {
    opened.fetch_add(1, std::memory_order_relaxed);
    return std::make_unique<Connection>(asio::make_strand(executor), tls ? &*tls : nullptr);
  }

  asio::awaitable<void> connect(Connection& c, Clock::time_point deadline);
  asio::awaitable<Outcome> exchange(Connection& c, const Request& request,
                                    Clock::time_point deadline);

  const Origin origin;
  const HttpClientSettings settings;
  std::optional<asio::ssl::context> tls;
  mutable std::mutex mutex;
  std::vector<std::unique_ptr<Connection>> idle;
  bool closed = false;
  std::atomic<std::size_t> opened{0};
};

namespace {

// Resolves under the call's deadline: the resolver knows no timeout of its own. The timer owns
// the resolver too, so a late expiry never touches a destroyed one.
asio::awaitable<tcp::resolver::results_type> resolve(const Origin& origin,
                                                     Clock::time_point deadline) {
  const auto executor = co_await asio::this_coro::executor;
  auto resolver = std::make_shared<tcp::resolver>(executor);
  asio::steady_timer timer(executor, deadline);
  timer.async_wait([resolver](const beast::error_code& ec) {
    if (!ec) resolver->cancel();
  });
  beast::error_code ec;
  auto results = co_await resolver->async_resolve(origin.host, origin.port,
                                                  asio::redirect_error(asio::use_awaitable, ec));
  timer.cancel();
  if (ec == asio::error::operation_aborted) ec = beast::error::timeout;
  if (ec) throw boost::system::system_error(ec, "resolve");
  co_return results;
}

}  // namespace

asio::awaitable<void> HttpClient::Impl::connect(Connection& c, Clock::time_point deadline) {
  const auto endpoints = co_await resolve(origin, deadline);
  c.lowest().expires_at(deadline);
  co_await c.lowest().async_connect(endpoints, asio::use_awaitable);
  c.lowest().socket().set_option(tcp::no_delay(true));
  if (auto* s = std::get_if<TlsStream>(&c.stream)) {
    // SNI, then a certificate that must name the host we asked for.
    if (SSL_set_tlsext_host_name(s->native_handle(), origin.host.c_str()) != 1) {
      throw boost::system::system_error(asio::error::invalid_argument, "TLS SNI");
    }
    s->set_verify_callback(asio::ssl::host_name_verification(origin.host));
    c.lowest().expires_at(deadline);
    co_await s->async_handshake(asio::ssl::stream_base::client, asio::use_awaitable);
  }
  c.connected = true;
}

asio::awaitable<Outcome> HttpClient::Impl::exchange(Connection& c, const Request& request,
                                                    Clock::time_point deadline) {
  Outcome outcome;
  try {
    if (!c.connected) co_await connect(c, deadline);
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(settings.max_response_bytes);
    c.lowest().expires_at(deadline);
    co_await std::visit(
        [&](auto& s) { return bhttp::async_write(s, request, asio::use_awaitable); }, c.stream);
    co_await std::visit(
        [&](auto& s) { return bhttp::async_read(s, c.buffer, parser, asio::use_awaitable); },
        c.stream);
    c.lowest().expires_never();
    const auto& response = parser.get();
    outcome.keep_alive = response.keep_alive();
    outcome.response.status = response.result_int();
    outcome.response.body = parser.release().body();
  } catch (const boost::system::system_error& e) {
    outcome.error = e.code();
  }
  co_return outcome;
}

HttpClient::HttpClient(std::string_view base_url, HttpClientSettings settings)
    : impl_(std::make_shared<Impl>(base_url, std::move(settings))) {}

HttpClient::~HttpClient() {
  close();
}

asio::awaitable<HttpResponse> HttpClient::get(std::string_view path, HttpHeaders headers) {
  const auto executor = co_await asio::this_coro::executor;
  const auto deadline = Clock::now() + impl_->settings.timeout;
  const auto request =
      std::make_shared<Request>(bhttp::verb::get, impl_->origin.base_path + std::string(path), 11);
  request->set(bhttp::field::host, impl_->origin.host_header);
  request->set(bhttp::field::user_agent, "imagecpp");
  request->set(bhttp::field::accept, "application/json");
  for (const auto& [name, value] : headers) request->set(name, value);

  // A pooled connection may have been closed by the server while idle: such a failure is
  // retried once on a fresh connection (GET is idempotent), unless the deadline is spent.
  for (bool from_pool = true;; from_pool = false) {
    auto connection = from_pool ? impl_->take_idle() : nullptr;
    const bool reused = connection != nullptr;
    if (!connection) connection = impl_->open(executor);
    auto strand = connection->strand;
    // The connection travels into the coroutine on its strand and comes back in the outcome,
    // so it never dies while an operation on it is pending. The lambda is a named local: GCC 12
    // destroys a lambda temporary with owning captures inside a co_await expression wrongly.
    auto on_strand = [impl = impl_, request, deadline,
                      c = std::move(connection)]() mutable -> asio::awaitable<Outcome> {
      Outcome o = co_await impl->exchange(*c, *request, deadline);
      o.connection = std::move(c);
      co_return o;
    };
    Outcome outcome = co_await asio::co_spawn(strand, std::move(on_strand), asio::use_awaitable);
    if (!outcome.error) {
      if (outcome.keep_alive) impl_->give_back(std::move(outcome.connection));
      co_return std::move(outcome.response);
    }
    const bool retry = reused && outcome.error != beast::error::timeout && Clock::now() < deadline;
    if (!retry) throw boost::system::system_error(outcome.error);
  }
}

void HttpClient::close() {
  std::vector<std::unique_ptr<Connection>> dropped;
  const std::lock_guard lock(impl_->mutex);
  impl_->closed = true;
  dropped.swap(impl_->idle);
}

std::size_t HttpClient::idle_connections() const {
  const std::lock_guard lock(impl_->mutex);
  return impl_->idle.size();
}

std::size_t HttpClient::connections_opened() const {
  return impl_->opened.load(std::memory_order_relaxed);
}

}  // namespace imagecpp::auth
