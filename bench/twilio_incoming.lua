-- wrk script (-t2): POST pre-signed incoming_call webhooks that
-- bench/twilio_requests.cpp wrote, whole, into $TWILIO_REQUESTS.0 and .1,
-- one file for each wrk thread, each request as "<length>\n<bytes>".
-- Nothing is loaded before the run (wrk starts its first thread while it
-- still sets up the second, and its clock only after) and nothing is
-- formatted in it (the client shares the two cores with the server).
local threads = 0
setup = function(thread)
  thread:set("id", threads)
  threads = threads + 1
end
local f
request = function()
  if not f then f = assert(io.open(os.getenv("TWILIO_REQUESTS") .. "." .. id, "rb")) end
  local len = f:read("*n")
  if not len then  -- past the end, CallSids repeat (retries)
    f:seek("set", 0)
    len = f:read("*n")
  end
  f:read(1)  -- the newline after the length
  return f:read(len)
end
