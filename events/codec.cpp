#include "events/codec_impl.hpp"
#include "events/tenant_events.hpp"

CRMD_CODEC_INSTANTIATE(crmd::ev::tenant_created)
CRMD_CODEC_INSTANTIATE(crmd::ev::tenant_renamed)
CRMD_CODEC_INSTANTIATE(crmd::ev::prompt_saved)
CRMD_CODEC_INSTANTIATE(crmd::ev::prompt_deleted)
CRMD_CODEC_INSTANTIATE(crmd::ev::lead_created)
CRMD_CODEC_INSTANTIATE(crmd::ev::note_added)
CRMD_CODEC_INSTANTIATE(crmd::ev::timer_set)
CRMD_CODEC_INSTANTIATE(crmd::ev::timer_fired)
