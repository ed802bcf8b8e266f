#include "events/clock.hpp"

#include <chrono>

namespace crmd {
namespace {
class real_clock : public clock {
 public:
  int64_t now_us() const override {
    using namespace std::chrono;
    return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
  }
};
}  // namespace

clock& system_clock() {
  static real_clock c;
  return c;
}

}  // namespace crmd
