#include "actors/tenant/tenant_snapshot.hpp"

namespace crmd::tenant {
namespace {

// 'H' since settings gained whatsapp_provider: a header under the old 'h'
// has the old layout and is ignored (the state is replayed, then the next
// snapshot writes 'H' with every row).
std::string header_key(const std::string& stream) { return stream + std::string("\0H", 2); }
std::string row_key(const std::string& stream, char tag, uint64_t n) {
  return stream + '\0' + tag + be64(n);
}

template <class T>
void put_rows(kv_batch& b, const std::string& stream, char tag, const std::set<uint64_t>& dirty,
              std::map<uint64_t, T>& table, std::string (*encode)(const T&)) {
  for (uint64_t n : dirty) b.put(cf::snapshots, row_key(stream, tag, n), encode(table[n]));
}

template <class T>
bool load_rows(kv_store& kv, const std::string& stream, char tag, std::map<uint64_t, T>& table,
               status (*decode)(std::string_view, T&)) {
  std::string lo = row_key(stream, tag, 0), hi = stream + '\0' + char(tag + 1);
  auto it = kv.scan(cf::snapshots, lo, hi);
  for (; it->valid(); it->next()) {
    auto key = it->key();
    if (key.size() != lo.size()) return false;
    if (!decode(it->value(), table[read_be64(key.substr(key.size() - 8))]).is_ok()) return false;
  }
  return it->error().is_ok();
}

}  // namespace

void add_snapshot(kv_batch& b, const std::string& stream, uint64_t version, state& s) {
  b.put(cf::snapshots, header_key(stream), be64(version) + encode_header(s));
  b.del(cf::snapshots, stream + std::string("\0h", 2));  // the pre-'H' header, if any
  put_rows(b, stream, 'p', s.dirty, s.prompts, encode_prompt);
  put_rows(b, stream, 'c', s.contacts.dirty, s.contacts.by_number, encode_contact);
  put_rows(b, stream, 't', s.work.dirty, s.work.tasks, encode_task);
  put_rows(b, stream, 'k', s.docs.dirty_contracts, s.docs.contracts, encode_contract);
  put_rows(b, stream, 'i', s.docs.dirty_invoices, s.docs.invoices, encode_invoice);
  put_rows(b, stream, 'd', s.deals.dirty, s.deals.by_number, encode_deal);
}

void clear_dirty(state& s) {
  s.dirty.clear();
  s.contacts.dirty.clear();
  s.work.dirty.clear();
  s.docs.dirty_contracts.clear();
  s.docs.dirty_invoices.clear();
  s.deals.dirty.clear();
}

bool load_snapshot(kv_store& kv, const std::string& stream, state& out, uint64_t& version) {
  std::string head;
  if (!kv.get(cf::snapshots, header_key(stream), &head).is_ok() || head.size() < 8) return false;
  state loaded;
  if (!decode_header(std::string_view(head).substr(8), loaded).is_ok()) return false;
  if (!load_rows(kv, stream, 'p', loaded.prompts, decode_prompt) ||
      !load_rows(kv, stream, 'c', loaded.contacts.by_number, decode_contact) ||
      !load_rows(kv, stream, 't', loaded.work.tasks, decode_task) ||
      !load_rows(kv, stream, 'k', loaded.docs.contracts, decode_contract) ||
      !load_rows(kv, stream, 'i', loaded.docs.invoices, decode_invoice) ||
      !load_rows(kv, stream, 'd', loaded.deals.by_number, decode_deal))
    return false;
  loaded.contacts.reindex();
  out = std::move(loaded);
  version = read_be64(head);
  return true;
}

}  // namespace crmd::tenant
