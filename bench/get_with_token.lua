-- wrk script: GET the URL path given with the operator token (CRMD_TOKEN).
local token = os.getenv("CRMD_TOKEN")
wrk.headers["Authorization"] = "Bearer " .. token
