--[[
  Settles one delivered entry in one step: appends its follow-on events (each at most once,
  by event id), optionally dead-letters it, clears its retry record and acknowledges it.
  Only the consumer that currently owns the entry may settle it: a consumer that stalled past
  the claim timeout finds its entry taken over and its late result is dropped.

  KEYS[1] tenant event stream        (sd:{tenant}:events)
  KEYS[2] tenant dead-letter stream  (sd:{tenant}:dlq)
  KEYS[3] the group's retry records  (sd:{tenant}:retry:<group>)
  KEYS[4..3+n] one emitted-marker key per follow-on event (sd:{tenant}:emitted:<eventId>)
  ARGV[1] group
  ARGV[2] consumer
  ARGV[3] entry id being settled
  ARGV[4] emitted-marker TTL, seconds
  ARGV[5] n, the number of follow-on events
  ARGV[6] number of dead-letter fields (0: no dead letter)
  then the dead-letter field/value pairs,
  then for each follow-on event: its field count, then its field/value pairs

  Returns the number of follow-on events appended, or -1 when this consumer no longer owns the entry.
]]
local pending = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[3], ARGV[3], 1)
if #pending == 0 or pending[1][2] ~= ARGV[2] then
  return -1
end
local pos = 7
local dlqFieldCount = tonumber(ARGV[6])
if dlqFieldCount > 0 then
  redis.call('XADD', KEYS[2], '*', unpack(ARGV, pos, pos + dlqFieldCount - 1))
  pos = pos + dlqFieldCount
end
local appended = 0
for i = 1, tonumber(ARGV[5]) do
  local fieldCount = tonumber(ARGV[pos])
  if redis.call('SET', KEYS[3 + i], '1', 'NX', 'EX', ARGV[4]) then
    redis.call('XADD', KEYS[1], '*', unpack(ARGV, pos + 1, pos + fieldCount))
    appended = appended + 1
  end
  pos = pos + fieldCount + 1
end
redis.call('HDEL', KEYS[3], ARGV[3])
redis.call('XACK', KEYS[1], ARGV[1], ARGV[3])
return appended
