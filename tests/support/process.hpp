// Running the real binaries from tests: capture exit code, stdout and stderr.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern char** environ;

namespace crmd::test {

struct process_result {
  int exit_code = -1;  // -signal when killed
  std::string out, err;
};

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Runs argv[0] with the arguments, stdin from /dev/null (or `input`), waits.
inline process_result run(const std::vector<std::string>& argv, const std::string& scratch_dir,
                          const std::string& input = {}) {
  std::string out = scratch_dir + "/.out", err = scratch_dir + "/.err", in = scratch_dir + "/.in";
  { std::ofstream(in, std::ios::binary) << input; }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, in.c_str(), O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&fa, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  process_result r;
  if (posix_spawn(&pid, args[0], &fa, nullptr, args.data(), environ) != 0) return r;
  posix_spawn_file_actions_destroy(&fa);
  int st = 0;
  waitpid(pid, &st, 0);
  r.exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
  r.out = read_file(out);
  r.err = read_file(err);
  return r;
}

// A child whose stdout is a pipe we read while it runs.
struct child {
  pid_t pid = -1;
  int out_fd = -1;
};

inline child spawn_piped(const std::vector<std::string>& argv) {
  int p[2];
  child c;
  if (pipe(p) != 0) return c;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, p[1], 1);
  posix_spawn_file_actions_addclose(&fa, p[0]);
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  if (posix_spawn(&c.pid, args[0], &fa, nullptr, args.data(), environ) != 0) c.pid = -1;
  posix_spawn_file_actions_destroy(&fa);
  close(p[1]);
  c.out_fd = p[0];
  return c;
}

// Reads from `fd` until `marker` appears, EOF, or `limit` passes.
inline std::string read_until(int fd, const std::string& marker, std::chrono::milliseconds limit) {
  std::string out;
  auto until = std::chrono::steady_clock::now() + limit;
  char buf[4096];
  while (out.find(marker) == std::string::npos) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, int(left.count())) <= 0) continue;
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, size_t(n));
  }
  return out;
}

}  // namespace crmd::test
