--[[
  Prepended to the scripts that mark tenants' lanes as having new entries (mark-work, ingest), for
  readers that read only streams with work (see streams/work.ts). A mark comes after the append,
  never before: a reader that read a lane before the append and found it empty then sees a
  sequence number past its cursor and reads it again.

  markWork(marksKey, sequenceKey, bellKey, marks) → the sequence number given to these marks
    marksKey     marks by their latest work sequence number  (sorted set sd:work)
    sequenceKey  the work sequence                           (sd:work:seq)
    bellKey      the bell: a one-entry stream idle readers block on  (sd:work:bell)
    marks        a list of marks: a tenant's lane (<tenant>:normal, <tenant>:priority) or a tenant id
]]
local function markWork(marksKey, sequenceKey, bellKey, marks)
  local seq = redis.call('INCR', sequenceKey)
  for i = 1, #marks do
    redis.call('ZADD', marksKey, seq, marks[i])
  end
  redis.call('XADD', bellKey, 'MAXLEN', '1', '*', 'seq', seq)
  return seq
end
