-- wrk script for bench/lock.sh: etcd's own raw write rate through its v3 JSON gateway, the physical
-- limit of one etcd round trip per lock operation. ETCD_OP=put (default): /v3/kv/put. ETCD_OP=txn:
-- /v3/kv/txn with a mod_revision compare and a put, the shape of upkeep-lock's compare-and-swap (both
-- branches put, so every request writes). Each wrk thread writes its own key.
local counter = 0
function setup(thread)
   thread:set("id", counter)
   counter = counter + 1
end
local b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local function enc(s)
   return ((s:gsub('.', function(x)
      local r, b = '', x:byte()
      for i = 8, 1, -1 do r = r .. (b % 2 ^ i - b % 2 ^ (i - 1) > 0 and '1' or '0') end
      return r
   end) .. '0000'):gsub('%d%d%d?%d?%d?%d?', function(x)
      if (#x < 6) then return '' end
      local c = 0
      for i = 1, 6 do c = c + (x:sub(i, i) == '1' and 2 ^ (6 - i) or 0) end
      return b64:sub(c + 1, c + 1)
   end) .. ({ '', '==', '=' })[#s % 3 + 1])
end
function init(args)
   local key, value = enc("bench/raw/" .. id), enc('{"total_slots":16,"holders":[]}')
   op = os.getenv("ETCD_OP") or "put"
   body = '{"key":"' .. key .. '","value":"' .. value .. '"}'
   if op == "txn" then
      body = '{"compare":[{"key":"' .. key .. '","target":"MOD","result":"GREATER","mod_revision":"0"}],' ..
         '"success":[{"requestPut":' .. body .. '}],"failure":[{"requestPut":' .. body .. '}]}'
   end
end
request = function()
   return wrk.format("POST", "/v3/kv/" .. op, { ["Content-Type"] = "application/json" }, body)
end
