#pragma once
// Runs tests/integration/auth_double.py (the auth service test double) as a child process for
// the C++ tests of the HTTP client: it prints "PORT <n>" and serves until its stdin closes.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

namespace imagecpp::test {

class AuthDoubleProcess {
 public:
  explicit AuthDoubleProcess(std::vector<std::string> args = {}) {
    int to_child[2];
    int from_child[2];
    if (pipe2(to_child, O_CLOEXEC) != 0 || pipe2(from_child, O_CLOEXEC) != 0) {
      throw std::runtime_error("pipe");
    }
    std::vector<std::string> argv{"/usr/bin/python3", script()};
    argv.insert(argv.end(), args.begin(), args.end());
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
    stdin_ = to_child[1];
    read_port(from_child[0]);
  }
  ~AuthDoubleProcess() {
    close(stdin_);  // the double exits when its stdin closes
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == 0) {
      usleep(200'000);
      if (waitpid(pid_, &status, WNOHANG) == 0) {
        kill(pid_, SIGKILL);
        waitpid(pid_, &status, 0);
      }
    }
  }
  AuthDoubleProcess(const AuthDoubleProcess&) = delete;
  AuthDoubleProcess& operator=(const AuthDoubleProcess&) = delete;

  int port() const noexcept { return port_; }
  std::string url(const std::string& scheme = "http") const {
    return scheme + "://127.0.0.1:" + std::to_string(port_);
  }

 private:
  static std::string script() { return IMAGECPP_TEST_IMAGES "/../integration/auth_double.py"; }

  void read_port(int fd) {
    FILE* out = fdopen(fd, "r");
    char line[64] = {};
    const bool got = out != nullptr && std::fgets(line, sizeof line, out) != nullptr;
    if (out != nullptr) std::fclose(out);
    if (!got || std::sscanf(line, "PORT %d", &port_) != 1) {
      throw std::runtime_error("auth double did not start");
    }
  }

  pid_t pid_ = -1;
  int stdin_ = -1;
  int port_ = 0;
};

}  // namespace imagecpp::test
