// The baseline for HTTP benchmarks: a plain RESTinio hello-world server with
// the same traits and thread count crmd's server uses, answering a small
// JSON body to every request. Usage: hello_server <port>
#include <restinio/all.hpp>

#include <csignal>
#include <cstdlib>

struct traits : restinio::default_traits_t {
  static constexpr bool use_connection_count_limiter = true;
};

int main(int argc, char** argv) {
  uint16_t port = argc > 1 ? static_cast<uint16_t>(std::atoi(argv[1])) : 18090;
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  auto server = restinio::run_async<traits>(
      restinio::own_io_context(),
      restinio::server_settings_t<traits>{}.address("127.0.0.1").port(port).request_handler([](auto req) {
        return req->create_response()
            .append_header(restinio::http_field::content_type, "application/json; charset=utf-8")
            .set_body(R"({"ok":true})")
            .done();
      }),
      2);
  int sig = 0;
  sigwait(&stop, &sig);
  server.reset();  // its destructor stops and joins; stopping twice would abort
  return 0;
}
