-- wrk script: POST a prompt to one of 8 tenants (t0..t7), spread by request.
-- The token comes from the environment (CRMD_TOKEN).
local token = os.getenv("CRMD_TOKEN")
local n = 0
request = function()
  n = n + 1
  local path = "/api/business/t" .. (n % 8) .. "/prompts"
  local body = '{"title":"bench","body":"summarise the call in Hebrew, \\u05e9\\u05dc\\u05d5\\u05dd #' .. n .. '"}'
  return wrk.format("POST", path, {["Authorization"] = "Bearer " .. token,
                                   ["Content-Type"] = "application/json"}, body)
end
