#include "store/redis_cluster_redirect.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>

namespace imagecpp::store {
namespace {

template <class Int>
std::optional<Int> number(std::string_view text, Int max) {
  Int value{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size() || value > max) {
    return std::nullopt;
  }
  return value;
}

bool starts_with_word(std::string_view text, std::string_view word) {
  return text.starts_with(word) && (text.size() == word.size() || text[word.size()] == ' ');
}

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::toupper(static_cast<unsigned char>(x)) ==
                  std::toupper(static_cast<unsigned char>(y));
         });
}

}  // namespace

std::optional<Redirect> parse_redirect(std::string_view error, const NodeAddress& replied_by) {
  Redirect out;
  if (starts_with_word(error, "MOVED")) {
    out.kind = Redirect::Kind::moved;
    error.remove_prefix(5);
  } else if (starts_with_word(error, "ASK")) {
    out.kind = Redirect::Kind::ask;
    error.remove_prefix(3);
  } else {
    return std::nullopt;
  }
  if (error.empty() || error.front() != ' ') return std::nullopt;
  error.remove_prefix(1);
  const auto space = error.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  const auto slot = number<std::uint16_t>(error.substr(0, space), kClusterSlots - 1);
  const std::string_view endpoint = error.substr(space + 1);
  // The port follows the last ':' (an IPv6 address holds others).
  const auto colon = endpoint.rfind(':');
  if (!slot || colon == std::string_view::npos) return std::nullopt;
  const auto port = number<std::uint16_t>(endpoint.substr(colon + 1), 65535);
  std::string_view host = endpoint.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (!port || *port == 0 || host.size() > 255 ||
      host.find_first_of(std::string_view("\0 \r\n,[]", 7)) != std::string_view::npos) {
    return std::nullopt;
  }
  out.slot = *slot;
  out.node = NodeAddress{host.empty() ? replied_by.host : std::string(host), *port};
  return out;
}

NextStep next_step(const std::vector<RedisReply>& replies, const NodeAddress& replied_by) {
  NextStep step;
  for (const RedisReply& reply : replies) {
    if (!reply.is_error()) continue;
    if (auto redirect = parse_redirect(reply.text, replied_by)) {
      step.kind = NextStep::Kind::redirect;
      step.refresh = redirect->kind == Redirect::Kind::moved;
      step.redirect = std::move(redirect);
      return step;  // a redirect outranks a retry: the answer is elsewhere, now
    }
    if (step.kind == NextStep::Kind::done &&
        (starts_with_word(reply.text, "TRYAGAIN") || starts_with_word(reply.text, "CLUSTERDOWN"))) {
      step.kind = NextStep::Kind::retry_later;
      step.why = reply.text;
      step.refresh = starts_with_word(reply.text, "CLUSTERDOWN");
    }
  }
  return step;
}

std::vector<std::vector<SharedBytes>> with_asking(
    const std::vector<std::vector<SharedBytes>>& commands) {
  static const SharedBytes kAsking = share("ASKING");
  std::vector<std::vector<SharedBytes>> out;
  out.reserve(commands.size() * 2);
  for (const auto& command : commands) {
    out.push_back({kAsking});
    out.push_back(command);
  }
  return out;
}

std::vector<RedisReply> without_asking(std::vector<RedisReply> replies) {
  if (replies.size() % 2 != 0) return {};
  std::vector<RedisReply> out;
  out.reserve(replies.size() / 2);
  for (std::size_t i = 1; i < replies.size(); i += 2) out.push_back(std::move(replies[i]));
  return out;
}

std::optional<std::string_view> routing_key(const std::vector<SharedBytes>& command) {
  static constexpr std::array<std::string_view, 7> kKeyless{"PING",   "ECHO",   "WAIT",   "INFO",
                                                            "ASKING", "DBSIZE", "CLUSTER"};
  if (command.size() < 2 || !command[0]) return std::nullopt;
  const std::string_view name = *command[0];
  for (const std::string_view keyless : kKeyless) {
    if (equals_ignoring_case(name, keyless)) return std::nullopt;
  }
  return std::string_view(*command[1]);
}

}  // namespace imagecpp::store
