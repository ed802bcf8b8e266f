// The event log over a kv_store: one writer thread group-commits appends.
//
// Threading: append_async() only enqueues. The writer thread owns the write
// path state (next position, stream versions, chain links); it drains the
// queue, decides every request against that state plus an overlay of the
// batch being built, writes one (synced) batch, and only then commits the
// overlay, answers the callers and notifies subscribers. A failed write
// commits nothing, so the cached state never runs ahead of the store.
#include <pthread.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "storage/crypto.hpp"
#include "storage/event_log.hpp"
#include "storage/kv.hpp"
#include "storage/log_reader.hpp"

namespace crmd {
namespace {

using namespace log_keys;

constexpr uint64_t storage_format = 1;
constexpr const char* format_key = "format";

struct work_item {
  bool is_erase = false;
  append_request request;
  event_log::append_callback done;
  std::string subject;
  std::function<void(status)> erase_done;
};

// What a batch under construction has decided but not yet written.
struct overlay {
  uint64_t next_position;
  std::unordered_map<std::string, uint64_t> versions;
  std::unordered_map<std::string, std::string> links;       // tenant -> last link
  std::unordered_map<std::string, uint64_t> link_positions; // tenant -> its position
  std::unordered_map<std::string, append_result> dedup;
  std::unordered_map<std::string, std::string> new_keys;
};

class kv_event_log : public event_log {
 public:
  kv_event_log(std::shared_ptr<kv_store> kv, log_options o) : kv_(std::move(kv)), opts_(o), reader_(kv_) {}

  ~kv_event_log() override {
    {
      std::lock_guard lock(q_mu_);
      stopping_ = true;
    }
    q_cv_.notify_all();
    if (writer_.joinable()) writer_.join();
  }

  status init() {
    std::string v;
    auto s = kv_->get(cf::meta, format_key, &v);
    if (s.is_ok()) {
      uint64_t fmt = v.size() == 8 ? read_be64(v) : 0;
      if (fmt > storage_format)
        return {errc::unsupported, "store format " + std::to_string(fmt) +
                                       " is newer than this build supports (" +
                                       std::to_string(storage_format) + ")"};
      if (fmt == 0) return {errc::corruption, "store format marker is malformed"};
    } else if (s.code() == errc::not_found) {
      if (!kv_->read_only()) {
        auto b = kv_->new_batch();
        b->put(cf::meta, format_key, be64(storage_format));
        if (auto w = kv_->write(*b, true); !w) return w;
      }
    } else {
      return s;
    }
    std::string key, value;
    s = kv_->last(cf::events, "", "", &key, &value);
    if (s.is_ok()) {
      if (key.size() != 8) return {errc::corruption, "malformed event key"};
      next_position_ = read_be64(key) + 1;
    } else if (s.code() != errc::not_found) {
      return s;
    }
    last_position_ = next_position_ - 1;
    writer_ = std::thread([this] {
      pthread_setname_np(pthread_self(), "crmd.log");  // names threads in perf and top
      writer_loop();
    });
    return status::ok();
  }

  void append_async(append_request request, append_callback done) override {
    {
      std::lock_guard lock(q_mu_);
      if (!stopping_) {
        work_item w;
        w.request = std::move(request);
        w.done = std::move(done);
        queue_.push_back(std::move(w));
        q_cv_.notify_one();
        return;
      }
    }
    done(status{errc::shutting_down, "event log is closing"});
  }

  status erase_subject(const std::string& subject) override {
    if (subject.empty()) return {errc::invalid_argument, "subject is empty"};
    std::promise<status> p;
    auto f = p.get_future();
    {
      std::lock_guard lock(q_mu_);
      if (stopping_) return {errc::shutting_down, "event log is closing"};
      work_item w;
      w.is_erase = true;
      w.subject = subject;
      w.erase_done = [&p](status s) { p.set_value(std::move(s)); };
      queue_.push_back(std::move(w));
    }
    q_cv_.notify_one();
    return f.get();
  }

  result<std::vector<stored_event>> read_stream(const std::string& stream, uint64_t from_seq,
                                                size_t max) override {
    return reader_.read_stream(stream, from_seq, max);
  }
  result<std::vector<stored_event>> read_all(uint64_t from, size_t max) override {
    return reader_.read_all(from, max);
  }
  result<std::vector<std::string>> streams_with_prefix(const std::string& prefix) override {
    std::vector<std::string> names;
    std::string upper = prefix + '\xff';  // stream names are text: no byte 0xff
    for (std::string lower = prefix;;) {
      auto it = kv_->scan(cf::streams, lower, upper);
      if (!it->valid()) {
        if (auto s = it->error(); !s) return s;
        return names;
      }
      std::string_view key = it->key();
      names.emplace_back(key.substr(0, key.find('\0')));
      lower = stream_upper(names.back());  // past every seq of this stream
    }
  }
  status scan(uint64_t from, const scan_visitor& visit) override { return reader_.scan(from, visit); }
  status scan_types(uint64_t from, const type_filter& wanted, const scan_visitor& visit) override {
    return reader_.scan(from, visit, &wanted);
  }
  status scan_streams(const std::vector<std::string>& streams, uint64_t until, const scan_visitor& visit) override {
    return reader_.scan_streams(streams, until, visit);
  }
  status scan_records(uint64_t from, const record_visitor& visit) override {
    return reader_.scan_records(from, visit);
  }
  result<std::pair<uint64_t, std::string>> chain_head(const std::string& tenant) override {
    return reader_.chain_head(tenant);
  }
  result<std::string> stream_of(uint64_t position) override { return reader_.stream_of(position); }

  uint64_t last_position() const override { return last_position_.load(); }

  uint64_t subscribe(position_callback cb) override {
    std::lock_guard lock(subs_mu_);
    subs_.emplace(++next_sub_, std::move(cb));
    return next_sub_;
  }
  void unsubscribe(uint64_t id) override {
    std::lock_guard lock(subs_mu_);
    subs_.erase(id);
  }

  log_stats stats() const override {
    return {batches_.load(), appends_.load(), events_.load(), decide_us_.load(), write_us_.load()};
  }

 private:
  result<uint64_t> current_version(const std::string& stream, overlay& ov) {
    if (auto it = ov.versions.find(stream); it != ov.versions.end()) return it->second;
    if (auto it = versions_.find(stream); it != versions_.end()) return it->second;
    std::string k, v;
    // A new stream (every call, every session) has no first entry: a point
    // read says so through the bloom filters, without an iterator.
    auto s = kv_->get(cf::streams, stream_key(stream, 1), &v);
    if (s.is_ok()) s = kv_->last(cf::streams, stream_lower(stream), stream_upper(stream), &k, &v);
    uint64_t version = 0;
    if (s.is_ok()) {
      if (k.size() != stream.size() + 9) return status{errc::corruption, "malformed stream index key"};
      version = read_be64(std::string_view(k).substr(stream.size() + 1));
    } else if (s.code() != errc::not_found) {
      return s;
    }
    if (versions_.size() > max_cached_entries) versions_.clear();
    versions_.emplace(stream, version);
    return version;
  }

  result<std::string> current_link(const std::string& tenant, overlay& ov) {
    if (auto it = ov.links.find(tenant); it != ov.links.end()) return it->second;
    if (auto it = links_.find(tenant); it != links_.end()) return it->second;
    auto head = reader_.chain_head(tenant);
    std::string link;
    if (head)
      link = head->second;
    else if (head.error().code() == errc::not_found)
      link = std::string(crypto::sha256_size, '\0');  // the genesis link
    else
      return head.error();
    if (links_.size() > max_cached_entries) links_.clear();
    links_.emplace(tenant, link);
    return link;
  }

  // The key to encrypt with; a new one (pending in `fresh`) for a new subject.
  result<std::string> write_key(const std::string& subject, overlay& ov,
                                std::unordered_map<std::string, std::string>& fresh) {
    if (auto it = fresh.find(subject); it != fresh.end()) return it->second;
    if (auto it = ov.new_keys.find(subject); it != ov.new_keys.end()) return it->second;
    std::string existing;
    bool found = false;
    if (auto s = reader_.read_key(subject, existing, found); !s) return s;
    if (found) return existing;
    std::string marker;
    auto s = kv_->get(cf::meta, erased_key(subject), &marker);
    if (s.is_ok()) return status{errc::subject_erased, "subject " + subject + " was erased"};
    if (s.code() != errc::not_found) return s;
    auto key = crypto::random_bytes(crypto::aes_key_size);
    fresh.emplace(subject, key);
    return key;
  }

  status validate(const append_request& r) const {
    auto sid = parse_stream_id(r.stream);
    if (!sid) return sid.error();
    if (r.events.empty()) return {errc::invalid_argument, "an append needs at least one event"};
    for (auto& w : r.side_writes) {
      bool secret = w.family == uint8_t(cf::meta) && w.key.rfind("secret/", 0) == 0;
      if (w.family != uint8_t(cf::schedule) && w.family != uint8_t(cf::snapshots) && !secret)
        return {errc::invalid_argument, "side writes may only go to the schedule, snapshots or meta secret/"};
    }
    for (auto& e : r.events) {
      if (e.type.empty() || e.type.size() > 128)
        return {errc::invalid_argument, "event type must be 1..128 bytes"};
      if (e.payload.size() > opts_.max_payload_bytes)
        return {errc::invalid_argument, "event payload larger than " +
                                            std::to_string(opts_.max_payload_bytes) + " bytes"};
      if (e.subject.size() > 256 || e.subject.find('\0') != std::string::npos)
        return {errc::invalid_argument, "subject id must be at most 256 bytes without NUL"};
    }
    return status::ok();
  }

  // Decides one request against state + overlay; on success adds its writes
  // to `batch` and its effects to `ov`. A rejection adds nothing.
  // `poisoned` is set when a failure happens after writes were added to the
  // batch: the whole batch must then be dropped.
  result<append_result> decide(const append_request& r, overlay& ov, kv_batch& batch,
                               bool& poisoned) {
    if (auto s = validate(r); !s) return s;
    std::string idem_hash;
    if (!r.idempotency_key.empty()) {
      idem_hash = crypto::sha256(r.idempotency_key);
      if (auto it = ov.dedup.find(idem_hash); it != ov.dedup.end()) {
        auto res = it->second;
        res.deduplicated = true;
        return res;
      }
      std::string v;
      auto s = kv_->get(cf::dedup, idem_hash, &v);
      if (s.is_ok()) {
        if (v.size() != 24) return status{errc::corruption, "malformed idempotency entry"};
        return append_result{read_be64(v), read_be64(v.substr(8)), read_be64(v.substr(16)), true};
      }
      if (s.code() != errc::not_found) return s;
    }
    auto version = current_version(r.stream, ov);
    if (!version) return version.error();
    if (r.expected_version != any_version && r.expected_version != *version)
      return status{errc::conflict, "expected version " + std::to_string(r.expected_version) +
                                        ", stream " + r.stream + " is at " + std::to_string(*version)};
    std::unordered_map<std::string, std::string> fresh;
    std::vector<std::string> keys(r.events.size());
    for (size_t i = 0; i < r.events.size(); ++i) {
      if (r.events[i].subject.empty()) continue;
      auto k = write_key(r.events[i].subject, ov, fresh);
      if (!k) return k.error();
      keys[i] = std::move(*k);
    }
    std::string tenant = r.stream.substr(0, r.stream.find('/'));
    auto link = current_link(tenant, ov);
    if (!link) return link.error();

    // Everything that can reject has been checked: from here on the request
    // is accepted, and only a broken crypto library can fail it.
    append_result res;
    res.first_position = ov.next_position;
    uint64_t pos = ov.next_position;
    uint64_t seq = *version;
    std::string prev = std::move(*link);
    int64_t now = opts_.time->now_us();
    for (size_t i = 0; i < r.events.size(); ++i) {
      auto& e = r.events[i];
      envelope env;
      env.position = pos++;
      env.stream = r.stream;
      env.stream_seq = ++seq;
      env.type = e.type;
      env.schema_version = e.schema_version;
      env.recorded_at_us = now;
      env.meta = r.meta;
      env.subject = e.subject;
      if (i == 0) env.idempotency_hash = idem_hash;
      std::string body;
      if (e.subject.empty()) {
        body = encode_record_body(env, e.payload);
      } else {
        auto sealed = crypto::seal(keys[i], e.payload, e.subject);
        if (!sealed) {
          poisoned = i > 0;
          return sealed.error();
        }
        body = encode_record_body(env, *sealed);
      }
      prev = crypto::sha256(prev, body);
      batch.put(cf::events, be64(env.position), frame_record(body, prev));
      batch.put(cf::streams, stream_key(r.stream, env.stream_seq), be64(env.position));
    }
    ov.next_position = pos;
    res.last_position = pos - 1;
    res.stream_version = seq;
    // The chain head is written once per tenant per batch, in finish().
    ov.link_positions[tenant] = res.last_position;
    ov.links[tenant] = std::move(prev);
    ov.versions[r.stream] = seq;
    for (auto& w : r.side_writes) {
      if (w.erase)
        batch.del(cf(w.family), w.key);
      else
        batch.put(cf(w.family), w.key, w.value);
    }
    for (auto& [subject, key] : fresh) {
      batch.put(cf::keys, subject, key);
      ov.new_keys.emplace(subject, key);
    }
    if (!idem_hash.empty()) {
      batch.put(cf::dedup, idem_hash,
                be64(res.first_position) + be64(res.last_position) + be64(res.stream_version));
      ov.dedup.emplace(idem_hash, res);
    }
    return res;
  }

  // One group commit: requests are decided as they are added; finish()
  // writes them all in one batch and answers every caller.
  struct group {
    explicit group(kv_event_log* log) : log(log), batch(log->kv_->new_batch()) {
      ov.next_position = first_position = log->next_position_;
    }
    void add(work_item&& w) {
      items.push_back(std::move(w));
      if (!broken.is_ok()) return;  // answered with `broken` in finish()
      bool poisoned = false;
      auto r = log->decide(items.back().request, ov, *batch, poisoned);
      if (poisoned) {
        broken = r.error();
        return;
      }
      if (r && !r->deduplicated) any_written = true;
      events += items.back().request.events.size();
      results.push_back(std::move(r));
    }
    void finish();

    kv_event_log* log;
    std::unique_ptr<kv_batch> batch;
    overlay ov;
    std::deque<work_item> items;
    std::vector<result<append_result>> results;
    status broken;
    uint64_t first_position = 0;  // the first position this batch writes
    bool any_written = false;
    size_t events = 0;
    std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  };

  void writer_loop() {
    // Every acknowledgement waits on this thread: when it is runnable it
    // should get the CPU first (ignored where raising priority is not allowed).
    ::setpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)), -5);
    for (;;) {
      {
        std::unique_lock lock(q_mu_);
        q_cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;  // stopping and drained
      }
      auto g = std::make_unique<group>(this);
      // Drain, decide, and drain again: appenders woken by the previous
      // commit arrive while this one is being decided and join it, instead
      // of waiting a whole fsync for the next.
      for (;;) {
        std::deque<work_item> items;
        {
          std::lock_guard lock(q_mu_);
          while (!queue_.empty() && g->events + items.size() < opts_.max_batch_events) {
            items.push_back(std::move(queue_.front()));
            queue_.pop_front();
          }
        }
        if (items.empty()) break;
        for (auto& w : items) {
          if (w.is_erase) {  // erasures are ordered between group commits
            g->finish();
            do_erase(w);
            g = std::make_unique<group>(this);
          } else {
            g->add(std::move(w));
          }
        }
        if (g->events >= opts_.max_batch_events) break;
      }
      g->finish();
    }
  }

  void do_erase(work_item& w) {
    auto b = kv_->new_batch();
    b->del(cf::keys, w.subject);
    b->put(cf::meta, erased_key(w.subject), be64(static_cast<uint64_t>(opts_.time->now_us())));
    auto s = kv_->write(*b, true);  // erasure is always durable, whatever opts_.sync says
    if (s.is_ok()) reader_.forget_key(w.subject);
    w.erase_done(s);
  }

  void notify(uint64_t pos) {
    std::lock_guard lock(subs_mu_);
    for (auto& [id, cb] : subs_) cb(pos);
  }

  std::shared_ptr<kv_store> kv_;
  log_options opts_;
  log_reader reader_;

  // Writer-thread state.
  uint64_t next_position_ = 1;
  std::unordered_map<std::string, uint64_t> versions_;
  std::unordered_map<std::string, std::string> links_;

  std::atomic<uint64_t> last_position_{0};
  std::atomic<uint64_t> batches_{0}, appends_{0}, events_{0}, decide_us_{0}, write_us_{0};


  std::mutex subs_mu_;
  std::map<uint64_t, position_callback> subs_;
  uint64_t next_sub_ = 0;

  std::mutex q_mu_;
  std::condition_variable q_cv_;
  std::deque<work_item> queue_;
  bool stopping_ = false;
  std::thread writer_;
};

void kv_event_log::group::finish() {
  if (items.empty()) return;
  if (broken.is_ok() && any_written) {
    for (auto& [tenant, pos] : ov.link_positions)
      batch->put(cf::meta, chain_key(tenant), be64(pos) + ov.links[tenant]);
  }
  auto t1 = std::chrono::steady_clock::now();
  if (broken.is_ok() && any_written) broken = log->kv_->write(*batch, log->opts_.sync);
  auto t2 = std::chrono::steady_clock::now();
  log->decide_us_ += std::chrono::duration_cast<std::chrono::microseconds>(t1 - started).count();
  log->write_us_ += std::chrono::duration_cast<std::chrono::microseconds>(t2 - t1).count();
  bool committed = broken.is_ok() && any_written;
  if (committed) {
    for (auto& [k, v] : ov.versions) log->versions_[k] = v;
    for (auto& [k, v] : ov.links) log->links_[k] = v;
    log->reader_.remember_keys(ov.new_keys);
    uint64_t count = ov.next_position - log->next_position_;
    log->next_position_ = ov.next_position;
    log->last_position_.store(log->next_position_ - 1);
    log->batches_.fetch_add(1);
    log->events_.fetch_add(count);
    // Subscribers (projection runners) hear of the new position before any
    // caller is answered, so a caller's next read can wait on it.
    log->notify(log->last_position_.load());
  }
  for (size_t i = 0; i < items.size(); ++i) {
    bool decided = i < results.size() && results[i];
    bool written = decided && !results[i]->deduplicated;
    // A duplicate of an append earlier in this batch names this batch's
    // positions: it is stored only if the batch is.
    bool rides = decided && results[i]->deduplicated && results[i]->first_position >= first_position;
    if (!broken.is_ok() && (i >= results.size() || written || rides)) {
      items[i].done(broken);  // nothing of this batch was stored
      continue;
    }
    if (written) log->appends_.fetch_add(1);
    items[i].done(std::move(results[i]));
  }
  items.clear();
}

}  // namespace

result<append_result> event_log::append(append_request request) {
  std::promise<result<append_result>> p;
  auto f = p.get_future();
  append_async(std::move(request), [&p](result<append_result> r) { p.set_value(std::move(r)); });
  return f.get();
}

status event_log::scan_types(uint64_t from, const type_filter&, const scan_visitor& visit) {
  return scan(from, visit);
}

status event_log::scan_streams(const std::vector<std::string>& streams, uint64_t until, const scan_visitor& visit) {
  return scan(1, [&](const log_entry& e) {
    if (e.record.position > until) return false;
    for (const auto& s : streams)
      if (e.record.stream == s) return visit(e);
    return true;
  });
}

result<std::unique_ptr<event_log>> open_event_log(std::shared_ptr<kv_store> kv, log_options options) {
  auto log = std::make_unique<kv_event_log>(std::move(kv), options);
  if (auto s = log->init(); !s) return s;
  return std::unique_ptr<event_log>(std::move(log));
}

std::unique_ptr<event_log> make_memory_event_log(log_options options) {
  auto log = open_event_log(make_memory_kv(), options);
  // A fresh in-memory store has no format marker to disagree with.
  assert(log.has_value());
  return std::move(*log);
}

}  // namespace crmd
