// Phone numbers to E.164 (libphonenumber): "050-123-4567" in region IL is
// "+972501234567". Pure and deterministic, so deciders may call it.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace crmd::crm {

// nullopt for text that is not a possible number in `region` (an ISO 3166
// alpha-2 code such as "IL"); numbers with a leading + ignore the region.
std::optional<std::string> to_e164(std::string_view raw, const std::string& region);
// The digits a person dials inside the number's own country, trunk prefix
// included ("+972501234567" -> "0501234567"), so a search for a number as
// written locally finds it. Empty when `e164` is not a parseable number.
std::string national_digits(std::string_view e164);
// Whether libphonenumber knows the region code.
bool known_region(const std::string& region);

}  // namespace crmd::crm
