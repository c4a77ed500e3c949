-- wrk script for bench/graph.sh: every request is a different node (a random node_uuid, so a random
-- wariness), polling the stable stream as Zincati does. nginx ignores the query; upkeep-graph parses it,
-- hashes the uuid to a wariness and picks the answer that wariness may see of the ramping rollout.
local hex = "0123456789abcdef"
function init(args)
   math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16) % 100000)
end
request = function()
   local t = {}
   for i = 1, 32 do
      local k = math.random(16)
      t[i] = hex:sub(k, k)
   end
   return wrk.format("GET", "/v1/graph?basearch=x86_64&stream=stable&node_uuid=" .. table.concat(t) ..
      "&os_version=33.20201201.3.0&group=default&platform=metal&os_checksum=cad80088392f")
end
