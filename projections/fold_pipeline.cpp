// folder::fold_all: a rebuild's fold on two threads.
//
// Reading the log (iteration, record checks, decryption) and folding the
// views each took about half of a rebuild, one after the other on one
// core. Here a reader thread scans and decrypts, and hands the events some
// view folds, copied, in batches through a short queue to the calling
// thread, which applies them in position order exactly as step() would.
#include <cassert>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "events/record.hpp"
#include "projections/folder.hpp"

namespace crmd {
namespace {

// One event a view folds, as offsets into its batch's bytes.
struct handed_event {
  size_t stored_at, stored_len;
  size_t payload_at, payload_len;  // payload_len 0 and payload_at npos: none
  bool payload_copied;             // else the payload is the stored one (not sealed)
  bool erased, opened;
  uint64_t views;                  // bit i: views[i] folds it
};

struct batch {
  std::string bytes;
  std::vector<handed_event> events;
  uint64_t last = 0;  // every position up to here was scanned
  bool end = false;
  status result = status::ok();  // with `end`: how the scan ended
};

// Bounded, so a fast reader does not hold the whole log in memory.
class batch_queue {
 public:
  explicit batch_queue(size_t depth) : depth_(depth) {}
  // false once the consumer has given up.
  bool push(batch b) {
    std::unique_lock lock(mu_);
    room_.wait(lock, [&] { return q_.size() < depth_ || abandoned_; });
    if (abandoned_) return false;
    q_.push_back(std::move(b));
    ready_.notify_one();
    return true;
  }
  batch pop() {
    std::unique_lock lock(mu_);
    ready_.wait(lock, [&] { return !q_.empty(); });
    batch b = std::move(q_.front());
    q_.pop_front();
    room_.notify_one();
    return b;
  }
  void abandon() {
    std::lock_guard lock(mu_);
    abandoned_ = true;
    room_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable room_, ready_;
  std::deque<batch> q_;
  size_t depth_;
  bool abandoned_ = false;
};

constexpr size_t batch_bytes = 4u << 20;  // a few MiB: amortises the hand-over
constexpr size_t queue_depth = 4;

}  // namespace

status folder::fold_all(uint64_t until, const std::function<void(uint64_t)>& progress) {
  assert(cache && views.size() <= 64);
  uint64_t from = low() + 1;
  if (from > until) return status::ok();
  batch_queue queue(queue_depth);

  // The reader: the only user of masks_of() while it runs.
  std::thread reader([&] {
    batch cur;
    size_t scanned = 0;
    bool gave_up = false;
    auto wanted = [this](std::string_view type) { return masks_of(type).reading != 0; };
    auto s = log.scan_types(from, wanted, [&](const log_entry& e) {
      uint64_t pos = e.record.position;
      if (pos > until) return false;
      uint64_t folding = masks_of(e.record.type).apply_to(e.opened);
      if (folding) {
        if (e.stored.empty()) {  // a log that does not show its records: nothing to copy
          cur.result = status{errc::unsupported, "the log's scan does not give the stored records"};
          return false;
        }
        handed_event h{cur.bytes.size(), e.stored.size(), std::string::npos, 0, false, e.erased, e.opened, folding};
        cur.bytes.append(e.stored);
        if (e.record.encrypted() && e.opened && !e.erased) {  // decrypted: the plaintext is the reader's
          h.payload_at = cur.bytes.size();
          h.payload_len = e.payload.size();
          h.payload_copied = true;
          cur.bytes.append(e.payload);
        }
        cur.events.push_back(h);
      }
      cur.last = pos;
      if (++scanned >= batch_events || cur.bytes.size() >= batch_bytes) {
        if (!queue.push(std::move(cur))) {
          gave_up = true;
          return false;
        }
        cur = batch{};
        scanned = 0;
      }
      return true;
    });
    if (gave_up) return;
    if (!s) cur.result = s;
    cur.end = true;
    queue.push(std::move(cur));
  });

  status out = status::ok();
  record_view rec;
  change_map unused;  // apply_to's batch, for folds without a cache
  std::vector<std::string> prefixes = this->prefixes();
  for (;;) {
    batch b = queue.pop();
    for (auto& h : b.events) {
      std::string_view stored(b.bytes.data() + h.stored_at, h.stored_len);
      // Checked by the reader already; parsed again to point into the copy.
      if (auto s = parse_record_into(stored, rec, false); !s) {
        out = s;
        break;
      }
      std::string_view payload = !h.opened || h.erased ? std::string_view{}
                                 : h.payload_copied   ? std::string_view(b.bytes.data() + h.payload_at, h.payload_len)
                                                      : rec.payload;
      log_entry e{rec, payload, h.erased, h.opened, stored};
      for (size_t i = 0; i < views.size(); ++i) {
        if (!errors[i].empty() || !(h.views >> i & 1)) continue;
        // Positions are dense: a view stopped here passed every one before.
        if (!apply_to(i, e, prefixes[i], unused)) checkpoints[i] = rec.position - 1;
      }
    }
    if (!out) break;
    bool any_left = false;
    for (size_t i = 0; i < views.size(); ++i)
      if (errors[i].empty()) {
        any_left = true;
        if (b.last > checkpoints[i]) checkpoints[i] = b.last;
      }
    if (!any_left) break;  // every view stopped on an error: reading on is for nothing
    if (b.end) {
      out = b.result;
      break;
    }
    if (cache->over_budget())
      if (auto s = cache->spill(kv); !s) {
        out = s;
        break;
      }
    if (progress) progress(low());
  }
  queue.abandon();  // frees a reader still waiting for room
  reader.join();
  return out;
}

}  // namespace crmd
