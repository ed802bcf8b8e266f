// <data>/serve.json: how CLI sub-commands find a crmd serve running on the
// same data directory, to act through it (with the operator token) instead
// of opening the store a second time.
#pragma once

#include <optional>
#include <string>

#include "events/status.hpp"

namespace crmd::cli {

struct running_server {
  long pid = 0;
  std::string url;  // http://127.0.0.1:8080
};

// Written atomically once serve listens; removed when it stops cleanly.
status write_server_file(const std::string& data_dir, const running_server& s);
void remove_server_file(const std::string& data_dir);
// The server if the file exists and its process is alive (a file left by a
// killed server is ignored).
std::optional<running_server> find_server(const std::string& data_dir);

// GET `url` with the operator token; errc::io_error when unreachable.
result<std::string> operator_get(const running_server& s, const std::string& path, const std::string& token,
                                 long* http_status);

// Any method, with a JSON body (ignored for GET).
result<std::string> operator_request(const running_server& s, const std::string& method, const std::string& path,
                                     const std::string& token, const std::string& json_body, long* http_status);
// The operator token for `data_dir`: $CRMD_ADMIN_TOKEN, else <data_dir>/admin_token.
std::string operator_token(const std::string& data_dir);

}  // namespace crmd::cli
