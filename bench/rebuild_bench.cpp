// Rebuild and point-in-time benchmark (issue 8 item 10), loopback/disk only,
// stops by itself.
//
//   generate  a realistic log of N events (default 10M) over many tenants into
//             a RocksDB store through the real event_log append API (OS-buffered:
//             log_options::sync = false), then a full compaction
//   scan      the baseline: a raw rocksdb::Iterator over the "events" family;
//             beside it crmd's kv scan, event_log::scan_records and event_log::scan
//             (parse + CRC + decryption of subject-bound events)
//   contacts  the contacts view ("customers") alone rebuilt from position 0 by
//             rebuild_views() (what `crmd rebuild` runs) into a fresh store
//   all       every view (views::all()) rebuilt the same way, in one pass
//   whatif    the contacts view folded again by a projection_runner's
//             catch_up() (the incremental path) and compared key by key
//   pit       one tenant (100k events) replayed into scratch in-memory views up
//             to a position, for all views and for the contacts view alone:
//             full-log scans filtered by tenant, and index-driven reads (the
//             stream index; the audit view's per-tenant index)
// Rates are events of the whole log per second; every ratio is against the
// raw scan measured in the same run. Wall and process CPU time are printed
// (the machine is shared).
//
// Usage: rebuild_bench [--events N] [--tenants K] [--pit-events P] [--data-dir D]
//                      [--work-dir W] [--batch B] [--only phases] [--each-view] [--views a,b] [--memory MiB]
//                      [--no-compact] [--pit-runs R]
//   --data-dir D   reuse the store in D (skips generation); if D holds no
//                  store, generate into it and keep it for later runs
//   --only         comma list of scan,contacts,whatif,all,pit (default: all of them);
//                  also fetch: only the fetch what-if of the pit phase; mix:
//                  the share of each event type (untimed)
//   --memory MiB   the rebuild's memory budget (rebuild_options::memory_bytes)
//   --each-view    also rebuild every view alone (where the time of "all" goes)
//   --views a,b    the same for just these views (for profiling)
// Temporary directories (the generated store unless --data-dir, the rebuilt
// views) are made under W (default: the system temp dir) and removed at exit,
// also when the benchmark fails (bench/rebuild_bench.sh also removes W).
#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/table.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "events/call_events.hpp"
#include "events/codec.hpp"
#include "events/identity_events.hpp"
#include "events/record.hpp"
#include "events/tenant_events.hpp"
#include "events/whatsapp_events.hpp"
#include "projections/runner.hpp"
#include "projections/views.hpp"
#include "replay/as_of.hpp"
#include "storage/crypto.hpp"
#include "storage/event_log.hpp"
#include "storage/kv.hpp"
#include "storage/log_reader.hpp"
#include "storage/rocks_kv.hpp"

using namespace crmd;
using clk = std::chrono::steady_clock;
namespace fs = std::filesystem;

namespace {

double seconds_since(clk::time_point t) { return std::chrono::duration<double>(clk::now() - t).count(); }

// CPU time of the whole process (all threads, RocksDB's included): on a
// shared machine it tells waiting for a core apart from work.
double cpu_now() {
  timespec ts{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

// Scratch directories still to remove, also when the benchmark fails.
std::vector<std::string>& scratch_paths() {
  static std::vector<std::string> paths;
  return paths;
}

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "rebuild_bench: %s\n", what.c_str());
  std::error_code ec;
  for (auto& p : scratch_paths()) fs::remove_all(p, ec);
  std::_Exit(1);
}

std::string loadavg() {
  char buf[128] = {0};
  if (FILE* f = std::fopen("/proc/loadavg", "r")) {
    if (!std::fgets(buf, sizeof buf, f)) buf[0] = 0;
    std::fclose(f);
  }
  std::string s(buf);
  while (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

uint64_t dir_bytes(const std::string& path) {
  uint64_t n = 0;
  std::error_code ec;
  for (auto& e : fs::recursive_directory_iterator(path, ec))
    if (e.is_regular_file(ec)) n += e.file_size(ec);
  return n;
}

// A directory removed with its contents when the benchmark ends.
struct scratch_dir {
  explicit scratch_dir(const std::string& parent, const char* name) {
    std::string tmpl = parent + "/" + name + "-XXXXXX";
    if (!::mkdtemp(tmpl.data())) die("cannot make a directory under " + parent);
    path = tmpl;
    scratch_paths().push_back(path);
  }
  ~scratch_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
    auto& v = scratch_paths();
    v.erase(std::remove(v.begin(), v.end(), path), v.end());
  }
  scratch_dir(const scratch_dir&) = delete;
  scratch_dir& operator=(const scratch_dir&) = delete;
  std::string path;
};

// ---------------------------------------------------------------------------
// Generation: per tenant a small state machine that issues the commands a CRM
// sees (leads, notes, tasks, deals, invoices, WhatsApp messages, calls), each
// one event in the stream and with the subject the real deciders give it.

const char* words[] = {
    "call",   "back",    "tomorrow", "price",   "offer",    "meeting", "client",  "asked",    "about",   "the",
    "new",    "contract", "delivery", "next",   "week",     "please",  "send",    "invoice",  "thanks",  "for",
    "quote",  "discount", "payment",  "bank",   "transfer", "order",   "status",  "shipping", "address", "update",
    "phone",  "number",   "interested", "demo", "product",  "service", "support", "ticket",   "open",    "closed",
    "urgent", "follow",   "up",       "monday", "friday",   "morning", "evening", "office",   "visit",   "site",
    "team",   "manager",  "approved", "budget", "renewal",  "trial",   "plan",    "premium",  "basic",   "yes",
    "no",     "maybe",    "later",    "today",  "confirm",  "cancel",  "reschedule", "time",  "works",   "good"};
constexpr size_t word_count = sizeof(words) / sizeof(words[0]);

struct rng_t {
  std::mt19937_64 g{20261201};
  uint64_t below(uint64_t n) { return n ? g() % n : 0; }
  double unit() { return (g() >> 11) * (1.0 / 9007199254740992.0); }
  bool chance(double p) { return unit() < p; }
  std::string text(size_t min_len, size_t max_len) {
    size_t want = min_len + below(max_len - min_len + 1);
    std::string s;
    while (s.size() < want) {
      if (!s.empty()) s += ' ';
      s += words[below(word_count)];
    }
    return s;
  }
  std::string hex(size_t n) {
    static const char* d = "0123456789abcdef";
    std::string s(n, '0');
    for (auto& c : s) c = d[below(16)];
    return s;
  }
};

template <class V, class E>
new_event make(const E& e, std::string subject = {}) {
  auto enc = codec::encode(V{e});
  return new_event{enc.type, enc.schema_version, std::move(enc.payload), std::move(subject)};
}

struct pending_call {
  std::string sid, contact;
  bool answered = false;
  int step = 1;  // next event to append
};

struct tenant_gen {
  std::string id;
  int index = 0;
  uint64_t leads = 0, notes = 0, tasks = 0, deals = 0, invoices = 0, msgs = 0, requests = 0;
  std::vector<uint8_t> kind;  // per lead n-1: 0 lead, 1 customer, 2 deleted
  std::vector<uint64_t> customers, open_tasks, open_invoices;
  std::deque<pending_call> calls;
  std::deque<std::pair<std::string, std::string>> unacked;  // (jid, message id) of sent messages

  std::string stream() const { return id + "/tenant/" + id; }
  std::string subject(const std::string& contact) const { return id + "/lead/" + contact; }
  std::string phone(uint64_t n) const {
    char b[32];
    std::snprintf(b, sizeof b, "+9725%02d%06llu", index % 100, (unsigned long long)(n % 1000000));
    return b;
  }
  // A live contact (lead or customer), mostly a recent one.
  std::optional<uint64_t> contact(rng_t& r) {
    if (leads == 0) return std::nullopt;
    for (int tries = 0; tries < 4; ++tries) {
      uint64_t n = r.chance(0.7) ? leads - r.below(std::min<uint64_t>(leads, 2000)) : 1 + r.below(leads);
      if (kind[n - 1] != 2) return n;
    }
    return std::nullopt;
  }

  append_request user_request(rng_t& r, new_event e) {
    append_request q;
    q.stream = stream();
    q.events.push_back(std::move(e));
    q.meta.causer = "u" + std::to_string(1 + r.below(20));
    q.meta.request_id = "req-" + r.hex(16);
    q.meta.client = "198.51.100." + std::to_string(1 + r.below(250));
    return q;
  }

  append_request new_lead(rng_t& r) {
    uint64_t n = ++leads;
    kind.push_back(0);
    std::string id = "L" + std::to_string(n);
    static const char* sources[] = {"manual", "phone", "whatsapp", "import"};
    ev::lead_created c{id, "Lead " + r.text(5, 20), phone(n), "lead" + std::to_string(n) + "@example.com",
                       sources[r.below(4)]};
    return user_request(r, make<ev::tenant_event>(c, subject(id)));
  }

  // One command of the tenant: exactly one event.
  append_request next(rng_t& r) {
    // Weights in percent of the tenant's events (roughly).
    double x = r.unit() * 100;
    auto c = contact(r);
    if (!c || x < 6) return new_lead(r);
    std::string cid = "L" + std::to_string(*c);
    if ((x -= 6) < 8) {  // lead_updated
      ev::lead_updated u;
      u.lead_id = cid;
      static const char* statuses[] = {"contacted", "qualified", "proposal", "negotiation", "lost"};
      if (r.chance(0.6)) u.status = statuses[r.below(5)];
      if (r.chance(0.3)) u.email = "contact" + std::to_string(*c) + "@mail.example.org";
      if (r.chance(0.2)) u.name = "Lead " + r.text(5, 20);
      if (!u.status && !u.email && !u.name) u.status = "contacted";
      return user_request(r, make<ev::tenant_event>(u, subject(cid)));
    }
    if ((x -= 8) < 1.5) {  // lead_converted
      if (kind[*c - 1] != 0) return new_lead(r);
      kind[*c - 1] = 1;
      customers.push_back(*c);
      return user_request(r, make<ev::tenant_event>(ev::lead_converted{cid}));
    }
    if ((x -= 1.5) < 0.2) {  // lead_deleted
      kind[*c - 1] = 2;
      return user_request(r, make<ev::tenant_event>(ev::lead_deleted{cid}));
    }
    if ((x -= 0.2) < 14) {  // note_added
      ev::note_added n{"N" + std::to_string(++notes), cid, r.text(40, 400)};
      return user_request(r, make<ev::tenant_event>(n, subject(cid)));
    }
    if ((x -= 14) < 5) {  // task_created
      uint64_t t = ++tasks;
      open_tasks.push_back(t);
      ev::task_created tc{"T" + std::to_string(t), cid, r.text(10, 60),
                          r.chance(0.7) ? int64_t(1'800'000'000'000'000 + r.below(1'000'000'000'000)) : 0};
      return user_request(r, make<ev::tenant_event>(tc, subject(cid)));
    }
    if ((x -= 5) < 4) {  // task_completed / task_rescheduled
      if (open_tasks.empty()) return new_lead(r);
      size_t i = r.below(open_tasks.size());
      std::string tid = "T" + std::to_string(open_tasks[i]);
      if (x < 3) {
        open_tasks[i] = open_tasks.back();
        open_tasks.pop_back();
        return user_request(r, make<ev::tenant_event>(ev::task_completed{tid}));
      }
      ev::task_rescheduled rs{tid, int64_t(1'800'000'000'000'000 + r.below(1'000'000'000'000)), r.chance(0.5)};
      return user_request(r, make<ev::tenant_event>(rs));
    }
    if ((x -= 4) < 2) {  // deals
      if (x < 1 || deals == 0) {
        ev::deal_created d{"D" + std::to_string(++deals), cid, r.text(10, 40), "ILS", "new",
                           int64_t(1000 + r.below(10'000'000)), 0};
        return user_request(r, make<ev::tenant_event>(d));
      }
      ev::deal_updated u;
      u.deal_id = "D" + std::to_string(1 + r.below(deals));
      static const char* stages[] = {"qualified", "proposal", "negotiation"};
      u.stage = stages[r.below(3)];
      if (r.chance(0.3)) u.amount = int64_t(1000 + r.below(10'000'000));
      return user_request(r, make<ev::tenant_event>(u));
    }
    if ((x -= 2) < 0.8) {  // invoices
      if (x < 0.5 || open_invoices.empty()) {
        uint64_t owner = customers.empty() ? *c : customers[r.below(customers.size())];
        ev::invoice_created inv;
        inv.invoice_id = "I" + std::to_string(++invoices);
        inv.customer_id = "L" + std::to_string(owner);
        inv.currency = "ILS";
        size_t lines = 1 + r.below(3);
        for (size_t i = 0; i < lines; ++i) {
          inv.line_descriptions.push_back(r.text(10, 40));
          inv.line_quantities.push_back(int64_t(1 + r.below(5)));
          inv.line_unit_amounts.push_back(int64_t(100 + r.below(100000)));
          inv.total += inv.line_quantities.back() * inv.line_unit_amounts.back();
        }
        open_invoices.push_back(invoices);
        return user_request(r, make<ev::tenant_event>(inv));
      }
      size_t i = r.below(open_invoices.size());
      std::string iid = "I" + std::to_string(open_invoices[i]);
      open_invoices[i] = open_invoices.back();
      open_invoices.pop_back();
      ev::invoice_paid p{iid, "stripe", "pi_" + r.hex(24), "evt_" + r.hex(24), int64_t(100 + r.below(100000)), "ILS"};
      append_request q;
      q.stream = stream();
      q.events.push_back(make<ev::tenant_event>(p));
      q.meta.causer = "stripe";
      q.idempotency_key = "stripe/" + p.provider_event_id;
      return q;
    }
    if ((x -= 0.8) < 42) {  // WhatsApp: messages (32) and their statuses (10)
      append_request q;
      q.stream = id + "/wamsg/s1";
      q.meta.causer = "bridge";
      if (x >= 32 && !unacked.empty()) {
        auto [jid, mid] = unacked.front();
        unacked.pop_front();
        std::string st = r.chance(0.5) ? "delivered" : "read";
        q.events.push_back(make<ev::whatsapp_event>(ev::wa_message_status{"s1", jid, mid, st}));
        q.idempotency_key = "wa/" + id + "/s1/" + jid + "/" + mid + "/status/" + st;
        return q;
      }
      ev::wa_message_received m;
      m.session = "s1";
      m.remote_jid = phone(*c).substr(1) + "@s.whatsapp.net";
      m.message_id = "3EB0" + r.hex(16);
      m.from_me = r.chance(0.35);
      m.history = r.chance(0.03);
      m.contact_id = cid;
      m.push_name = "Lead " + std::to_string(*c);
      if (r.chance(0.1)) {
        m.media_type = "image";
        m.mimetype = "image/jpeg";
        m.size = int64_t(20000 + r.below(2'000'000));
        m.caption = r.text(0, 40);
      } else {
        m.text = r.text(5, 300);
      }
      m.sent_at = 1'760'000'000 + int64_t(++msgs);
      if (m.from_me) {
        unacked.emplace_back(m.remote_jid, m.message_id);
        if (unacked.size() > 1000) unacked.pop_front();
      }
      q.idempotency_key = "wa/" + id + "/s1/" + m.remote_jid + "/" + (m.from_me ? "1" : "0") + "/" + m.message_id;
      q.events.push_back(make<ev::whatsapp_event>(m, subject(cid)));
      return q;
    }
    // Calls (~18): a new call, or the next step of one in progress, so that
    // calls interleave with everything else as Twilio's callbacks do.
    append_request q;
    q.meta.causer = "twilio";
    if (calls.empty() || (calls.size() < 50 && r.chance(0.2))) {
      pending_call p{"CA" + r.hex(32), cid, r.chance(0.65), 1};
      bool inbound = r.chance(0.7);
      ev::call_started s{p.sid, inbound ? phone(*c) : "+97236000000", inbound ? "+97236000000" : phone(*c),
                         inbound ? "inbound" : "outbound-api", cid, "ringing"};
      q.stream = id + "/call/" + p.sid;
      q.events.push_back(make<ev::call_event>(s, subject(cid)));
      calls.push_back(std::move(p));
      return q;
    }
    size_t i = r.below(std::min<size_t>(calls.size(), 8));
    auto& p = calls[i];
    q.stream = id + "/call/" + p.sid;
    std::string subj = subject(p.contact);
    std::string rec = "RE" + p.sid.substr(2);
    bool done = false;
    if (!p.answered) {
      q.events.push_back(make<ev::call_event>(ev::call_status_changed{p.sid, "no-answer", 2, 0}, subj));
      done = true;
    } else {
      switch (p.step) {
        case 1: q.events.push_back(make<ev::call_event>(ev::call_status_changed{p.sid, "in-progress", 1, -1}, subj)); break;
        case 2:
          q.events.push_back(make<ev::call_event>(
              ev::call_status_changed{p.sid, "completed", 2, int64_t(10 + r.below(900))}, subj));
          break;
        case 3:
          q.events.push_back(make<ev::call_event>(
              ev::recording_available{p.sid, rec, "https://api.twilio.com/2010-04-01/Accounts/AC/Recordings/" + rec,
                                      int64_t(10 + r.below(900))},
              subj));
          break;
        case 4:
          q.events.push_back(make<ev::call_event>(
              ev::recording_downloaded{p.sid, rec, "recordings/" + id + "/" + p.sid + "-" + rec + ".mp3", r.hex(64),
                                       int64_t(100000 + r.below(5'000'000)), 1},
              subj));
          break;
        case 5:
          q.events.push_back(make<ev::call_event>(
              ev::call_transcribed{p.sid, r.text(300, 2000), "he", "whisper", {}}, subj));
          break;
        default:
          q.events.push_back(make<ev::call_event>(ev::call_summarized{p.sid, r.text(100, 400)}, subj));
          done = true;
      }
      ++p.step;
    }
    if (done) calls.erase(calls.begin() + i);
    return q;
  }
};

uint64_t generate(event_log& log, uint64_t total, int tenants, uint64_t pit_events) {
  rng_t r;
  std::vector<tenant_gen> gens(tenants);
  std::atomic<int64_t> inflight{0};
  std::atomic<bool> failed{false};
  uint64_t submitted = 0;
  auto submit = [&](append_request q) {
    while (inflight.load(std::memory_order_relaxed) > 20000) std::this_thread::sleep_for(std::chrono::microseconds(200));
    inflight.fetch_add(1, std::memory_order_relaxed);
    submitted += q.events.size();
    log.append_async(std::move(q), [&](result<append_result> res) {
      if (!res) {
        std::fprintf(stderr, "append failed: %s\n", res.error().to_string().c_str());
        failed = true;
      }
      inflight.fetch_sub(1, std::memory_order_relaxed);
    });
  };
  auto start = clk::now();
  // Each tenant: created in the registry, then its settings and pipeline.
  for (int t = 0; t < tenants; ++t) {
    char name[16];
    std::snprintf(name, sizeof name, "t%03d", t);
    gens[t].id = name;
    gens[t].index = t;
    append_request q;
    q.stream = "system/registry/tenants";
    q.events.push_back(make<ev::registry_event>(ev::tenant_created{name, "Tenant " + std::string(name), {}}));
    q.meta.causer = "admin";
    submit(std::move(q));
    submit(gens[t].user_request(r, make<ev::tenant_event>(ev::settings_changed{"IL", "he", "Asia/Jerusalem", "baileys"})));
    submit(gens[t].user_request(
        r, make<ev::tenant_event>(ev::pipeline_changed{{"new", "qualified", "proposal", "negotiation"}})));
  }
  // Tenant t000 gets pit_events of the log (at least its even share); the
  // others share the rest evenly. Tenants interleave at random.
  double pit_share = tenants > 1 ? std::max(1.0 / tenants, std::min(1.0, double(pit_events) / double(total))) : 1.0;
  uint64_t report = 1'000'000;
  while (submitted < total && !failed) {
    int t = r.chance(pit_share) ? 0 : 1 + int(r.below(tenants - 1));
    submit(gens[t].next(r));
    if (submitted >= report) {
      std::fprintf(stderr, "  generated %llu events, %.1f s\n", (unsigned long long)submitted, seconds_since(start));
      report += 1'000'000;
    }
  }
  while (inflight.load() > 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  if (failed) die("generation failed");
  return submitted;
}

// crmd's own table options (storage/rocks_kv.cpp), so compacted files are what
// crmd itself would write (bloom filters included).
rocksdb::ColumnFamilyOptions crmd_like_cf_options() {
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = rocksdb::NewLRUCache(32u << 20);
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  rocksdb::ColumnFamilyOptions base;
  base.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  base.compression = rocksdb::kLZ4Compression;
  base.write_buffer_size = 16u << 20;
  base.max_write_buffer_number = 3;
  return base;
}

// Flushes and fully compacts every family, so that every measurement reads
// settled files with no background work running (as log_bench does).
void compact_all(const std::string& path) {
  std::vector<std::string> names;
  rocksdb::DBOptions dbo;
  dbo.IncreaseParallelism(2);
  dbo.max_open_files = 256;
  if (!rocksdb::DB::ListColumnFamilies(dbo, path, &names).ok()) die("cannot list column families");
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  auto cfo = crmd_like_cf_options();
  for (auto& n : names) cfs.push_back({n, cfo});
  std::vector<rocksdb::ColumnFamilyHandle*> hs;
  rocksdb::DB* db = nullptr;
  if (!rocksdb::DB::Open(dbo, path, cfs, &hs, &db).ok()) die("cannot open for compaction");
  for (auto* h : hs) {
    db->Flush({}, h);
    rocksdb::CompactRangeOptions co;
    co.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForceOptimized;
    db->CompactRange(co, h, nullptr, nullptr);
  }
  for (auto* h : hs) db->DestroyColumnFamilyHandle(h);
  delete db;
}

// ---------------------------------------------------------------------------
// Scans.

struct scan_result {
  uint64_t events = 0, bytes = 0;
  double secs = 0, cpu = 0;
  double rate() const { return events / secs; }
};

// A read-only open of a store's files straight through RocksDB, with every
// family opened with `options`; `events` is the events family's handle.
struct raw_store {
  rocksdb::DB* db = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> hs;
  rocksdb::ColumnFamilyHandle* events = nullptr;
  raw_store(const std::string& path, const rocksdb::ColumnFamilyOptions& options) {
    std::vector<std::string> names;
    rocksdb::DBOptions dbo;
    if (!rocksdb::DB::ListColumnFamilies(dbo, path, &names).ok()) die("cannot list column families");
    std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
    for (auto& n : names) cfs.push_back({n, options});
    if (!rocksdb::DB::OpenForReadOnly(dbo, path, cfs, &hs, &db).ok()) die("cannot open read-only");
    for (size_t i = 0; i < names.size(); ++i)
      if (names[i] == "events") events = hs[i];
  }
  ~raw_store() {
    for (auto* h : hs) db->DestroyColumnFamilyHandle(h);
    delete db;
  }
  raw_store(const raw_store&) = delete;
  raw_store& operator=(const raw_store&) = delete;
};

// The baseline: a plain rocksdb::Iterator over the "events" family of a
// read-only open of the same files, nothing else.
scan_result raw_rocks_scan(const std::string& path) {
  raw_store raw(path, rocksdb::ColumnFamilyOptions());
  auto* db = raw.db;
  auto* events = raw.events;
  scan_result out;
  auto start = clk::now();
  double cpu0 = cpu_now();
  {
    rocksdb::ReadOptions ro;
    ro.readahead_size = 2u << 20;  // as crmd's bulk scans
    ro.fill_cache = false;         // as crmd's bulk scans: the fastest plain iteration
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro, events));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      out.bytes += it->value().size();
      ++out.events;
    }
    if (!it->status().ok()) die("raw scan: " + it->status().ToString());
  }
  out.secs = seconds_since(start);
  out.cpu = cpu_now() - cpu0;
  return out;
}

scan_result kv_scan(kv_store& kv) {
  scan_result out;
  auto start = clk::now();
  double cpu0 = cpu_now();
  auto it = kv.scan_bulk(cf::events, "", "");
  for (; it->valid(); it->next()) {
    out.bytes += it->value().size();
    ++out.events;
  }
  if (auto s = it->error(); !s) die(s.to_string());
  out.secs = seconds_since(start);
  out.cpu = cpu_now() - cpu0;
  return out;
}

scan_result records_scan(event_log& log) {
  scan_result out;
  auto start = clk::now();
  double cpu0 = cpu_now();
  auto s = log.scan_records(1, [&](uint64_t, std::string_view v) {
    out.bytes += v.size();
    ++out.events;
    return true;
  });
  if (!s) die(s.to_string());
  out.secs = seconds_since(start);
  out.cpu = cpu_now() - cpu0;
  return out;
}

scan_result log_scan(event_log& log, uint64_t* encrypted) {
  scan_result out;
  *encrypted = 0;
  auto start = clk::now();
  double cpu0 = cpu_now();
  auto s = log.scan(1, [&](const log_entry& e) {
    out.bytes += e.payload.size();
    *encrypted += e.record.encrypted();
    ++out.events;
    return true;
  });
  if (!s) die(s.to_string());
  out.secs = seconds_since(start);
  out.cpu = cpu_now() - cpu0;
  return out;
}

// ---------------------------------------------------------------------------
// Rebuilds into a fresh RocksDB store for the projections keyspace (crmd's
// own options): rebuild_views() as `crmd rebuild` runs it (folds in memory,
// writes sorted, flushes), or, as the reference, a projection_runner's
// catch_up() from position 0 (the incremental path: batches of
// runner_options::batch_events, each written with its checkpoints), then a
// flush of the projections family.

struct rebuild_result {
  double catch_up_secs = 0, flush_secs = 0, cpu = 0;
  uint64_t position = 0, store_bytes = 0;
  double rate(uint64_t events) const { return events / (catch_up_secs + flush_secs); }
};

std::shared_ptr<kv_store> open_views_store(const std::string& dir) {
  rocks_options ro;
  ro.path = dir;
  auto kv = open_rocks_kv(ro);
  if (!kv) die(kv.error().to_string());
  return std::move(*kv);
}

size_t rebuild_memory_mib = 0;  // --memory MiB: rebuild_options::memory_bytes (0: its default)

rebuild_result rebuild(event_log& log, std::vector<std::unique_ptr<projection>> views, const std::string& dir,
                       std::shared_ptr<kv_store>* keep = nullptr) {
  auto store = open_views_store(dir);
  rebuild_result out;
  std::vector<projection*> raw;
  for (auto& v : views) raw.push_back(v.get());
  auto start = clk::now();
  double cpu0 = cpu_now();
  rebuild_options ro;
  if (rebuild_memory_mib) ro.memory_bytes = rebuild_memory_mib << 20;
  if (auto s = rebuild_views(log, *store, raw, ro); !s) die("rebuild_views: " + s.to_string());
  out.catch_up_secs = seconds_since(start);  // the flush is inside rebuild_views
  out.cpu = cpu_now() - cpu0;
  out.position = UINT64_MAX;
  for (auto* v : raw) {
    std::string c;
    if (!store->get(cf::projections, checkpoint_key(v->name()), &c).is_ok() || c.size() != 8)
      die(std::string("no checkpoint for ") + v->name());
    out.position = std::min(out.position, read_be64(c));
  }
  out.store_bytes = dir_bytes(dir);
  if (keep) *keep = store;
  return out;
}

rebuild_result incremental(event_log& log, std::vector<std::unique_ptr<projection>> views, const std::string& dir,
                           size_t batch, std::shared_ptr<kv_store>* keep = nullptr) {
  auto store = open_views_store(dir);
  rebuild_result out;
  double cpu0 = 0;
  {
    runner_options o;
    o.batch_events = batch;
    o.sync = false;  // unlogged (the default): views can be folded again
    projection_runner runner(log, store, std::move(views), o);
    auto start = clk::now();
    cpu0 = cpu_now();
    if (auto s = runner.catch_up(); !s) die("catch_up: " + s.to_string());
    out.catch_up_secs = seconds_since(start);
    for (auto& [name, st] : runner.views())
      if (!st.error.empty()) die("view " + name + " stopped: " + st.error);
    out.position = runner.position();
  }
  auto start = clk::now();
  if (auto s = store->flush(cf::projections); !s) die(s.to_string());
  out.flush_secs = seconds_since(start);
  out.cpu = cpu_now() - cpu0;
  out.store_bytes = dir_bytes(dir);
  if (keep) *keep = store;
  return out;
}

// ---------------------------------------------------------------------------
// Point in time: scratch views in memory, fed one tenant's events.

using mem_map = std::map<std::string, std::string, std::less<>>;

class mem_txn : public view_txn {
 public:
  mem_txn(mem_map& m, const std::string& prefix) : m_(m), prefix_(prefix) {}
  std::optional<std::string> get(std::string_view key) override {
    auto it = m_.find(full(key));
    if (it == m_.end()) return std::nullopt;
    return it->second;
  }
  void put(std::string_view key, std::string_view value) override { m_[full(key)] = std::string(value); }
  void del(std::string_view key) override {
    auto it = m_.find(full(key));
    if (it != m_.end()) m_.erase(it);
  }
  std::optional<std::pair<std::string, std::string>> last(std::string_view lower, std::string_view upper) override {
    std::string lo = full(lower);
    auto it = m_.lower_bound(full(upper));
    if (it == m_.begin()) return std::nullopt;
    --it;
    if (it->first < lo) return std::nullopt;
    return std::make_pair(it->first.substr(prefix_.size()), it->second);
  }

 private:
  const std::string& full(std::string_view key) {
    buf_.assign(prefix_);
    buf_.append(key);
    return buf_;
  }
  mem_map& m_;
  const std::string& prefix_;
  std::string buf_;
};

// The views to replay: views::all(), or a named subset.
std::vector<std::unique_ptr<projection>> make_views(const std::vector<std::string>& names) {
  if (names.empty()) return views::all();
  std::vector<std::unique_ptr<projection>> v;
  for (auto& n : names) v.push_back(views::by_name(n));
  return v;
}

struct scratch_views {
  std::vector<std::unique_ptr<projection>> views;
  std::vector<std::string> prefixes;
  mem_map kv;
  uint64_t applied = 0;
  explicit scratch_views(const std::vector<std::string>& names) : views(make_views(names)) {
    for (auto& v : views) prefixes.push_back(view_prefix(v->name()));
  }
  void apply(const log_entry& e) {
    for (size_t i = 0; i < views.size(); ++i) {
      mem_txn t(kv, prefixes[i]);
      if (auto s = views[i]->apply(e, t); !s)
        die(std::string("view ") + views[i]->name() + " at " + std::to_string(e.record.position) + ": " + s.to_string());
    }
    ++applied;
  }
};

// Parses, checks and decrypts one stored record, then applies it.
struct record_applier {
  log_reader keys;  // a fresh subject-key cache: a PIT query starts cold
  std::string plain, key;
  record_view rec;
  explicit record_applier(std::shared_ptr<kv_store> kv) : keys(std::move(kv)) {}
  void apply(uint64_t pos, std::string_view stored, scratch_views& sv) {
    if (auto s = parse_record_into(stored, rec); !s) die(s.to_string());
    if (rec.position != pos) die("record claims another position");
    bool erased = false;
    std::string_view payload = rec.payload;
    if (rec.encrypted()) {
      bool found = false;
      if (auto s = keys.read_key(rec.subject, key, found); !s) die(s.to_string());
      erased = !found;
      if (found) {
        if (auto s = crypto::open_into(key, rec.payload, rec.subject, plain); !s) die(s.to_string());
        payload = plain;
      } else {
        payload = {};
      }
    }
    sv.apply(log_entry{rec, payload, erased});
  }
};

struct pit_result {
  double secs = 0, index_secs = 0, fetch_secs = 0, apply_secs = 0;
  uint64_t events = 0;
  mem_map kv;
};

// (a) The log has no tenant index: event_log::scan (which decrypts every
// subject-bound event of every tenant) filtered by tenant.
pit_result pit_log_scan(event_log& log, const std::vector<std::string>& names, const std::string& tenant,
                        uint64_t upto) {
  pit_result out;
  scratch_views sv(names);
  auto start = clk::now();
  auto s = log.scan(1, [&](const log_entry& e) {
    if (e.record.position > upto) return false;
    if (e.record.tenant == tenant) sv.apply(e);
    return true;
  });
  if (!s) die(s.to_string());
  out.secs = seconds_since(start);
  out.events = sv.applied;
  out.kv = std::move(sv.kv);
  return out;
}

// (b) The best a full scan can do: read every stored record, look at its
// tenant without the CRC, and check, decrypt and apply only the tenant's.
pit_result pit_record_scan(std::shared_ptr<kv_store> kv, const std::vector<std::string>& names,
                           const std::string& tenant, uint64_t upto) {
  pit_result out;
  scratch_views sv(names);
  record_applier ra(kv);
  record_view peek;
  auto start = clk::now();
  auto it = kv->scan_bulk(cf::events, "", be64(upto + 1));
  for (; it->valid(); it->next()) {
    if (!parse_record_into(it->value(), peek, false)) die("unparsable record");
    if (peek.tenant != tenant) continue;
    ra.apply(read_be64(it->key()), it->value(), sv);
  }
  if (auto s = it->error(); !s) die(s.to_string());
  out.secs = seconds_since(start);
  out.events = sv.applied;
  out.kv = std::move(sv.kv);
  return out;
}

// Fetches `positions` (ascending) one by one and applies them.
void fetch_and_apply(std::shared_ptr<kv_store> kv, const std::vector<std::string>& names,
                     const std::vector<uint64_t>& positions, pit_result& out) {
  scratch_views sv(names);
  record_applier ra(kv);
  std::string stored;
  for (uint64_t pos : positions) {
    auto t0 = clk::now();
    if (auto s = kv->get(cf::events, be64(pos), &stored); !s) die("position " + std::to_string(pos) + ": " + s.to_string());
    auto t1 = clk::now();
    out.fetch_secs += std::chrono::duration<double>(t1 - t0).count();
    ra.apply(pos, stored, sv);
    out.apply_secs += seconds_since(t1);
  }
  out.events = sv.applied;
  out.kv = std::move(sv.kv);
}

// (c) The stream index: a stream is "<tenant>/<kind>/<id>", so one range of
// the streams family lists the positions of all the tenant's streams; with
// `stream` set, just that stream's.
pit_result pit_stream_index(std::shared_ptr<kv_store> kv, const std::vector<std::string>& names,
                            const std::string& tenant, const std::string& stream, uint64_t upto) {
  pit_result out;
  auto start = clk::now();
  std::vector<uint64_t> positions;
  std::string lo = stream.empty() ? tenant + "/" : stream + '\0';
  std::string hi = stream.empty() ? tenant + "0" : stream + '\1';  // '0' follows '/'
  auto it = kv->scan(cf::streams, lo, hi);
  for (; it->valid(); it->next()) {
    if (it->value().size() != 8) die("malformed stream index entry");
    uint64_t pos = read_be64(it->value());
    if (pos <= upto) positions.push_back(pos);
  }
  if (auto s = it->error(); !s) die(s.to_string());
  std::sort(positions.begin(), positions.end());
  out.index_secs = seconds_since(start);
  fetch_and_apply(kv, names, positions, out);
  out.secs = seconds_since(start);
  return out;
}

// (d) The audit view's per-tenant index v/audit/t/<tenant>/<~pos> (newest first).
pit_result pit_audit_index(std::shared_ptr<kv_store> log_kv, kv_store& views_kv, const std::vector<std::string>& names,
                           const std::string& tenant, uint64_t upto) {
  pit_result out;
  auto start = clk::now();
  std::vector<uint64_t> positions;
  std::string lo = view_prefix("audit") + "t/" + tenant + "/", hi = lo;
  hi.back() = char(hi.back() + 1);
  auto it = views_kv.scan(cf::projections, lo, hi);
  for (; it->valid(); it->next()) {
    auto k = it->key();
    if (k.size() != lo.size() + 8) die("malformed audit index key");
    uint64_t pos = ~read_be64(k.substr(lo.size()));
    if (pos <= upto) positions.push_back(pos);
  }
  if (auto s = it->error(); !s) die(s.to_string());
  std::reverse(positions.begin(), positions.end());
  out.index_secs = seconds_since(start);
  fetch_and_apply(log_kv, names, positions, out);
  out.secs = seconds_since(start);
  return out;
}

// The scratch views' keys of `tenant`'s own keyspaces (v/<view>/<tenant>/...)
// against the rebuilt store's: the same replay gives the same bytes.
bool same_tenant_keys(const mem_map& scratch, kv_store& rebuilt, const std::vector<std::string>& names,
                      const std::string& tenant, uint64_t* compared) {
  *compared = 0;
  for (const char* v : {"prompts", "contacts", "tasks", "timeline", "documents", "calls", "messages"}) {
    if (!names.empty() && std::find(names.begin(), names.end(), v) == names.end()) continue;
    std::string lo = view_prefix(v) + tenant + "/", hi = lo;
    hi.back() = char(hi.back() + 1);
    auto a = scratch.lower_bound(lo);
    auto it = rebuilt.scan(cf::projections, lo, hi);
    for (; it->valid(); it->next(), ++a, ++*compared)
      if (a == scratch.end() || a->first != it->key() || a->second != it->value()) return false;
    if (a != scratch.end() && a->first < hi) return false;
  }
  return true;
}

// Two stores' projections families hold the same keys and values.
bool same_projections(kv_store& a, kv_store& b, uint64_t* compared) {
  *compared = 0;
  auto x = a.scan(cf::projections, "", ""), y = b.scan(cf::projections, "", "");
  for (; x->valid() && y->valid(); x->next(), y->next(), ++*compared)
    if (x->key() != y->key() || x->value() != y->value()) return false;
  return !x->valid() && !y->valid();
}

// What-if for the fetch step of an index-driven replay: the tenant's records
// read with crmd's kv_store::get (one Get each, what the PIT lines use),
// against RocksDB's batched MultiGet and one iterator seeking forward, on a
// read-only open of the same files. Fetch only: nothing is parsed or applied.
void fetch_whatif(const std::string& path, kv_store& kv, const std::string& tenant) {
  std::vector<uint64_t> positions;
  {
    auto it = kv.scan(cf::streams, tenant + "/", tenant + "0");
    for (; it->valid(); it->next()) positions.push_back(read_be64(it->value()));
  }
  std::sort(positions.begin(), positions.end());
  std::vector<std::string> keys;
  for (auto p : positions) keys.push_back(be64(p));
  raw_store raw(path, crmd_like_cf_options());
  auto* db = raw.db;
  auto* events = raw.events;
  uint64_t bytes = 0;
  auto start = clk::now();
  std::string v;
  for (auto& k : keys) {
    if (!kv.get(cf::events, k, &v)) die("get");
    bytes += v.size();
  }
  double get_secs = seconds_since(start);
  start = clk::now();
  constexpr size_t chunk = 1024;
  std::vector<rocksdb::Slice> ks(chunk);
  std::vector<rocksdb::PinnableSlice> vs(chunk);
  std::vector<rocksdb::Status> ss(chunk);
  for (size_t i = 0; i < keys.size(); i += chunk) {
    size_t n = std::min(chunk, keys.size() - i);
    for (size_t j = 0; j < n; ++j) ks[j] = keys[i + j], vs[j].Reset();
    db->MultiGet(rocksdb::ReadOptions(), events, n, ks.data(), vs.data(), ss.data(), true);
    for (size_t j = 0; j < n; ++j) {
      if (!ss[j].ok()) die("multiget");
      bytes += vs[j].size();
    }
  }
  double multi_secs = seconds_since(start);
  start = clk::now();
  {
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), events));
    for (auto& k : keys) {
      it->Seek(k);
      if (!it->Valid() || it->key() != rocksdb::Slice(k)) die("seek");
      bytes += it->value().size();
    }
  }
  double seek_secs = seconds_since(start);
  std::printf("fetch only, the tenant's %zu records (what-if for the fetch step; %llu bytes read in all):\n"
              "  kv_store::get each %.3f s, RocksDB MultiGet (sorted, 1024 a call) %.3f s, one iterator's Seek %.3f s\n",
              keys.size(), (unsigned long long)bytes, get_secs, multi_secs, seek_secs);
}

void print_rate_line(const char* name, const scan_result& r, double baseline) {
  std::printf("%-34s %9.2f s %12.0f ev/s   ratio %.3f   (cpu %.2f s)\n", name, r.secs, r.rate(), r.rate() / baseline,
              r.cpu);
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t events = 10'000'000, pit_events = 100'000;
  int tenants = 100, pit_runs = 3;
  size_t batch = runner_options{}.batch_events;
  std::string data_dir, work_dir = fs::temp_directory_path().string(), only = "scan,contacts,whatif,all,pit,asof";
  bool each_view = false, compact = true;
  std::string view_list;  // --views a,b: --each-view over just these
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    bool v = i + 1 < argc;
    if (a == "--events" && v) events = std::strtoull(argv[++i], nullptr, 10);
    else if (a == "--tenants" && v) tenants = std::atoi(argv[++i]);
    else if (a == "--pit-events" && v) pit_events = std::strtoull(argv[++i], nullptr, 10);
    else if (a == "--data-dir" && v) data_dir = argv[++i];
    else if (a == "--work-dir" && v) work_dir = argv[++i];
    else if (a == "--batch" && v) batch = std::strtoull(argv[++i], nullptr, 10);
    else if (a == "--only" && v) only = argv[++i];
    else if (a == "--pit-runs" && v) pit_runs = std::atoi(argv[++i]);
    else if (a == "--each-view") each_view = true;
    else if (a == "--memory" && v) rebuild_memory_mib = std::strtoull(argv[++i], nullptr, 10);
    else if (a == "--views" && v) each_view = true, view_list = argv[++i];
    else if (a == "--no-compact") compact = false;
    else {
      std::fprintf(stderr,
                   "usage: rebuild_bench [--events N] [--tenants K] [--pit-events P] [--data-dir D] [--work-dir W]\n"
                   "                     [--batch B] [--only scan,contacts,whatif,all,pit,asof] [--each-view] [--no-compact]\n"
                   "                     [--pit-runs R]\n");
      return 2;
    }
  }
  if (tenants < 1 || tenants > 1000) die("--tenants must be 1..1000");
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // results as they come, also into a file
  auto wants = [&](const char* phase) { return ("," + only + ",").find("," + std::string(phase) + ",") != std::string::npos; };
  fs::create_directories(work_dir);
  scratch_dir work(work_dir, "crmd-rebuild-bench");
  std::printf("machine: %u cores (shared), load average %s; work dir %s\n", std::thread::hardware_concurrency(),
              loadavg().c_str(), work.path.c_str());

  // --- the log -------------------------------------------------------------
  std::string store = data_dir.empty() ? work.path + "/store" : data_dir;
  bool reuse = !data_dir.empty() && fs::exists(store + "/CURRENT");
  if (reuse) {
    std::printf("reusing the store in %s (no generation)\n", store.c_str());
  } else {
    rocks_options ro;
    ro.path = store;
    auto kv = open_rocks_kv(ro);
    if (!kv) die(kv.error().to_string());
    log_options lo;
    lo.sync = false;  // OS-buffered: generation, not durability, is timed here
    auto log = open_event_log(std::move(*kv), lo);
    if (!log) die(log.error().to_string());
    auto start = clk::now();
    uint64_t n = generate(**log, events, tenants, pit_events);
    double secs = seconds_since(start);
    auto st = (*log)->stats();
    std::printf("generated %llu events over %d tenants in %.1f s (%.0f events/s; %.0f events per group commit)\n",
                (unsigned long long)n, tenants, secs, n / secs, st.batches ? double(st.events) / st.batches : 0.0);
    log->reset();
    if (compact) {
      start = clk::now();
      compact_all(store);
      std::printf("flush + full compaction: %.1f s\n", seconds_since(start));
    }
  }
  std::printf("store on disk: %.2f GiB\n", dir_bytes(store) / double(1u << 30));

  rocks_options ro;
  ro.path = store;
  ro.create_if_missing = false;
  auto opened = open_rocks_kv(ro);
  if (!opened) die(opened.error().to_string());
  std::shared_ptr<kv_store> kv = std::move(*opened);
  auto opened_log = open_event_log(kv);
  if (!opened_log) die(opened_log.error().to_string());
  auto& log = **opened_log;
  uint64_t last = log.last_position();
  std::printf("log: %llu events\n\n", (unsigned long long)last);

  // --- scans: the baseline -------------------------------------------------
  std::printf("== scans of the whole log (%llu events; OS page cache warm after a first pass) ==\n",
              (unsigned long long)last);
  raw_rocks_scan(store);  // warm-up, not counted
  auto raw1 = raw_rocks_scan(store);
  double baseline = raw1.rate();
  std::printf("%-34s %9.2f s %12.0f ev/s   (baseline; cpu %.2f s; %.0f bytes per record)\n",
              "raw rocksdb iterator (1)", raw1.secs, raw1.rate(), raw1.cpu, double(raw1.bytes) / raw1.events);
  if (wants("scan")) {
    print_rate_line("crmd kv_store::scan", kv_scan(*kv), baseline);
    print_rate_line("event_log::scan_records", records_scan(log), baseline);
    uint64_t enc = 0;
    auto ls = log_scan(log, &enc);
    print_rate_line("event_log::scan (CRC, decrypt)", ls, baseline);
    std::printf("  of them subject-bound (encrypted): %llu (%.0f%%)\n", (unsigned long long)enc, 100.0 * enc / ls.events);
  }

  if (wants("mix")) {  // untimed: what the log holds, by event type
    std::map<std::string, uint64_t, std::less<>> types;
    record_view rec;
    uint64_t n = 0;
    auto s = log.scan_records(1, [&](uint64_t, std::string_view v) {
      if (!parse_record_into(v, rec, false)) die("unparsable record");
      auto it = types.find(rec.type);
      if (it == types.end()) it = types.emplace(std::string(rec.type), 0).first;
      ++it->second, ++n;
      return true;
    });
    if (!s) die(s.to_string());
    std::vector<std::pair<uint64_t, std::string>> sorted;
    for (auto& [t, c] : types) sorted.emplace_back(c, t);
    std::sort(sorted.rbegin(), sorted.rend());
    std::printf("event types:");
    for (auto& [c, t] : sorted) std::printf(" %s %.1f%%", t.c_str(), 100.0 * c / n);
    std::printf("\n");
  }

  // --- rebuilds ------------------------------------------------------------
  std::shared_ptr<kv_store> all_views;  // kept for the audit index
  std::unique_ptr<scratch_dir> all_dir;
  std::vector<std::pair<std::string, double>> rates;
  if (wants("contacts") || wants("all") || each_view)
    std::printf("\n== rebuilds from position 0 (rebuild_views, as crmd rebuild: folded in memory, written sorted "
                "and unlogged, then a flush) ==\n");
  auto print = [&](const char* what, const rebuild_result& r, const std::string& more) {
    std::printf("%-34s %9.2f s %12.0f ev/s   ratio %.3f   (cpu %.2f s, store %.0f MiB%s)\n", what,
                r.catch_up_secs + r.flush_secs, r.rate(last), r.rate(last) / baseline, r.cpu,
                r.store_bytes / 1048576.0, more.c_str());
  };
  if (wants("contacts")) {
    scratch_dir d(work.path, "contacts");
    std::shared_ptr<kv_store> rebuilt;  // kept for the comparison with the incremental path
    auto r = rebuild(log, make_views({"contacts"}), d.path, wants("whatif") ? &rebuilt : nullptr);
    if (r.position != last) die("contacts rebuild stopped early");
    print("contacts view alone", r, "");
    rates.emplace_back("contacts", r.rate(last));
    if (wants("whatif")) {
      // The reference: the same view folded by the runner's incremental path.
      scratch_dir d2(work.path, "contacts-incremental");
      std::shared_ptr<kv_store> inc;
      auto w = incremental(log, make_views({"contacts"}), d2.path, batch, &inc);
      uint64_t compared = 0;
      bool same = same_projections(*rebuilt, *inc, &compared);
      print("contacts, runner catch_up", w,
            std::string(", the incremental path, batch ") + std::to_string(batch) + "; same view: " +
                (same ? "yes, " : "NO, ") + std::to_string(compared) + " keys");
      if (!same) die("the rebuilt contacts view differs from the incrementally built one");
    }
  }
  if (wants("all") || wants("pit")) {
    all_dir = std::make_unique<scratch_dir>(work.path, "all");
    auto r = rebuild(log, views::all(), all_dir->path, &all_views);
    if (r.position != last) die("rebuild of all views stopped early");
    print("all views (views::all())", r, "");
    rates.emplace_back("all", r.rate(last));
  }
  if (each_view) {
    for (auto& name : views::names()) {
      if (!view_list.empty() && ("," + view_list + ",").find("," + name + ",") == std::string::npos) continue;
      scratch_dir d(work.path, "one");
      std::vector<std::unique_ptr<projection>> v;
      v.push_back(views::by_name(name));
      auto r = rebuild(log, std::move(v), d.path);
      std::printf("  %-32s %9.2f s %12.0f ev/s   ratio %.3f   (cpu %.2f s)\n", name.c_str(),
                  r.catch_up_secs + r.flush_secs, r.rate(last), r.rate(last) / baseline, r.cpu);
    }
  }
  if (!rates.empty()) {
    auto raw2 = raw_rocks_scan(store);
    std::printf("%-34s %9.2f s %12.0f ev/s   (the baseline again, after the rebuilds; cpu %.2f s)\n",
                "raw rocksdb iterator (2)", raw2.secs, raw2.rate(), raw2.cpu);
    double best = std::max(baseline, raw2.rate());
    for (auto& [name, rate] : rates)
      std::printf("ratio %-10s %.3f of the better raw scan (%.0f ev/s)\n", name.c_str(), rate / best, best);
  }

  // --- point in time -------------------------------------------------------
  if (wants("fetch") && !wants("pit")) fetch_whatif(store, *kv, "t000");
  if (wants("pit")) {
    std::string tenant = "t000", own_stream = tenant + "/tenant/" + tenant;
    uint64_t tenant_events = 0;
    {
      auto it = kv->scan(cf::streams, tenant + "/", tenant + "0");
      for (; it->valid(); it->next()) ++tenant_events;
    }
    uint64_t mid = last / 2;
    bool ok = true;
    fetch_whatif(store, *kv, tenant);
    auto line = [](const char* name, const pit_result& r) {
      if (r.index_secs + r.fetch_secs + r.apply_secs > 0)
        std::printf("  %-46s %7.3f s  (index %.3f, fetch %.3f, check+decrypt+apply %.3f; %llu events)\n", name, r.secs,
                    r.index_secs, r.fetch_secs, r.apply_secs, (unsigned long long)r.events);
      else
        std::printf("  %-46s %7.3f s  (%llu events applied)\n", name, r.secs, (unsigned long long)r.events);
    };
    // Two queries: every view of the tenant (all its events), and its
    // customers as of the position (the contacts view, which folds only
    // events of the tenant's own stream <t>/tenant/<t>).
    for (const std::vector<std::string>& names : {std::vector<std::string>{}, std::vector<std::string>{"contacts"}}) {
      bool all = names.empty();
      std::printf("\n== point in time: tenant %s (%llu events) replayed into scratch in-memory views (%s) ==\n",
                  tenant.c_str(), (unsigned long long)tenant_events, all ? "all views" : "contacts view only");
      std::printf("full-log scans, up to position %llu (the end):\n", (unsigned long long)last);
      auto a = pit_log_scan(log, names, tenant, last);
      line("event_log::scan filtered by tenant", a);
      auto b = pit_record_scan(kv, names, tenant, last);
      line("records, tenant peeked, only its decrypted", b);
      bool same = a.kv == b.kv;
      for (uint64_t upto : {last, mid}) {
        std::printf("index-driven reads, up to position %llu%s (%d runs):\n", (unsigned long long)upto,
                    upto == last ? " (the end)" : " (mid-log)", pit_runs);
        for (int run = 0; run < pit_runs; ++run) {
          auto c = pit_stream_index(kv, names, tenant, "", upto);
          line("stream index: all the tenant's streams", c);
          auto d = pit_audit_index(kv, *all_views, names, tenant, upto);
          line("audit index v/audit/t/<tenant>/", d);
          same = same && c.kv == d.kv && (upto != last || c.kv == a.kv);
          if (!all) {
            auto e = pit_stream_index(kv, names, tenant, own_stream, upto);
            line("stream index: <t>/tenant/<t> only", e);
            same = same && e.kv == c.kv;
          }
        }
      }
      uint64_t compared = 0;
      bool matches = same_tenant_keys(a.kv, *all_views, names, tenant, &compared);
      std::printf("scratch views equal across methods: %s; equal to the rebuilt views for %s: %s (%llu keys)\n",
                  same ? "yes" : "NO", tenant.c_str(), matches ? "yes" : "NO", (unsigned long long)compared);
      ok = ok && same && matches;
    }
    if (!ok) return 1;
  }
  all_views.reset();
  if (wants("asof")) {
    // The shipped point-in-time query (replay/as_of.cpp), as the API runs it.
    std::printf("\n== point in time: tenant_as_of (the API's query: customers, leads, contracts, invoices, tasks, "
                "prompts, users, settings) ==\n");
    for (uint64_t until : {last, last / 2})
      for (int run = 0; run < std::max(1, pit_runs); ++run) {
        as_of_query q;
        q.tenant = "t000";
        q.until_position = until;
        auto start = clk::now();
        auto r = tenant_as_of(log, q);
        double secs = seconds_since(start);
        if (!r) die(r.error().to_string());
        auto at = r->find("\"events\":");
        std::printf("  up to position %-10llu %8.3f s  (%s)\n", (unsigned long long)until, secs,
                    at == std::string::npos ? "?" : r->substr(at, r->find(',', at) - at).c_str());
      }
  }
  std::printf("\nload average at the end: %s\n", loadavg().c_str());
  return 0;
}
