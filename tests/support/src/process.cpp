#include "orderflow/testing/process.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "orderflow/testing/wait.h"

extern char** environ;

namespace orderflow::testing {

namespace {

std::vector<char*> c_strings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (auto& s : strings) {
    out.push_back(s.data());
  }
  out.push_back(nullptr);
  return out;
}

std::string temp_log_path() {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern =
      fmt::format("{}/orderflow-process-XXXXXX.log", (tmp != nullptr && *tmp != '\0') ? tmp : "/tmp");
  std::vector<char> buf(pattern.begin(), pattern.end());
  buf.push_back('\0');
  const int fd = mkstemps(buf.data(), 4);
  if (fd < 0) {
    throw std::runtime_error(fmt::format("mkstemps {}: {}", pattern, std::strerror(errno)));
  }
  ::close(fd);
  return std::string(buf.data());
}

int decode_status(int status) {
  if (WIFEXITED(status)) {
    return WEXITSTATUS(status);
  }
  if (WIFSIGNALED(status)) {
    return 128 + WTERMSIG(status);
  }
  return -1;
}

}  // namespace

Process Process::start(const std::string& path, const std::vector<std::string>& args,
                       const std::map<std::string, std::string>& extra_env, std::string log_file) {
  if (::access(path.c_str(), X_OK) != 0) {
    throw std::runtime_error(fmt::format("cannot run {}: {}", path, std::strerror(errno)));
  }
  Process p;
  p.delete_log_ = log_file.empty() && std::getenv("ORDERFLOW_KEEP_TEST_LOGS") == nullptr;
  p.log_file_ = log_file.empty() ? temp_log_path() : std::move(log_file);

  // Everything the child needs is prepared before fork: after it, only async-signal-safe calls.
  std::vector<std::string> argv_strings{path};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::map<std::string, std::string> env_map;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string_view kv(*e);
    const auto eq = kv.find('=');
    if (eq != std::string_view::npos) {
      env_map.emplace(std::string(kv.substr(0, eq)), std::string(kv.substr(eq + 1)));
    }
  }
  for (const auto& [k, v] : extra_env) {
    env_map[k] = v;
  }
  std::vector<std::string> env_strings;
  for (const auto& [k, v] : env_map) {
    env_strings.push_back(k + "=" + v);
  }
  auto argv = c_strings(argv_strings);
  auto envp = c_strings(env_strings);

  const int log_fd = ::open(p.log_file_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (log_fd < 0) {
    throw std::runtime_error(fmt::format("open {}: {}", p.log_file_, std::strerror(errno)));
  }
  const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null_fd < 0) {
    ::close(log_fd);
    throw std::runtime_error(fmt::format("open /dev/null: {}", std::strerror(errno)));
  }
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    const int err = errno;
    ::close(log_fd);
    ::close(null_fd);
    throw std::runtime_error(fmt::format("fork: {}", std::strerror(err)));
  }
  if (pid == 0) {
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) {
      ::_exit(127);
    }
    // Undo what the test process may have set up (e.g. a blocked SIGTERM) before the new program.
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::dup2(null_fd, STDIN_FILENO);
    ::dup2(log_fd, STDOUT_FILENO);
    ::dup2(log_fd, STDERR_FILENO);
    ::execve(argv[0], argv.data(), envp.data());
    static constexpr char kMsg[] = "Process::start: execve failed\n";
    (void)!::write(STDERR_FILENO, kMsg, sizeof(kMsg) - 1);
    ::_exit(127);
  }
  ::close(log_fd);
  ::close(null_fd);
  p.pid_ = pid;
  return p;
}

Process::Process(Process&& other) noexcept
    : pid_(other.pid_),
      exit_code_(other.exit_code_),
      log_file_(std::move(other.log_file_)),
      delete_log_(other.delete_log_) {
  other.pid_ = -1;
  other.delete_log_ = false;
}

Process& Process::operator=(Process&& other) noexcept {
  if (this != &other) {
    release();
    pid_ = other.pid_;
    exit_code_ = other.exit_code_;
    log_file_ = std::move(other.log_file_);
    delete_log_ = other.delete_log_;
    other.pid_ = -1;
    other.delete_log_ = false;
  }
  return *this;
}

Process::~Process() {
  release();
}

void Process::release() noexcept {
  kill_and_reap();
  if (delete_log_) {
    ::unlink(log_file_.c_str());
    delete_log_ = false;
  }
  pid_ = -1;
  exit_code_.reset();
}

void Process::kill_and_reap() noexcept {
  if (pid_ <= 0 || exit_code_) {
    return;
  }
  ::kill(-pid_, SIGKILL);
  ::kill(pid_, SIGKILL);
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  exit_code_ = decode_status(status);
}

bool Process::running() {
  if (pid_ <= 0 || exit_code_) {
    return false;
  }
  int status = 0;
  const pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    exit_code_ = decode_status(status);
    return false;
  }
  if (r < 0 && errno == ECHILD) {
    exit_code_ = -1;  // reaped by someone else: nothing more to learn
    return false;
  }
  return true;
}

void Process::signal(int sig) {
  if (running()) {
    ::kill(pid_, sig);
  }
}

std::optional<int> Process::wait(std::chrono::milliseconds timeout) {
  wait_until([this] { return !running(); }, timeout, std::chrono::milliseconds(5));
  return exit_code_;
}

int Process::stop(std::chrono::milliseconds grace) {
  if (pid_ <= 0) {
    return exit_code_.value_or(-1);
  }
  signal(SIGTERM);
  if (!wait(grace)) {
    kill_and_reap();
  }
  return exit_code_.value_or(-1);
}

std::string Process::output() const {
  std::ifstream in(log_file_, std::ios::binary);
  std::ostringstream os;
  os << in.rdbuf();
  return os.str();
}

bool Process::wait_for_output(std::string_view needle, std::chrono::milliseconds timeout) {
  bool found = false;
  wait_until(
      [&] {
        const bool alive = running();  // before reading: whatever it wrote before exiting is in
        found = output().find(needle) != std::string::npos;
        return found || !alive;
      },
      timeout);
  return found;
}

}  // namespace orderflow::testing
