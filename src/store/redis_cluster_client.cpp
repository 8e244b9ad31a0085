#include "store/redis_cluster_client.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <utility>

#include "core/error.hpp"
#include "log/escape.hpp"

namespace imagecpp::store {
namespace {

// Keyless commands walk the slots by this step, so that they visit every master in turn.
constexpr std::uint16_t kKeylessStep = 5471;  // prime: every slot, before any twice

[[noreturn]] void unavailable(const std::string& why) {
  throw Error(ErrorCode::unavailable, "redis cluster: " + why);
}

boost::asio::awaitable<void> pause_for(std::chrono::milliseconds pause) {
  boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor);
  timer.expires_after(pause);
  co_await timer.async_wait(boost::asio::use_awaitable);
}

std::string describe_masters(const SlotMap& map) {
  std::string text;
  for (const NodeAddress& master : map.masters()) {
    text += (text.empty() ? "" : ", ") + master.text();
  }
  return text;
}

}  // namespace

ClusterClient::ClusterClient(ClusterClientSettings settings) : settings_(std::move(settings)) {
  for (const RedisEndpoint& seed : settings_.seeds) {
    NodeAddress node{seed.host, seed.port};
    if (std::find(seeds_.begin(), seeds_.end(), node) == seeds_.end()) seeds_.push_back(node);
  }
  if (seeds_.empty()) throw std::invalid_argument("a Redis Cluster needs at least one seed node");
}

ClusterClient::~ClusterClient() = default;

boost::asio::awaitable<RedisReply> ClusterClient::command(std::vector<SharedBytes> args) {
  std::vector<std::vector<SharedBytes>> commands;
  commands.push_back(std::move(args));
  std::vector<RedisReply> replies = co_await pipeline(std::move(commands));
  co_return std::move(replies.front());
}

boost::asio::awaitable<std::vector<RedisReply>> ClusterClient::pipeline(
    std::vector<std::vector<SharedBytes>> commands) {
  if (commands.empty()) co_return std::vector<RedisReply>{};
  std::optional<std::uint16_t> slot;
  if (const auto key = routing_key(commands.front())) slot = key_slot(*key);
  const auto deadline = Clock::now() + settings_.command_timeout;
  auto pause = settings_.min_retry_pause;
  std::optional<Redirect> ask;
  std::string last_error;
  int redirects = 0;
  for (;;) {
    std::uint64_t generation = 0;
    std::optional<Target> to;
    if (ask) {
      to = target(ask->node);
    } else {
      to = route(slot, generation);
    }
    bool refresh_first = true;
    if (!to) {
      last_error = "no master serves slot " + std::to_string(slot.value_or(0));
    } else {
      const bool asking = ask.has_value();
      ask.reset();
      std::vector<std::vector<SharedBytes>> sent;
      if (asking) {
        sent = with_asking(commands);
      } else {
        sent = commands;
      }
      std::optional<std::vector<RedisReply>> replies;
      try {
        replies = co_await to->client->pipeline(std::move(sent));
      } catch (const Error& e) {
        if (e.code() != ErrorCode::unavailable) throw;
        last_error = to->node.text() + ": " + e.what();
      }
      if (replies) {
        if (asking) replies = without_asking(std::move(*replies));
        if (replies->size() != commands.size()) unavailable("ASKING replies out of step");
        const NextStep step = next_step(*replies, to->node);
        if (step.kind == NextStep::Kind::done) co_return std::move(*replies);
        if (step.kind == NextStep::Kind::redirect) {
          if (++redirects > settings_.max_redirects) {
            unavailable("more than " + std::to_string(settings_.max_redirects) +
                        " redirects for one command");
          }
          if (Clock::now() >= deadline) unavailable("redirected past the command timeout");
          if (step.redirect->kind == Redirect::Kind::ask) {
            ask = step.redirect;
            continue;
          }
          assign(*step.redirect);
          co_await refresh(generation);
          continue;
        }
        last_error = to->node.text() + ": " + step.why;
        refresh_first = step.refresh;
      }
    }
    if (refresh_first) co_await refresh(generation);
    if (Clock::now() + pause >= deadline) unavailable(last_error);
    co_await pause_for(pause);
    pause = std::min(pause * 2, settings_.max_retry_pause);
  }
}

std::optional<ClusterClient::Target> ClusterClient::route(std::optional<std::uint16_t> slot,
                                                          std::uint64_t& generation) {
  const std::lock_guard lock(mutex_);
  generation = generation_;
  if (!map_) return std::nullopt;
  if (!slot) {
    slot = keyless_slot_;
    keyless_slot_ = static_cast<std::uint16_t>((keyless_slot_ + kKeylessStep) % kClusterSlots);
  }
  const NodeAddress* owner = map_->owner(*slot);
  if (owner == nullptr) return std::nullopt;
  return Target{*owner, client_for(*owner)};
}

ClusterClient::Target ClusterClient::target(const NodeAddress& node) {
  const std::lock_guard lock(mutex_);
  return Target{node, client_for(node)};
}

std::shared_ptr<RedisClient> ClusterClient::client_for(const NodeAddress& node) {
  auto& client = clients_[node];
  if (!client) {
    const RedisEndpoint& credentials = settings_.seeds.front();
    client = std::make_shared<RedisClient>(
        RedisClientSettings{.endpoint = RedisEndpoint{.host = node.host,
                                                      .port = node.port,
                                                      .user = credentials.user,
                                                      .password = credentials.password,
                                                      .db = std::nullopt},
                            .connect_timeout = settings_.connect_timeout,
                            .command_timeout = settings_.command_timeout});
  }
  return client;
}

void ClusterClient::assign(const Redirect& moved) {
  const std::lock_guard lock(mutex_);
  if (map_) map_->assign(moved.slot, moved.node);
}

// The masters first (they answer unless they are what failed), then the seeds the operator
// gave, then the replicas: any node of the cluster knows the whole map.
std::vector<NodeAddress> ClusterClient::refresh_candidates() {
  std::vector<NodeAddress> out;
  auto add = [&out](const NodeAddress& node) {
    if (std::find(out.begin(), out.end(), node) == out.end()) out.push_back(node);
  };
  if (map_) {
    for (const NodeAddress& master : map_->masters()) add(master);
  }
  for (const NodeAddress& seed : seeds_) add(seed);
  if (map_) {
    for (const NodeAddress& node : map_->nodes()) add(node);
  }
  return out;
}

// Only one refresh at a time, none sooner than min_refresh_interval after the last, and none
// when the map changed since the caller routed by it: callers that do not refresh retry with
// the map they find after their pause.
boost::asio::awaitable<void> ClusterClient::refresh(std::uint64_t seen_generation) {
  std::vector<NodeAddress> candidates;
  {
    const std::lock_guard lock(mutex_);
    if (refreshing_ || generation_ != seen_generation ||
        (map_ && Clock::now() - last_refresh_ < settings_.min_refresh_interval)) {
      co_return;
    }
    refreshing_ = true;
    candidates = refresh_candidates();
  }
  // Cleared however this ends (a node's error, or this frame destroyed while suspended).
  struct Done {
    ClusterClient* self;
    std::string why = "no node to ask";
    bool installed = false;
    ~Done() { self->refresh_done(installed, why); }
  } done{this};
  for (const NodeAddress& node : candidates) {
    const std::shared_ptr<RedisClient> client = target(node).client;
    std::vector<SharedBytes> args{share("CLUSTER"), share("SLOTS")};
    std::optional<RedisReply> reply;
    try {
      reply = co_await client->command(std::move(args));
    } catch (const Error& e) {
      done.why = node.text() + ": " + e.what();
    }
    if (!reply) continue;
    const ParsedSlots parsed = parse_cluster_slots(*reply, node);
    if (!parsed.error.empty()) {
      done.why = node.text() + ": CLUSTER SLOTS refused: " + parsed.error;
      continue;
    }
    install(parsed, node);
    done.installed = true;
    break;
  }
}

void ClusterClient::install(const ParsedSlots& parsed, const NodeAddress& from) {
  SlotMap map(parsed.ranges);
  const std::lock_guard lock(mutex_);
  const bool changed = !map_ || map_->masters() != map.masters();
  if (changed) {
    spdlog::info("redis cluster: slot map from {}: masters {} ({} of {} slots served)",
                 log::escape(from.text(), log::kMaxErrorBytes),
                 log::escape(describe_masters(map), log::kMaxErrorBytes), map.covered(),
                 kClusterSlots);
  }
  map_ = std::move(map);
  ++generation_;
}

// A failure is logged once until a map is installed again: refreshes repeat during an outage.
void ClusterClient::refresh_done(bool installed, const std::string& why) noexcept {
  const std::lock_guard lock(mutex_);
  refreshing_ = false;
  last_refresh_ = Clock::now();
  if (installed) {
    warned_ = false;
  } else if (!warned_) {
    warned_ = true;
    try {
      spdlog::warn("redis cluster: no slot map from any node (last: {})",
                   log::escape(why, log::kMaxErrorBytes));
    } catch (...) {  // a log line is not worth a terminate from a destructor
    }
  }
}

}  // namespace imagecpp::store
