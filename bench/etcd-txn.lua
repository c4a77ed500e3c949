-- wrk script for bench/lock.sh: etcd's own raw compare-and-swap rate through its v3 JSON gateway: a
-- transaction that compares the key's mod_revision and puts, the shape of upkeep-lock's write (both
-- branches put, so every request writes). The physical limit of one CAS round trip per lock operation.
-- Each wrk thread writes its own key.
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
   local key, value = enc("bench/txn/" .. id), enc('{"total_slots":16,"holders":[]}')
   local put = '{"requestPut":{"key":"' .. key .. '","value":"' .. value .. '"}}'
   body = '{"compare":[{"key":"' .. key .. '","target":"MOD","result":"GREATER","mod_revision":"0"}],' ..
      '"success":[' .. put .. '],"failure":[' .. put .. ']}'
end
request = function()
   return wrk.format("POST", "/v3/kv/txn", { ["Content-Type"] = "application/json" }, body)
end
