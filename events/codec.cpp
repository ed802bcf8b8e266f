#include "events/codec_impl.hpp"
#include "events/call_events.hpp"
#include "events/identity_events.hpp"
#include "events/whatsapp_events.hpp"

CRMD_CODEC_INSTANTIATE(crmd::ev::tenant_created)
CRMD_CODEC_INSTANTIATE(crmd::ev::tenant_renamed)
CRMD_CODEC_INSTANTIATE(crmd::ev::prompt_saved)
CRMD_CODEC_INSTANTIATE(crmd::ev::prompt_deleted)
CRMD_CODEC_INSTANTIATE(crmd::ev::lead_created)
CRMD_CODEC_INSTANTIATE(crmd::ev::note_added)
CRMD_CODEC_INSTANTIATE(crmd::ev::timer_set)
CRMD_CODEC_INSTANTIATE(crmd::ev::timer_fired)
CRMD_CODEC_INSTANTIATE(crmd::ev::tenant_suspended)
CRMD_CODEC_INSTANTIATE(crmd::ev::tenant_reactivated)
CRMD_CODEC_INSTANTIATE(crmd::ev::tenant_deleted)
CRMD_CODEC_INSTANTIATE(crmd::ev::tenant_modules_changed)
CRMD_CODEC_INSTANTIATE(crmd::ev::user_created)
CRMD_CODEC_INSTANTIATE(crmd::ev::user_role_changed)
CRMD_CODEC_INSTANTIATE(crmd::ev::user_deleted)
CRMD_CODEC_INSTANTIATE(crmd::ev::user_logged_in)
CRMD_CODEC_INSTANTIATE(crmd::ev::user_logged_out)
CRMD_CODEC_INSTANTIATE(crmd::ev::login_failed)
CRMD_CODEC_INSTANTIATE(crmd::ev::session_revoked)
CRMD_CODEC_INSTANTIATE(crmd::ev::impersonation_started)
CRMD_CODEC_INSTANTIATE(crmd::ev::tenant_name_changed)
CRMD_CODEC_INSTANTIATE(crmd::ev::lead_updated)
CRMD_CODEC_INSTANTIATE(crmd::ev::lead_deleted)
CRMD_CODEC_INSTANTIATE(crmd::ev::lead_converted)
CRMD_CODEC_INSTANTIATE(crmd::ev::settings_changed)
CRMD_CODEC_INSTANTIATE(crmd::ev::settings_changed_v1)
CRMD_CODEC_INSTANTIATE(crmd::ev::whatsapp_token_changed)
CRMD_CODEC_INSTANTIATE(crmd::ev::contact_erased)
CRMD_CODEC_INSTANTIATE(crmd::ev::task_created)
CRMD_CODEC_INSTANTIATE(crmd::ev::task_completed)
CRMD_CODEC_INSTANTIATE(crmd::ev::task_reopened)
CRMD_CODEC_INSTANTIATE(crmd::ev::task_rescheduled)
CRMD_CODEC_INSTANTIATE(crmd::ev::task_due)
CRMD_CODEC_INSTANTIATE(crmd::ev::contract_created)
CRMD_CODEC_INSTANTIATE(crmd::ev::contract_status_changed)
CRMD_CODEC_INSTANTIATE(crmd::ev::signature_recorded)
CRMD_CODEC_INSTANTIATE(crmd::ev::invoice_created)
CRMD_CODEC_INSTANTIATE(crmd::ev::invoice_status_changed)
CRMD_CODEC_INSTANTIATE(crmd::ev::invoice_paid)
CRMD_CODEC_INSTANTIATE(crmd::ev::deal_created)
CRMD_CODEC_INSTANTIATE(crmd::ev::deal_updated)
CRMD_CODEC_INSTANTIATE(crmd::ev::deal_closed)
CRMD_CODEC_INSTANTIATE(crmd::ev::pipeline_changed)
CRMD_CODEC_INSTANTIATE(crmd::ev::payment_intent_recorded)
CRMD_CODEC_INSTANTIATE(crmd::ev::phone_numbers_assigned)
CRMD_CODEC_INSTANTIATE(crmd::ev::voice_configured)
CRMD_CODEC_INSTANTIATE(crmd::ev::call_started)
CRMD_CODEC_INSTANTIATE(crmd::ev::call_status_changed)
CRMD_CODEC_INSTANTIATE(crmd::ev::recording_available)
CRMD_CODEC_INSTANTIATE(crmd::ev::recording_failed)
CRMD_CODEC_INSTANTIATE(crmd::ev::recording_downloaded)
CRMD_CODEC_INSTANTIATE(crmd::ev::recording_download_failed)
CRMD_CODEC_INSTANTIATE(crmd::ev::call_transcribed)
CRMD_CODEC_INSTANTIATE(crmd::ev::call_transcription_failed)
CRMD_CODEC_INSTANTIATE(crmd::ev::call_summarized)
CRMD_CODEC_INSTANTIATE(crmd::ev::call_summary_failed)
CRMD_CODEC_INSTANTIATE(crmd::ev::transcription_retry_requested)
CRMD_CODEC_INSTANTIATE(crmd::ev::call_unrouted)
CRMD_CODEC_INSTANTIATE(crmd::ev::wa_start_requested)
CRMD_CODEC_INSTANTIATE(crmd::ev::wa_qr_shown)
CRMD_CODEC_INSTANTIATE(crmd::ev::wa_scanned)
CRMD_CODEC_INSTANTIATE(crmd::ev::wa_connected)
CRMD_CODEC_INSTANTIATE(crmd::ev::wa_disconnected)
CRMD_CODEC_INSTANTIATE(crmd::ev::wa_retry_scheduled)
CRMD_CODEC_INSTANTIATE(crmd::ev::wa_stopped)
CRMD_CODEC_INSTANTIATE(crmd::ev::wa_logged_out)
CRMD_CODEC_INSTANTIATE(crmd::ev::wa_failed)
CRMD_CODEC_INSTANTIATE(crmd::ev::wa_message_received)
CRMD_CODEC_INSTANTIATE(crmd::ev::wa_message_status)
CRMD_CODEC_INSTANTIATE(crmd::ev::whatsapp_cloud_assigned)

namespace crmd::ev {

result<settings_changed> settings_changed::upcast(uint16_t from_version, std::string_view payload) {
  if (from_version != 1) return status{errc::unsupported, "settings_changed has no upcast from version " + std::to_string(from_version)};
  settings_changed_v1 old;
  if (auto s = codec::decode_payload(payload, old); !s) return s;
  settings_changed out;
  out.default_region = std::move(old.default_region);
  out.language = std::move(old.language);
  out.time_zone = std::move(old.time_zone);
  out.whatsapp_provider = "baileys";
  return out;
}

}  // namespace crmd::ev
