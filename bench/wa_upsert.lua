-- wrk script: one WhatsApp message per request to the bridge webhook, each
-- with a new id, from 1000 senders (leads after the warm-up).
local secret = os.getenv("INTERNAL_SECRET")
local threads = 0
setup = function(thread)
  thread:set("id", threads)
  threads = threads + 1
end
local n = 0
request = function()
  n = n + 1
  local sender = 972520000000 + (n % 1000)
  local body = '{"event":"messages.upsert","data":{"type":"notify","messages":[{"key":{"remoteJid":"' .. sender ..
      '@s.whatsapp.net","fromMe":false,"id":"B' .. id .. "_" .. n .. '_' .. os.time() ..
      '"},"message":{"conversation":"\\u05e9\\u05dc\\u05d5\\u05dd, price please #' .. n ..
      '"},"messageTimestamp":1764475200,"pushName":"Customer"}]}}'
  return wrk.format("POST", "/webhook/whatsapp/t0/events",
                    {["Content-Type"] = "application/json", ["X-Internal-Secret"] = secret}, body)
end
