// Specifications of the call-recording pipeline, first step: fetching the
// recording from Twilio to disk (speech to text and the summary are in
// transcription_summary_test.cpp). Against fakes on 127.0.0.1, never the
// internet; backoff sleeps are recorded, not slept.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "connectors/recording_fetch.hpp"
#include "tests/support/closed_port.hpp"
#include "tests/support/fake_http_server.hpp"
#include "tests/support/temp_dir.hpp"

namespace crmd::connectors {
namespace {

namespace fs = std::filesystem;
using ms = std::chrono::milliseconds;

const std::string sid = "AC0123456789abcdef0123456789abcdef";
const std::string token = "tw_token_s3cret_value";
const std::string recording_path = "/2010-04-01/Accounts/" + sid + "/Recordings/RE42.mp3";

std::string sha256_hex(const std::string& bytes) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), md);
  std::ostringstream out;
  for (unsigned char b : md) out << "0123456789abcdef"[b >> 4] << "0123456789abcdef"[b & 15];
  return out.str();
}

std::string basic_auth(const std::string& user, const std::string& password) {
  std::string plain = user + ":" + password;
  std::string out(4 * ((plain.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(plain.data()), static_cast<int>(plain.size()));
  out.resize(static_cast<size_t>(n));
  return "Basic " + out;
}

// Every byte value, CR LF pairs and NULs included, repeated past curl's 16 KiB buffer.
std::string audio_bytes(size_t n = 100000) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 7 + i / 256) & 0xff);
  return s;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// --- fetching the recording --------------------------------------------------------

struct recording_fetch : ::testing::Test {
  test::temp_dir dir;
  std::string dest = dir.sub("tenant-a/2024/CA1/recording.mp3");  // parents do not exist yet
  std::vector<ms> sleeps;
  media_options options(int attempts = 5) {
    media_options o;
    o.account_sid = sid;
    o.auth_token = token;
    o.timeout_ms = 5000;
    o.attempts = attempts;
    o.sleep = [this](ms d) { sleeps.push_back(d); };
    return o;
  }
  void expect_nothing_left() {
    EXPECT_FALSE(fs::exists(dest));
    EXPECT_FALSE(fs::exists(dest + ".part"));
  }
};

// Answers `statuses` in order (then 200 with `body`), checking basic auth.
test::fake_http_server::handler scripted(std::vector<int> statuses, std::string body, std::atomic<int>& served) {
  return [statuses = std::move(statuses), body = std::move(body), &served](const test::fake_request& r) {
    size_t i = static_cast<size_t>(served++);
    if (r.header("authorization") != basic_auth(sid, token)) return test::fake_response{401, "{}"};
    if (i < statuses.size()) return test::fake_response{statuses[i], R"({"code":20404})"};
    return test::fake_response{200, body, "audio/mpeg"};
  };
}

TEST_F(recording_fetch, downloads_with_basic_auth_into_place_with_its_sha256) {
  std::atomic<int> served{0};
  const std::string bytes = audio_bytes();
  test::fake_http_server twilio(scripted({}, bytes, served));
  auto got = fetch_recording(options(), twilio.base_url() + recording_path, dest);
  ASSERT_TRUE(got) << got.error().to_string();
  EXPECT_EQ(got->path, dest);
  EXPECT_EQ(got->bytes, bytes.size());
  EXPECT_EQ(got->attempts, 1);
  EXPECT_EQ(got->sha256_hex, sha256_hex(bytes));
  EXPECT_EQ(read_file(dest), bytes);
  EXPECT_FALSE(fs::exists(dest + ".part"));
  EXPECT_EQ(fs::status(dest).permissions() & fs::perms::all, fs::perms::owner_read | fs::perms::owner_write);
  auto reqs = twilio.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].method, "GET");
  EXPECT_EQ(reqs[0].target, recording_path);
  EXPECT_EQ(reqs[0].header("authorization"), basic_auth(sid, token));
  EXPECT_TRUE(sleeps.empty());
}

TEST_F(recording_fetch, a_server_slower_than_the_timeout_is_an_error_value_and_leaves_nothing) {
  test::fake_http_server slow([](const test::fake_request&) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    return test::fake_response{200, "late", "audio/mpeg"};
  });
  auto o = options(2);
  o.timeout_ms = 200;
  auto got = fetch_recording(o, slow.base_url() + recording_path, dest);
  ASSERT_FALSE(got) << "a download that outlives its timeout fails";
  EXPECT_EQ(got.error().message().find(token), std::string::npos);
  EXPECT_LE(sleeps.size(), 1u) << "at most one backoff between two attempts";
  expect_nothing_left();
}

TEST_F(recording_fetch, a_404_right_after_the_callback_is_retried_with_doubling_backoff) {
  std::atomic<int> served{0};
  test::fake_http_server twilio(scripted({404, 404}, "ID3 audio", served));
  auto got = fetch_recording(options(), twilio.base_url() + recording_path, dest);
  ASSERT_TRUE(got) << got.error().to_string();
  EXPECT_EQ(got->attempts, 3);
  EXPECT_EQ(read_file(dest), "ID3 audio");
  EXPECT_EQ(twilio.requests().size(), 3u);
  ASSERT_EQ(sleeps.size(), 2u);
  EXPECT_GE(sleeps[0], ms(1000));
  EXPECT_LE(sleeps[0], ms(1200));
  EXPECT_GE(sleeps[1], ms(2000));
  EXPECT_LE(sleeps[1], ms(2400));
}

TEST_F(recording_fetch, rate_limits_and_server_errors_are_retried_too) {
  std::atomic<int> served{0};
  test::fake_http_server twilio(scripted({429, 503, 500}, "ID3 audio", served));
  auto got = fetch_recording(options(), twilio.base_url() + recording_path, dest);
  ASSERT_TRUE(got) << got.error().to_string();
  EXPECT_EQ(got->attempts, 4);
  EXPECT_EQ(sleeps.size(), 3u);
}

TEST_F(recording_fetch, refused_credentials_fail_at_once_and_leave_no_file) {
  for (int code : {401, 403}) {
    std::atomic<int> served{0};
    test::fake_http_server twilio(scripted({code}, "ID3 audio", served));
    auto got = fetch_recording(options(), twilio.base_url() + recording_path, dest);
    ASSERT_FALSE(got);
    EXPECT_EQ(got.error().code(), errc::invalid_argument);
    EXPECT_EQ(got.error().reason(), "media_refused");
    EXPECT_NE(got.error().message().find("HTTP " + std::to_string(code)), std::string::npos);
    EXPECT_EQ(got.error().message().find(token), std::string::npos);
    EXPECT_EQ(twilio.requests().size(), 1u);
    EXPECT_TRUE(sleeps.empty());
    expect_nothing_left();
  }
}

TEST_F(recording_fetch, a_recording_that_never_appears_gives_up_after_the_attempts) {
  test::fake_http_server twilio([](const test::fake_request&) { return test::fake_response{404, "{}"}; });
  auto got = fetch_recording(options(4), twilio.base_url() + recording_path, dest);
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code(), errc::io_error);
  EXPECT_EQ(got.error().reason(), "media_unavailable");
  EXPECT_NE(got.error().message().find("HTTP 404"), std::string::npos) << got.error().message();
  EXPECT_EQ(twilio.requests().size(), 4u);
  ASSERT_EQ(sleeps.size(), 3u);
  EXPECT_GE(sleeps[2], ms(4000));
  EXPECT_LE(sleeps[2], ms(4800));
  expect_nothing_left();
}

TEST_F(recording_fetch, a_body_over_max_bytes_is_refused_unretried_and_leaves_no_file) {
  std::atomic<int> served{0};
  test::fake_http_server twilio(scripted({}, audio_bytes(5000), served));
  auto o = options();
  o.max_bytes = 4999;
  auto got = fetch_recording(o, twilio.base_url() + recording_path, dest);
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code(), errc::io_error);
  EXPECT_EQ(got.error().reason(), "media_too_large");
  EXPECT_EQ(twilio.requests().size(), 1u);
  expect_nothing_left();

  o.max_bytes = 5000;  // exactly the limit is fine
  got = fetch_recording(o, twilio.base_url() + recording_path, dest);
  ASSERT_TRUE(got) << got.error().to_string();
  EXPECT_EQ(got->bytes, 5000u);
}

TEST_F(recording_fetch, an_unreachable_server_is_retried_and_reported_with_curls_error) {
  test::closed_port closed;
  auto got = fetch_recording(options(2), closed.base_url() + recording_path, dest);
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code(), errc::io_error);
  EXPECT_EQ(got.error().reason(), "media_unavailable");
  EXPECT_NE(got.error().message().find("after 2 attempts"), std::string::npos) << got.error().message();
  EXPECT_NE(got.error().message().find("onnect"), std::string::npos) << got.error().message();
  EXPECT_EQ(sleeps.size(), 1u);
  expect_nothing_left();
}

TEST_F(recording_fetch, a_failed_refetch_leaves_an_earlier_recording_in_place) {
  fs::create_directories(fs::path(dest).parent_path());
  std::ofstream(dest, std::ios::binary) << "earlier";
  test::fake_http_server twilio([](const test::fake_request&) { return test::fake_response{503, "{}"}; });
  auto got = fetch_recording(options(2), twilio.base_url() + recording_path, dest);
  ASSERT_FALSE(got);
  EXPECT_EQ(read_file(dest), "earlier");
  EXPECT_FALSE(fs::exists(dest + ".part"));
}

TEST_F(recording_fetch, a_redirect_to_another_host_is_followed_without_the_credentials) {
  test::fake_http_server cdn([](const test::fake_request&) {
    return test::fake_response{200, "cdn audio", "audio/mpeg"};
  });
  test::fake_http_server twilio([&](const test::fake_request&) {
    return test::fake_response{302, "", "text/plain", {{"Location", cdn.base_url() + "/signed/RE42.mp3?sig=x"}}};
  });
  auto got = fetch_recording(options(), twilio.base_url() + recording_path, dest);
  ASSERT_TRUE(got) << got.error().to_string();
  EXPECT_EQ(read_file(dest), "cdn audio");
  ASSERT_EQ(cdn.requests().size(), 1u);
  EXPECT_EQ(cdn.requests()[0].target, "/signed/RE42.mp3?sig=x");
  EXPECT_EQ(cdn.requests()[0].header("authorization"), "");
}

TEST_F(recording_fetch, bad_urls_and_options_are_refused_before_anything_is_sent) {
  std::atomic<int> served{0};
  test::fake_http_server twilio(scripted({}, "ID3 audio", served));
  auto check = [&](const std::string& url, const std::string& to, auto change) {
    auto o = options();
    change(o);
    auto got = fetch_recording(o, url, to);
    ASSERT_FALSE(got) << url;
    EXPECT_EQ(got.error().code(), errc::invalid_argument) << url;
    EXPECT_EQ(got.error().reason(), "invalid_request") << url;
  };
  auto same = [](media_options&) {};
  for (const std::string& url :
       std::vector<std::string>{"", "ftp://127.0.0.1/x.mp3", "file:///etc/passwd", "http://", "HTTP://x/y",
                                twilio.base_url() + "/a b.mp3", twilio.base_url() + "/x\r\nX-Evil: 1"})
    check(url, dest, same);
  std::string ok = twilio.base_url() + recording_path;
  check(ok, "", same);
  check(ok, dir.path() + "/", same);
  check(ok, dest, [](media_options& o) { o.attempts = 0; });
  check(ok, dest, [](media_options& o) { o.max_bytes = 0; });
  check(ok, dest, [](media_options& o) { o.account_sid = "AC:1"; });
  check(ok, dest, [](media_options& o) { o.auth_token = "tok\nen"; });
  EXPECT_EQ(served.load(), 0);
  expect_nothing_left();
}

TEST_F(recording_fetch, the_token_never_appears_in_an_error_message) {
  test::closed_port closed;
  test::fake_http_server echo([](const test::fake_request& r) {
    return test::fake_response{401, "bad credentials " + r.header("authorization") + " " + token};
  });
  std::vector<std::string> urls = {
      closed.base_url() + "/x.mp3", echo.base_url() + "/x.mp3",
      "http://" + sid + ":" + token + "@127.0.0.1:" + std::to_string(closed.port()) + "/x"};
  for (const auto& url : urls) {
    auto got = fetch_recording(options(2), url, dest);
    ASSERT_FALSE(got) << url;
    EXPECT_EQ(got.error().message().find(token), std::string::npos) << got.error().message();
    EXPECT_EQ(got.error().to_string().find(token), std::string::npos);
  }
}

TEST(media_backoff, doubles_with_at_most_20_percent_jitter_and_caps_at_30_seconds) {
  EXPECT_EQ(media_backoff(1000, 1, 0.0), ms(1000));
  EXPECT_EQ(media_backoff(1000, 2, 0.0), ms(2000));
  EXPECT_EQ(media_backoff(1000, 3, 0.5), ms(4400));
  EXPECT_EQ(media_backoff(1000, 3, 1.0), ms(4800));
  EXPECT_EQ(media_backoff(1000, 5, 1.0), ms(19200));
  EXPECT_EQ(media_backoff(1000, 6, 1.0), ms(30000));
  EXPECT_EQ(media_backoff(1000, 60, 0.0), ms(30000));
  EXPECT_EQ(media_backoff(0, 3, 1.0), ms(0));
}

}  // namespace
}  // namespace crmd::connectors
