-- wrk script for bench/lock.sh: each wrk thread is one FleetLock client (one connection, its own id)
-- alternating pre-reboot and steady-state, the lock/unlock cycle of a rebooting node.
local counter = 0
function setup(thread)
   thread:set("id", counter)
   counter = counter + 1
end
function init(args)
   n = 0
   body = '{"client_params":{"id":"bench-' .. id .. '","group":"default"}}'
   headers = { ["fleet-lock-protocol"] = "true" }
end
request = function()
   n = n + 1
   local path = (n % 2 == 1) and "/v1/pre-reboot" or "/v1/steady-state"
   return wrk.format("POST", path, headers, body)
end
