// A child process for tests: fork/exec with stdout and stderr captured to a log file, stdin from
// /dev/null, in its own process group, and killed by the kernel if the starting thread dies
// (PR_SET_PDEATHSIG), so a crashed test never leaves a child behind. Start processes from the
// test's main thread: the death signal fires when the *thread* that started the child exits. Not
// thread-safe (one owner). start() throws std::runtime_error when the program cannot be run.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace orderflow::testing {

class Process {
 public:
  // `path` is run with `args` (argv[0] is `path`), the parent's environment plus `extra_env`
  // (overrides). `log_file` is truncated; "" = a fresh temp file, deleted by the destructor unless
  // ORDERFLOW_KEEP_TEST_LOGS is set.
  static Process start(const std::string& path, const std::vector<std::string>& args,
                       const std::map<std::string, std::string>& extra_env = {}, std::string log_file = "");

  Process(Process&& other) noexcept;
  Process& operator=(Process&& other) noexcept;
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  ~Process();  // if still running: SIGKILL (its whole process group) and reap

  pid_t pid() const { return pid_; }
  bool running();  // reaps if exited
  void signal(int sig);
  // Exit code (128 + signal number if killed by a signal); nullopt if still running at the timeout.
  std::optional<int> wait(std::chrono::milliseconds timeout);
  // SIGTERM, wait up to `grace`, then SIGKILL; returns the exit code.
  int stop(std::chrono::milliseconds grace = std::chrono::seconds(10));
  std::optional<int> exit_code() const { return exit_code_; }

  std::string output() const;  // the captured log so far
  // True once the log contains `needle`; false at the timeout or as soon as the process has exited
  // without writing it.
  bool wait_for_output(std::string_view needle, std::chrono::milliseconds timeout);
  const std::string& log_file() const { return log_file_; }

 private:
  Process() = default;
  void kill_and_reap() noexcept;
  void release() noexcept;

  pid_t pid_ = -1;
  std::optional<int> exit_code_;
  std::string log_file_;
  bool delete_log_ = false;
};

}  // namespace orderflow::testing
