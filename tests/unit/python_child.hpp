#pragma once
// A Python helper of the tests (tests/integration/*.py) run as a child process that talks over
// its stdin and stdout, one line at a time; its stderr stays the test's. Closing its stdin is its
// signal to finish: the destructor closes it, gives the child `grace` to exit, then kills it.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace imagecpp::test {

class PythonChild {
 public:
  // `script` is relative to tests/integration/.
  PythonChild(const std::string& script, std::vector<std::string> args,
              std::chrono::milliseconds grace)
      : grace_(grace) {
    int to_child[2];
    int from_child[2];
    if (pipe2(to_child, O_CLOEXEC) != 0 || pipe2(from_child, O_CLOEXEC) != 0) {
      throw std::runtime_error("pipe");
    }
    std::vector<std::string> argv{"/usr/bin/python3",
                                  IMAGECPP_TEST_IMAGES "/../integration/" + script};
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
    to_ = fdopen(to_child[1], "w");
    from_ = fdopen(from_child[0], "r");
    if (to_ == nullptr || from_ == nullptr) throw std::runtime_error("fdopen");
  }
  ~PythonChild() {
    std::fclose(to_);
    std::fclose(from_);
    int status = 0;
    const auto deadline = std::chrono::steady_clock::now() + grace_;
    while (waitpid(pid_, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() >= deadline) {
        kill(pid_, SIGKILL);
        waitpid(pid_, &status, 0);
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  PythonChild(const PythonChild&) = delete;
  PythonChild& operator=(const PythonChild&) = delete;

  // One line without its newline; empty at the end of the child's output.
  std::string read_line() {
    std::string line;
    for (int c = std::fgetc(from_); c != EOF && c != '\n'; c = std::fgetc(from_)) {
      line.push_back(static_cast<char>(c));
    }
    return line;
  }

  // False once the child is gone.
  bool write_line(std::string_view line) {
    const std::string text = std::string(line) + "\n";
    return std::fputs(text.c_str(), to_) >= 0 && std::fflush(to_) == 0;
  }

 private:
  const std::chrono::milliseconds grace_;
  pid_t pid_ = -1;
  std::FILE* to_ = nullptr;
  std::FILE* from_ = nullptr;
};

}  // namespace imagecpp::test
