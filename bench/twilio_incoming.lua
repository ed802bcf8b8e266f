-- wrk script: POST pre-signed incoming_call webhooks (bench/twilio_requests.cpp
-- wrote them to $TWILIO_REQUESTS), each wrk thread its own share of lines.
local lines = {}
for line in io.lines(os.getenv("TWILIO_REQUESTS")) do
  local body, sig = line:match("^(.-)\t(.*)$")
  lines[#lines + 1] = {body, sig}
end
local threads = 0
setup = function(thread)
  thread:set("id", threads)
  threads = threads + 1
end
local n = 0
request = function()
  -- threads take alternate lines; past the end, CallSids repeat (retries).
  local i = (n * 2 + id) % #lines + 1
  n = n + 1
  return wrk.format("POST", "/webhook/incoming_call", {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["X-Twilio-Signature"] = lines[i][2]}, lines[i][1])
end
