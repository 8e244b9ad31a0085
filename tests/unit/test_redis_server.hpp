#pragma once
// A real redis-server for tests: started on a free port below 32768 (the kernel hands out
// client ports above), killed when the fixture ends. stop()/start() keep the port, to test
// an outage and the recovery that follows.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace imagecpp::test {

class RedisServer {
 public:
  // A port found free may be taken before redis-server binds it (a server of a test running
  // beside this one; for a cluster node, its bus at port + 10000): then a new port, a few times.
  explicit RedisServer(std::vector<std::string> extra_args = {})
      : port_(free_port()), extra_args_(std::move(extra_args)) {
    for (int attempt = 1;; ++attempt) {
      try {
        start();
        return;
      } catch (const std::runtime_error&) {
        stop();
        if (attempt == 3) throw;
        port_ = free_port();
      }
    }
  }
  ~RedisServer() { stop(); }
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  std::uint16_t port() const noexcept { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

  void start() {
    std::vector<std::string> args{
        "redis-server", "--port", std::to_string(port_), "--bind", "127.0.0.1",
        "--save",       "",       "--appendonly",        "no"};
    args.insert(args.end(), extra_args_.begin(), extra_args_.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    // Neither of the test's output streams: a server outliving a crashed test would hold CTest's
    // pipe open, and CTest would wait for it until its timeout.
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
    const int rc = posix_spawnp(&pid_, "redis-server", &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) throw std::runtime_error("cannot start redis-server");
    wait_until_answering();
  }

  // A crash, as far as clients can tell.
  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  // Alive but silent (SIGSTOP): connections stay open and nothing answers.
  void pause() const { ::kill(pid_, SIGSTOP); }
  void resume() const { ::kill(pid_, SIGCONT); }

 private:
  static bool port_is_free(std::uint16_t port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const bool free = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    return free;
  }

  static std::uint16_t free_port() {
    std::random_device rd;
    std::uniform_int_distribution<int> pick(20000, 32000);
    for (int i = 0; i < 100; ++i) {
      const auto port = static_cast<std::uint16_t>(pick(rd));
      // The cluster bus port too, so that any server may be a cluster node.
      if (port_is_free(port) && port_is_free(static_cast<std::uint16_t>(port + 10000))) {
        return port;
      }
    }
    throw std::runtime_error("no free port for redis-server");
  }

  // Any RESP answer to an inline PING (PONG, or NOAUTH when a password is required).
  bool answers() const {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port_);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
              ::write(fd, "PING\r\n", 6) == 6;
    char c = 0;
    ok = ok && ::read(fd, &c, 1) == 1 && (c == '+' || c == '-');
    ::close(fd);
    return ok;
  }

  void wait_until_answering() {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!answers()) {
      // One that could not bind its ports exits at once: no need to wait for the deadline.
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        throw std::runtime_error("redis-server exited at start on port " + std::to_string(port_));
      }
      if (std::chrono::steady_clock::now() > deadline) {
        throw std::runtime_error("redis-server did not start on port " + std::to_string(port_));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }

  std::uint16_t port_;
  std::vector<std::string> extra_args_;
  pid_t pid_ = -1;
};

}  // namespace imagecpp::test
