-- wrk script: POST customers with distinct names and phones, or notes on one
-- customer (NOTE_ON set), with the operator token (CRMD_TOKEN).
local token = os.getenv("CRMD_TOKEN")
local note_on = os.getenv("NOTE_ON")
local n = 0
local thread_no = 0
-- Each run and thread gets its own range, so names never repeat across runs.
math.randomseed(os.time())
local run = math.random(1, 999) * 100000000
setup = function(thread)
  thread:set("offset", run + thread_no * 10000000)
  thread_no = thread_no + 1
end
request = function()
  n = n + 1
  local i = offset + n
  local h = {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"}
  if note_on then
    return wrk.format("POST", "/api/customers/" .. note_on .. "/notes?business_id=t0", h,
                      '{"text":"note ' .. i .. ' \\u05e9\\u05dc\\u05d5\\u05dd"}')
  end
  -- No phone: numbers must be unique per tenant, and these runs would collide.
  return wrk.format("POST", "/api/crm/customers?business_id=t0", h,
                    '{"name":"Customer ' .. i .. '","email":"c' .. i .. '@x.test"}')
end
