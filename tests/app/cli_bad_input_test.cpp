// What the operator sees when the data directory is damaged or out of
// reach: every command stops with a one-line error and a non-zero exit, and
// nothing already stored is changed (every entry of every family compared).
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <set>

#include "tests/app/cli_fixture.hpp"

namespace crmd {
namespace {

namespace fs = std::filesystem;
using test::lines;

class cli_bad_input : public test::cli {
 protected:
  // Root reads any directory, so as root the command runs as nobody
  // (setpriv, util-linux); otherwise as the test's own user.
  test::process_result as_other(std::vector<std::string> args) {
    args.insert(args.begin(), CRMD_BINARY);
    if (::geteuid() == 0) {
      args.insert(args.begin(), {"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"});
    }
    return test::run(args, dir_.path());
  }
  // Takes `mode`'s rights away from everyone but root (who owns it in CI).
  void restrict(const std::string& path, fs::perms as_root, fs::perms as_user) {
    fs::permissions(path, ::geteuid() == 0 ? as_root : as_user);
  }
  std::set<std::string> files() {
    std::set<std::string> names;
    for (auto& e : fs::recursive_directory_iterator(data(), fs::directory_options::skip_permission_denied))
      names.insert(e.path().string());
    return names;
  }
  void SetUp() override {
    seed();
    // The scratch directory must be passable for the other user; .out/.err
    // are opened before the user changes.
    fs::permissions(dir_.path(), fs::perms(0755));
  }
};

constexpr auto owner_only = fs::perms(0700), none = fs::perms(0), read_only = fs::perms(0555),
               everyone_reads = fs::perms(0755);

TEST_F(cli_bad_input, an_unreadable_data_directory_stops_every_command_and_changes_nothing) {
  auto before = stored();
  auto names = files();
  restrict(data(), owner_only, none);
  std::string backup = dir_.sub("backup");
  for (std::vector<std::string> args : {std::vector<std::string>{"events"}, {"verify"}, {"serve", "--port", "0"},
                                        {"rebuild", "all"}, {"backup", backup}, {"export", "--tenant", "acme"}}) {
    args.insert(args.begin() + 1, {"--data-dir", data()});
    auto r = as_other(args);
    EXPECT_EQ(r.exit_code, 1) << args[0] << ": " << r.err;
    EXPECT_EQ(lines(r.err), 1u) << r.err;
    EXPECT_NE(r.err.find("data directory " + data() + " is not accessible: Permission denied"), std::string::npos)
        << args[0] << ": " << r.err;
  }
  fs::permissions(data(), everyone_reads);
  EXPECT_FALSE(fs::exists(backup));
  EXPECT_EQ(files(), names);
  EXPECT_EQ(stored(), before);
  EXPECT_EQ(crmd({"verify", "--data-dir", data()}).exit_code, 0);
}

TEST_F(cli_bad_input, a_data_directory_that_cannot_be_written_is_refused_by_serve_and_still_readable) {
  auto before = stored();
  auto names = files();
  restrict(data(), everyone_reads, read_only);
  auto s = as_other({"serve", "--data-dir", data(), "--port", "0"});
  EXPECT_EQ(s.exit_code, 1) << s.err;
  EXPECT_NE(s.err.find("is not accessible: Permission denied"), std::string::npos) << s.err;
  // Inspection needs no writes.
  auto v = as_other({"verify", "--data-dir", data()});
  EXPECT_EQ(v.exit_code, 0) << v.err;
  EXPECT_NE(v.out.find("4 events"), std::string::npos) << v.out;
  fs::permissions(data(), everyone_reads);
  EXPECT_EQ(files(), names);
  EXPECT_EQ(stored(), before);
}

TEST_F(cli_bad_input, an_unreadable_store_inside_a_readable_directory_names_the_file) {
  auto before = stored();
  std::string db = data() + "/db";
  // As root: the directory is the other user's, the store stays root's own.
  if (::geteuid() == 0) {
    ASSERT_EQ(::chown(data().c_str(), 65534, 65534), 0);
  }
  restrict(db, owner_only, none);
  for (std::vector<std::string> args : {std::vector<std::string>{"events"}, {"verify"}, {"serve", "--port", "0"}}) {
    args.insert(args.begin() + 1, {"--data-dir", data()});
    auto r = as_other(args);
    EXPECT_EQ(r.exit_code, 1) << args[0] << ": " << r.err;
    EXPECT_EQ(lines(r.err), 1u) << r.err;
    EXPECT_NE(r.err.find("open " + db + ": IO error"), std::string::npos) << args[0] << ": " << r.err;
    EXPECT_NE(r.err.find("Permission denied"), std::string::npos) << r.err;
  }
  fs::permissions(db, everyone_reads);
  if (::geteuid() == 0) {
    ASSERT_EQ(::chown(data().c_str(), 0, 0), 0);
  }
  EXPECT_EQ(stored(), before);
  EXPECT_EQ(crmd({"verify", "--data-dir", data()}).exit_code, 0);
}

TEST_F(cli_bad_input, corrupt_and_truncated_records_stop_every_reader_and_changes_nothing) {
  std::string v = get_raw(2);
  v[v.size() - 40] ^= 1;  // in the payload: the record's CRC no longer matches
  put_raw(2, v);
  put_raw(3, get_raw(3).substr(0, 12));  // cut inside the header
  auto before = stored();
  auto names = files();
  auto events = crmd({"events", "--data-dir", data()});
  EXPECT_EQ(events.exit_code, 1);
  EXPECT_NE(events.err.find("position 2"), std::string::npos) << events.err;
  EXPECT_EQ(lines(events.err), 1u) << events.err;
  auto from3 = crmd({"events", "--data-dir", data(), "--from", "3"});
  EXPECT_EQ(from3.exit_code, 1);
  EXPECT_NE(from3.err.find("position 3"), std::string::npos) << from3.err;
  auto verify = crmd({"verify", "--data-dir", data()});
  EXPECT_EQ(verify.exit_code, 1);
  EXPECT_NE(verify.err.find("position 2"), std::string::npos) << verify.err;
  auto exported = crmd({"export", "--data-dir", data(), "--tenant", "beta", "--out", dir_.sub("beta.export")});
  EXPECT_NE(exported.exit_code, 0);
  EXPECT_NE(exported.err.find("position 2"), std::string::npos) << exported.err;
  EXPECT_EQ(stored(), before) << "no reader repaired, dropped or rewrote anything";
  EXPECT_EQ(files(), names);

  // Writers stop too. They may leave their own state (a view marked as not
  // rebuilt), never a change to the log.
  auto log_only = [](std::map<std::string, std::string> all) {
    for (auto it = all.begin(); it != all.end();) it = it->first.rfind("projections/", 0) == 0 ? all.erase(it) : std::next(it);
    return all;
  };
  auto rebuild = crmd({"rebuild", "contacts", "--data-dir", data()});
  EXPECT_EQ(rebuild.exit_code, 1) << rebuild.out;
  EXPECT_NE(rebuild.err.find("position 2"), std::string::npos) << rebuild.err;
  EXPECT_EQ(lines(rebuild.err), 1u) << rebuild.err;
  auto after_rebuild = stored();
  EXPECT_EQ(after_rebuild.count("projections/b/contacts"), 1u) << "the half-built view stays marked as such";
  auto serve = crmd({"serve", "--data-dir", data(), "--port", "0"});
  EXPECT_EQ(serve.exit_code, 1) << serve.out;
  EXPECT_NE(serve.err.find("position 2"), std::string::npos) << serve.err;
  EXPECT_EQ(log_only(stored()), log_only(before)) << "the log is as it was";
}

}  // namespace
}  // namespace crmd
