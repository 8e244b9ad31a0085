#pragma once
// A real RabbitMQ node for the C++ tests: runs tests/integration/rabbit_server.py as a program,
// which starts the node, prints "PORT <n>" and then obeys one command per line (start, stop,
// kill, close_connections, publish <base64>), answering "OK" or "ERR <why>". Closing its stdin
// stops the node and removes its files, also when this process dies.
#include <cstdio>
#include <stdexcept>
#include <string>
#include <string_view>

#include "core/base64.hpp"
#include "python_child.hpp"

namespace imagecpp::test {

class RabbitProcess {
 public:
  RabbitProcess() {
    const std::string first = child_.read_line();
    if (first.starts_with("SKIP ")) {
      skip_reason_ = first.substr(5);
    } else if (std::sscanf(first.c_str(), "PORT %d", &port_) != 1) {
      throw std::runtime_error("rabbitmq did not start: " + first);
    }
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
  void command(const std::string& line) {
    if (!child_.write_line(line)) throw std::runtime_error("rabbitmq helper gone");
    const std::string answer = child_.read_line();
    if (answer != "OK") throw std::runtime_error(line.substr(0, 40) + ": " + answer);
  }

  // The helper stops the node and removes its files when its stdin closes (a node takes seconds
  // to stop: the grace is a hang guard).
  PythonChild child_{"rabbit_server.py", {}, std::chrono::minutes(2)};
  int port_ = 0;
  std::string skip_reason_;
};

}  // namespace imagecpp::test
