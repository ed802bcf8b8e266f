// Creating users from the command line and at start-up (bootstrap), with
// the store open in this process (no server running on it).
#pragma once

#include <string>

#include "events/status.hpp"

namespace crmd {
class runtime;
}

namespace crmd::cli {

struct new_user {
  std::string email, role, tenant, password;
};

// Hashes the password (on this thread: a CLI or start-up, never a server
// thread) and asks the registry as the operator; waits for the durable ack.
// Returns the new user id.
result<std::string> create_user_now(runtime& rt, const new_user& u, uint32_t kdf_iterations);

}  // namespace crmd::cli
