// What one synced WAL write costs on this disk, by how the file's space was
// made (storage/zeroed_wal.hpp): appending (the file grows: its new size is
// metadata fdatasync must also write), into space fallocate'd with
// FALLOC_FL_KEEP_SIZE (what RocksDB does for its WALs: the size still
// grows), and over zeros written beforehand (nothing but data to write).
// The three alternate, `rounds` times, in one run.
// Usage: fsync_probe [--dir D] [--bytes N] [--writes N] [--rounds N]
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

enum class space { appended, fallocated, zeroed };
const char* name(space s) {
  return s == space::appended ? "appended" : s == space::fallocated ? "fallocate'd (KEEP_SIZE)" : "zeroed beforehand";
}

// Microseconds per write + fdatasync.
double probe(const std::string& path, space how, size_t bytes, int writes) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) std::abort();
  off_t total = static_cast<off_t>(bytes) * writes + (1 << 20);
  if (how == space::zeroed) {
    std::vector<char> zeros(1 << 20, 0);
    for (off_t done = 0; done < total; done += static_cast<off_t>(zeros.size()))
      if (::write(fd, zeros.data(), zeros.size()) < 0) std::abort();
    ::fdatasync(fd);
    ::lseek(fd, 0, SEEK_SET);
  } else if (how == space::fallocated) {
    if (::fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, total) != 0) std::abort();
    ::fdatasync(fd);
  }
  std::vector<char> record(bytes, 'x');
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < writes; ++i) {
    if (::write(fd, record.data(), record.size()) < 0) std::abort();
    ::fdatasync(fd);
  }
  double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count() / writes;
  ::close(fd);
  ::unlink(path.c_str());
  return us;
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = ".";
  size_t bytes = 16384;
  int writes = 1000, rounds = 3;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--dir") dir = argv[i + 1];
    else if (a == "--bytes") bytes = std::strtoull(argv[i + 1], nullptr, 10);
    else if (a == "--writes") writes = std::atoi(argv[i + 1]);
    else if (a == "--rounds") rounds = std::atoi(argv[i + 1]);
    else {
      std::fprintf(stderr, "usage: fsync_probe [--dir D] [--bytes N] [--writes N] [--rounds N]\n");
      return 2;
    }
  }
  std::string path = dir + "/fsync_probe.tmp";
  std::printf("%zu-byte write + fdatasync, %d a line, in %s\n", bytes, writes, dir.c_str());
  for (int r = 0; r < rounds; ++r)
    for (space s : {space::appended, space::fallocated, space::zeroed})
      std::printf("%-26s %7.1f us\n", name(s), probe(path, s, bytes, writes));
  return 0;
}
