--[[
  Removes a consumer from a group, but only when it holds no pending entries (deleting a consumer
  drops its pending entries, which would lose them).

  KEYS[1] tenant event stream
  ARGV[1] group
  ARGV[2] consumer

  Returns 1 when removed, 0 when it still holds entries or does not exist.
]]
local ok, pending = pcall(redis.call, 'XPENDING', KEYS[1], ARGV[1], '-', '+', 1, ARGV[2])
if not ok or #pending > 0 then
  return 0
end
local removed = redis.pcall('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
if type(removed) == 'table' then
  return 0
end
return 1
