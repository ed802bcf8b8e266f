#include "storage/secret_store.hpp"

#include "storage/crypto.hpp"
#include "storage/kv.hpp"

namespace crmd::secrets {

std::string meta_key(std::string_view tenant, std::string_view name) {
  std::string k = "secret/";
  k += tenant;
  k += '/';
  k += name;
  return k;
}

result<std::string> seal(std::string_view box_key, std::string_view tenant, std::string_view name,
                         std::string_view plaintext) {
  if (box_key.size() != crypto::aes_key_size) return status{errc::invalid_argument, "the secrets key must be 32 bytes"};
  return crypto::seal(box_key, plaintext, meta_key(tenant, name));
}

result<std::optional<std::string>> read(kv_store& kv, std::string_view box_key, std::string_view tenant,
                                        std::string_view name) {
  std::string key = meta_key(tenant, name), sealed;
  auto s = kv.get(cf::meta, key, &sealed);
  if (s.code() == errc::not_found) return std::optional<std::string>{};
  if (!s) return s;
  std::string out;
  if (auto o = crypto::open_into(box_key, sealed, key, out); !o)
    return status{errc::corruption, "the secret " + key + " does not open with this secrets key"};
  return std::optional<std::string>{std::move(out)};
}

std::string hint(std::string_view secret) {
  return secret.size() <= 4 ? std::string(secret.size(), '*') : std::string(secret.substr(secret.size() - 4));
}

}  // namespace crmd::secrets
