// The crmd binary as an operator meets it.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <chrono>
#include <thread>
#include <algorithm>
#include <filesystem>

#include "tests/app/cli_fixture.hpp"
#include "tests/support/crmd_server.hpp"

namespace crmd {
namespace {

using test::cli;
using test::lines;
using test::run;

TEST_F(cli, help_is_available_everywhere) {
  auto top = crmd({"--help"});
  EXPECT_EQ(top.exit_code, 0);
  EXPECT_NE(top.out.find("verify"), std::string::npos);
  for (std::string cmd : {"serve", "events", "verify"}) {
    auto r = crmd({cmd, "--help"});
    EXPECT_EQ(r.exit_code, 0) << cmd;
    EXPECT_NE(r.out.find("usage: crmd " + cmd), std::string::npos) << cmd;
  }
}

TEST_F(cli, usage_errors_are_one_line_and_exit_2) {
  for (auto args : std::vector<std::vector<std::string>>{
           {}, {"frobnicate"}, {"events", "--bogus"}, {"events", "--from", "abc"},
           {"events", "--limit"}, {"verify", "extra"}, {"serve", "--help=yes"}}) {
    auto r = crmd(args);
    EXPECT_EQ(r.exit_code, 2) << (args.empty() ? "(none)" : args[0]);
    EXPECT_EQ(lines(r.err), 1u) << r.err;
    EXPECT_TRUE(r.out.empty());
  }
}

TEST_F(cli, a_missing_data_directory_is_an_error_not_a_new_store) {
  for (std::string cmd : {"events", "verify"}) {
    auto r = crmd({cmd, "--data-dir", data()});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("does not exist"), std::string::npos) << r.err;
  }
  EXPECT_FALSE(std::filesystem::exists(data()));
}

TEST_F(cli, a_file_where_the_data_directory_should_be_is_an_error) {
  { std::ofstream(data()) << "not a dir"; }
  auto r = crmd({"events", "--data-dir", data()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("not a directory"), std::string::npos) << r.err;
  auto s = crmd({"serve", "--data-dir", data()});
  EXPECT_EQ(s.exit_code, 1);
}

TEST_F(cli, events_prints_json_lines_with_payloads_or_erased) {
  seed();
  auto r = crmd({"events", "--data-dir", data()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(lines(r.out), 4u);
  EXPECT_NE(r.out.find("\"position\":1"), std::string::npos);
  EXPECT_NE(r.out.find("\"name\":\"\xd7\x90\xd7\xa7\xd7\x9e\xd7\x94\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"phone\":\"+972501234567\""), std::string::npos);
  EXPECT_NE(r.out.find("\"payload\":\"erased\""), std::string::npos);
  EXPECT_EQ(r.out.find("+972502222222"), std::string::npos);

  auto acme = crmd({"events", "--data-dir", data(), "--tenant", "beta"});
  EXPECT_EQ(lines(acme.out), 1u);
  auto page = crmd({"events", "--data-dir", data(), "--from", "2", "--limit", "2"});
  EXPECT_EQ(lines(page.out), 2u);
  EXPECT_NE(page.out.find("\"position\":2"), std::string::npos);
  EXPECT_NE(page.out.find("\"position\":3"), std::string::npos);
}

TEST_F(cli, rebuild_folds_a_view_or_all_of_them_into_the_store_and_leaves_no_bulk_files) {
  seed();
  auto one = crmd({"rebuild", "contacts", "--data-dir", data()});
  ASSERT_EQ(one.exit_code, 0) << one.err;
  EXPECT_NE(one.out.find("rebuilt contacts to position 4"), std::string::npos) << one.out;
  auto all = crmd({"rebuild", "all", "--data-dir", data()});
  ASSERT_EQ(all.exit_code, 0) << all.err;
  EXPECT_NE(all.out.find("rebuilt all to position 4"), std::string::npos) << all.out;
  EXPECT_EQ(crmd({"rebuild", "nope", "--data-dir", data()}).exit_code, 2);
  EXPECT_EQ(one.out.find('\r'), std::string::npos) << "no progress bar when stdout is not a terminal";
  auto bar = crmd({"rebuild", "tasks", "--data-dir", data(), "--progress"});
  ASSERT_EQ(bar.exit_code, 0) << bar.err;
  EXPECT_NE(bar.out.find("\rtasks [##############################] 4/4  "), std::string::npos) << bar.out;
  EXPECT_NE(bar.out.find(" events/s  ETA 0 s"), std::string::npos) << bar.out;
  EXPECT_NE(bar.out.find("\nrebuilt tasks to position 4"), std::string::npos) << bar.out;

  auto kv = open_store();
  ASSERT_TRUE(kv);
  std::vector<std::string> leads, checkpoints, markers;
  for (auto it = (*kv)->scan(cf::projections, "", ""); it->valid(); it->next()) {
    std::string k(it->key());
    if (k.rfind("v/contacts/acme/k/lead/", 0) == 0) leads.emplace_back(it->value());
    if (k.rfind("c/", 0) == 0) checkpoints.push_back(k + "=" + std::to_string(read_be64(it->value())));
    if (k.rfind("b/", 0) == 0) markers.push_back(k);
  }
  ASSERT_EQ(leads.size(), 1u) << "the erased lead is not in the view";
  EXPECT_NE(leads[0].find("\"name\":\"Dana\""), std::string::npos) << leads[0];
  EXPECT_GE(checkpoints.size(), 9u);
  for (auto& c : checkpoints) EXPECT_NE(c.find("=4"), std::string::npos) << c;
  EXPECT_TRUE(markers.empty()) << "a finished rebuild removes its marker";
  for (auto& f : std::filesystem::directory_iterator(data() + "/db"))
    EXPECT_EQ(f.path().filename().string().rfind("crmd-load-", 0), std::string::npos) << f.path();
}

TEST_F(cli, the_data_directory_comes_from_the_environment_by_default) {
  seed();
  setenv("CRMD_DATA_DIR", data().c_str(), 1);
  auto r = crmd({"verify"});
  unsetenv("CRMD_DATA_DIR");
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

TEST_F(cli, without_a_flag_or_the_environment_the_data_directory_is_dot_data) {
  seed();  // into <scratch>/data
  const char* was = std::getenv("CRMD_DATA_DIR");
  std::string saved = was ? was : "";
  unsetenv("CRMD_DATA_DIR");
  auto r = run({"/bin/sh", "-c", "cd '" + dir_.path() + "' && exec '" + std::string(CRMD_BINARY) + "' verify"}, dir_.path());
  if (was) setenv("CRMD_DATA_DIR", saved.c_str(), 1);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("4 events"), std::string::npos) << "read ./data: " << r.out;
}

TEST_F(cli, verify_passes_then_names_a_flipped_byte) {
  seed();
  auto ok = crmd({"verify", "--data-dir", data()});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_NE(ok.out.find("4 events"), std::string::npos) << ok.out;
  std::string v = get_raw(2);
  v[v.size() - 40] ^= 1;
  put_raw(2, v);
  auto bad = crmd({"verify", "--data-dir", data()});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("position 2"), std::string::npos) << bad.err;
  EXPECT_NE(bad.err.find("tenant beta"), std::string::npos) << bad.err;
  auto events = crmd({"events", "--data-dir", data()});
  EXPECT_EQ(events.exit_code, 1);
  EXPECT_NE(events.err.find("position 2"), std::string::npos) << events.err;
  EXPECT_EQ(lines(events.out), 1u);  // what came before the damage was printed
}

TEST_F(cli, unknown_types_and_future_versions_stop_with_a_clear_error) {
  seed();
  {
    auto kv = open_store();
    ASSERT_TRUE(kv);
    auto log = open_event_log(std::move(*kv));
    ASSERT_TRUE(log);
    new_event e{"alien_event", 1, "whatever", ""};
    ASSERT_TRUE((*log)->append(test::one("acme/tenant/acme", e)));
  }
  auto before = stored();
  auto r = crmd({"events", "--data-dir", data()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("unknown event type 'alien_event'"), std::string::npos) << r.err;
  EXPECT_EQ(crmd({"verify", "--data-dir", data()}).exit_code, 0) << "the record itself is intact";
  EXPECT_EQ(stored(), before);

  std::string v = get_raw(1);
  v[0] = 9;  // a record format from the future
  put_raw(1, v);
  before = stored();
  auto f = crmd({"events", "--data-dir", data()});
  EXPECT_EQ(f.exit_code, 1);
  EXPECT_NE(f.err.find("newer"), std::string::npos) << f.err;
  auto fv = crmd({"verify", "--data-dir", data()});
  EXPECT_EQ(fv.exit_code, 1);
  EXPECT_NE(fv.err.find("position 1"), std::string::npos) << fv.err;
  auto fs = crmd({"serve", "--data-dir", data(), "--port", "0"});
  EXPECT_EQ(fs.exit_code, 1);
  EXPECT_NE(fs.err.find("newer"), std::string::npos) << fs.err;
  EXPECT_EQ(get_raw(1), v);
  auto after = stored();
  for (auto& [k, value] : before) {  // nothing stored was changed (serve may add views of its own)
    if (k.rfind("projections/", 0) != 0) {
      EXPECT_EQ(after[k], value) << k;
    }
  }
  EXPECT_EQ(after.size() - before.size(), size_t(std::count_if(after.begin(), after.end(), [&](auto& kv) {
              return kv.first.rfind("projections/", 0) == 0 && !before.count(kv.first);
            })))
      << "nothing outside the views was added";
}

TEST_F(cli, serve_holds_the_directory_and_stops_on_sigterm) {
  auto c = test::spawn_piped({CRMD_BINARY, "serve", "--data-dir", data(), "--port", "0"});
  ASSERT_GT(c.pid, 0);
  std::string out = test::read_until(c.out_fd, "listening on", std::chrono::seconds(20));
  ASSERT_NE(out.find("listening on"), std::string::npos) << out;
  EXPECT_NE(out.find("log position 0"), std::string::npos) << out;
  auto second = crmd({"serve", "--data-dir", data(), "--port", "0"});
  EXPECT_EQ(second.exit_code, 1);
  EXPECT_NE(second.err.find("in use"), std::string::npos) << second.err;
  auto reader = crmd({"verify", "--data-dir", data()});
  EXPECT_EQ(reader.exit_code, 0) << reader.err;  // inspection works beside it
  auto status = crmd({"status", "--data-dir", data()});  // asks the server, token from the data dir
  EXPECT_EQ(status.exit_code, 0) << status.err;
  EXPECT_NE(status.out.find("\"server\":\"running\""), std::string::npos) << status.out;
  EXPECT_NE(status.out.find("\"log_position\""), std::string::npos) << status.out;
  kill(c.pid, SIGTERM);
  int st = 0;
  waitpid(c.pid, &st, 0);
  close(c.out_fd);
  EXPECT_TRUE(WIFEXITED(st));
  EXPECT_EQ(WEXITSTATUS(st), 0);
  auto stopped = crmd({"status", "--data-dir", data()});
  EXPECT_EQ(stopped.exit_code, 0) << stopped.err;
  EXPECT_NE(stopped.out.find("\"server\":\"stopped\""), std::string::npos) << stopped.out;
}

TEST_F(cli, a_busy_port_stops_start_up_with_a_clear_error_instead_of_hanging) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(listen(fd, 1), 0);
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len), 0);
  std::string port = std::to_string(ntohs(a.sin_port));
  // Under `timeout`: a hang is exit 124, not a stuck suite.
  auto r = run({"/usr/bin/timeout", "30", CRMD_BINARY, "serve", "--data-dir", data(), "--port", port}, dir_.path());
  close(fd);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("cannot listen on 127.0.0.1:" + port), std::string::npos) << r.err;
}

TEST_F(cli, production_mode_names_every_missing_setting) {
  setenv("CRMD_ENV", "production", 1);
  auto r = crmd({"serve", "--data-dir", data(), "--port", "0"});
  unsetenv("CRMD_ENV");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(lines(r.err), 1u) << r.err;
  EXPECT_NE(r.err.find("PUBLIC_HOST"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("JWT_SECRET"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("TWILIO_AUTH_TOKEN"), std::string::npos) << r.err;
}

TEST_F(cli, production_refuses_to_switch_twilio_signatures_off) {
  setenv("CRMD_ENV", "production", 1);
  setenv("PUBLIC_HOST", "https://crm.example.com", 1);
  setenv("JWT_SECRET", "0123456789abcdef0123456789abcdef", 1);
  setenv("TWILIO_AUTH_TOKEN", "tok", 1);
  setenv("VALIDATE_TWILIO_SIGNATURE", "false", 1);
  auto r = crmd({"serve", "--data-dir", data(), "--port", "0"});
  for (auto* v : {"CRMD_ENV", "PUBLIC_HOST", "JWT_SECRET", "TWILIO_AUTH_TOKEN", "VALIDATE_TWILIO_SIGNATURE"}) unsetenv(v);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("VALIDATE_TWILIO_SIGNATURE"), std::string::npos) << r.err;
}

TEST_F(cli, twilio_sign_prints_the_signature_of_twilios_documented_example) {
  auto r = crmd({"twilio-sign", "--token", "12345", "--url", "https://example.com/myapp.php?foo=1&bar=2", "-d",
                 "CallSid=CA1234567890ABCDE&Caller=%2B14158675310&Digits=1234", "-d",
                 "From=%2B14158675310&To=%2B18005551212"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "L/OH5YylLD5NRKLltdqwSvS0BnU=\n");
  EXPECT_EQ(crmd({"twilio-sign", "-d", "A=1"}).exit_code, 2) << "--url is required";
}

TEST_F(cli, production_refuses_weak_password_hashing_and_short_jwt_secrets) {
  setenv("CRMD_ENV", "production", 1);
  setenv("PUBLIC_HOST", "https://crm.example.com", 1);
  setenv("JWT_SECRET", "0123456789abcdef0123456789abcdef", 1);
  setenv("CRMD_KDF_ITERATIONS", "100000", 1);
  setenv("TWILIO_AUTH_TOKEN", "tok", 1);
  auto weak = crmd({"serve", "--data-dir", data(), "--port", "0"});
  setenv("JWT_SECRET", "short", 1);
  unsetenv("CRMD_KDF_ITERATIONS");
  auto short_secret = crmd({"serve", "--data-dir", data(), "--port", "0"});
  unsetenv("CRMD_ENV");
  unsetenv("PUBLIC_HOST");
  unsetenv("JWT_SECRET");
  unsetenv("TWILIO_AUTH_TOKEN");
  EXPECT_EQ(weak.exit_code, 2);
  EXPECT_NE(weak.err.find("CRMD_KDF_ITERATIONS"), std::string::npos) << weak.err;
  EXPECT_EQ(short_secret.exit_code, 2);
  EXPECT_NE(short_secret.err.find("JWT_SECRET"), std::string::npos) << short_secret.err;
}

TEST_F(cli, serve_refuses_an_http_thread_count_that_is_not_1_to_64) {
  // 0 is how the configuration means "unset" (half the cores): typed by an
  // operator it is refused like any other out-of-range value.
  for (const char* bad : {"0", "65", "two", "-1"}) {
    setenv("CRMD_HTTP_THREADS", bad, 1);
    auto r = crmd({"serve", "--data-dir", data(), "--port", "0"});
    unsetenv("CRMD_HTTP_THREADS");
    EXPECT_EQ(r.exit_code, 2) << bad << ": " << r.err;
    EXPECT_NE(r.err.find("CRMD_HTTP_THREADS must be an integer from 1 to 64"), std::string::npos) << bad << ": " << r.err;
  }
}

TEST_F(cli, docs_permissions_md_is_what_the_code_says) {
  auto r = crmd({"admin", "permissions"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(test::read_file(std::string(CRMD_SOURCE_DIR) + "/docs/permissions.md"), r.out)
      << "regenerate with: build/app/crmd admin permissions > docs/permissions.md";
}

TEST_F(cli, admin_create_user_works_with_the_server_stopped_and_running) {
  setenv("CRMD_KDF_ITERATIONS", "1000", 1);
  auto stopped = run({CRMD_BINARY, "admin", "create-user", "--data-dir", data(), "--email", "first@x.test", "--role",
                      "system_admin"},
                     dir_.path(), "correct horse battery\n");
  EXPECT_EQ(stopped.exit_code, 0) << stopped.err;
  EXPECT_NE(stopped.out.find("\"id\":\"u1\""), std::string::npos) << stopped.out;
  auto weak = run({CRMD_BINARY, "admin", "create-user", "--data-dir", data(), "--email", "w@x.test", "--role", "agent"},
                  dir_.path(), "short\n");
  EXPECT_EQ(weak.exit_code, 2) << weak.err;
  EXPECT_EQ(run({CRMD_BINARY, "admin", "create-user", "--data-dir", data(), "--email", "w@x.test"}, dir_.path()).exit_code,
            2);

  test::crmd_server srv(data());
  ASSERT_TRUE(srv.start());
  EXPECT_EQ(srv.login("first@x.test", "correct horse battery").status, 200) << "created while stopped";
  ASSERT_EQ(srv.post("/api/admin/tenants", R"({"id":"acme","name":"Acme"})").status, 201);
  // The server holds the store's lock: this goes through its HTTP API.
  setenv("CRMD_ADMIN_TOKEN", test::test_token, 1);
  auto running = run({CRMD_BINARY, "admin", "create-user", "--data-dir", data(), "--email", "o@acme.test", "--role",
                      "owner", "--tenant", "acme"},
                     dir_.path(), "another long password\n");
  auto clash = run({CRMD_BINARY, "admin", "create-user", "--data-dir", data(), "--email", "O@acme.test", "--role",
                    "agent", "--tenant", "acme"},
                   dir_.path(), "another long password\n");
  unsetenv("CRMD_ADMIN_TOKEN");
  unsetenv("CRMD_KDF_ITERATIONS");
  EXPECT_EQ(running.exit_code, 0) << running.err;
  EXPECT_NE(running.out.find("\"position\""), std::string::npos) << "answered by the server: " << running.out;
  EXPECT_EQ(clash.exit_code, 1);
  EXPECT_NE(clash.err.find("email_taken"), std::string::npos) << clash.err;
  auto login = srv.login("o@acme.test", "another long password");
  EXPECT_EQ(login.status, 200) << login.body;
}

}  // namespace
}  // namespace crmd
