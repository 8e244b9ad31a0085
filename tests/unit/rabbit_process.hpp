#pragma once
// A real RabbitMQ node for the C++ tests: runs tests/integration/rabbit_server.py as a program,
// which starts the node, prints "PORT <n>" and then obeys one command per line (start, stop,
// kill, close_connections, publish <base64>), answering "OK" or "ERR <why>". Closing its stdin
// stops the node and removes its files, also when this process dies.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "core/base64.hpp"

namespace imagecpp::test {

class RabbitProcess {
 public:
  RabbitProcess() {
    int to_child[2];
    int from_child[2];
    if (pipe2(to_child, O_CLOEXEC) != 0 || pipe2(from_child, O_CLOEXEC) != 0) {
      throw std::runtime_error("pipe");
    }
    std::vector<std::string> argv{"/usr/bin/python3", script()};
    pid_ = fork();
    if (pid_ == 0) {
      dup2(to_child[0], 0);
      dup2(from_child[1], 1);
      std::vector<char*> raw;
      for (auto& a : argv) raw.push_back(a.data());
      raw.push_back(nullptr);
      execv(raw[0], raw.data());
      _exit(127);
    }
    close(to_child[0]);
    close(from_child[1]);
    to_ = fdopen(to_child[1], "w");
    from_ = fdopen(from_child[0], "r");
    if (to_ == nullptr || from_ == nullptr) throw std::runtime_error("fdopen");
    const std::string first = read_line();
    if (first.starts_with("SKIP ")) {
      skip_reason_ = first.substr(5);
    } else if (std::sscanf(first.c_str(), "PORT %d", &port_) != 1) {
      throw std::runtime_error("rabbitmq did not start: " + first);
    }
  }
  ~RabbitProcess() {
    std::fclose(to_);  // the helper stops the node and exits when its stdin closes
    std::fclose(from_);
    int status = 0;
    waitpid(pid_, &status, 0);
  }
  RabbitProcess(const RabbitProcess&) = delete;
  RabbitProcess& operator=(const RabbitProcess&) = delete;

  // Non-empty when RabbitMQ is not installed: the caller skips its tests.
  const std::string& skip_reason() const noexcept { return skip_reason_; }
  int port() const noexcept { return port_; }
  std::string url() const { return "amqp://guest:guest@127.0.0.1:" + std::to_string(port_) + "/"; }

  void start() { command("start"); }
  void kill() { command("kill"); }  // SIGKILL to the node: no goodbye to its clients
  void close_connections() { command("close_connections"); }
  // To the `auth` fanout exchange.
  void publish(std::string_view body) { command("publish " + base64::encode(body)); }

 private:
  static std::string script() { return IMAGECPP_TEST_IMAGES "/../integration/rabbit_server.py"; }

  void command(const std::string& line) {
    if (std::fputs((line + "\n").c_str(), to_) < 0 || std::fflush(to_) != 0) {
      throw std::runtime_error("rabbitmq helper gone");
    }
    const std::string answer = read_line();
    if (answer != "OK") throw std::runtime_error(line.substr(0, 40) + ": " + answer);
  }

  std::string read_line() {
    std::string line;
    for (int c = std::fgetc(from_); c != EOF && c != '\n'; c = std::fgetc(from_)) {
      line.push_back(static_cast<char>(c));
    }
    return line;
  }

  pid_t pid_ = -1;
  std::FILE* to_ = nullptr;
  std::FILE* from_ = nullptr;
  int port_ = 0;
  std::string skip_reason_;
};

}  // namespace imagecpp::test
