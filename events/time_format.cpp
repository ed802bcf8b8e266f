#include "events/time_format.hpp"

#include <cstdio>
#include <ctime>

namespace crmd {

std::string rfc3339(int64_t us, int fraction_digits) {
  int64_t secs = us / 1'000'000, frac = us % 1'000'000;
  if (frac < 0) {  // before the epoch: floor, not truncate
    frac += 1'000'000;
    --secs;
  }
  std::time_t t = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char date[32];
  std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  if (fraction_digits == 6)
    std::snprintf(out, sizeof out, "%s.%06lldZ", date, static_cast<long long>(frac));
  else
    std::snprintf(out, sizeof out, "%s.%03lldZ", date, static_cast<long long>(frac / 1000));
  return out;
}

}  // namespace crmd
