#pragma once
// Runs tests/integration/auth_double.py (the auth service test double) as a child process for
// the C++ tests of the HTTP client: it prints "PORT <n>" and serves until its stdin closes.
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

#include "python_child.hpp"

namespace imagecpp::test {

class AuthDoubleProcess {
 public:
  explicit AuthDoubleProcess(std::vector<std::string> args = {})
      : child_("auth_double.py", std::move(args), std::chrono::milliseconds(200)) {
    if (std::sscanf(child_.read_line().c_str(), "PORT %d", &port_) != 1) {
      throw std::runtime_error("auth double did not start");
    }
  }
  AuthDoubleProcess(const AuthDoubleProcess&) = delete;
  AuthDoubleProcess& operator=(const AuthDoubleProcess&) = delete;

  int port() const noexcept { return port_; }
  std::string url(const std::string& scheme = "http") const {
    return scheme + "://127.0.0.1:" + std::to_string(port_);
  }

 private:
  PythonChild child_;  // the double exits when its stdin closes
  int port_ = 0;
};

}  // namespace imagecpp::test
