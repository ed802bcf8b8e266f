#include "projections/folder.hpp"

#include <mutex>
#include <shared_mutex>

namespace crmd {
namespace {

std::shared_mutex generations_mu;
std::map<std::string, uint64_t, std::less<>> generations;

}  // namespace

uint64_t view_generation(std::string_view view) {
  std::shared_lock lock(generations_mu);
  auto it = generations.find(view);
  return it == generations.end() ? 0 : it->second;
}

void set_view_generation(std::string_view view, uint64_t generation) {
  std::unique_lock lock(generations_mu);
  generations[std::string(view)] = generation;
}

std::string prefix_for(std::string_view view, uint64_t generation) {
  std::string p = "v/" + std::string(view);
  if (generation) p += "@" + std::to_string(generation);
  return p + "/";
}

std::string generation_key(std::string_view view) { return "g/" + std::string(view); }

std::string view_prefix(std::string_view view) { return prefix_for(view, view_generation(view)); }

}  // namespace crmd
