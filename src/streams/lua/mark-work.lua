--[[
  Marks tenants' lanes as having new entries, for readers that read only streams with work
  (see streams/work.ts). Called after the append, never before: a reader that read a lane before
  the append and found it empty then sees a sequence number past its cursor and reads it again.

  KEYS[1] marks by their latest work sequence number    (sorted set sd:work)
  KEYS[2] the work sequence                             (sd:work:seq)
  KEYS[3] the bell: a one-entry stream idle readers block on  (sd:work:bell)
  ARGV[1..] marks: a tenant's lane (<tenant>:normal, <tenant>:priority) or a tenant id (both lanes)

  Returns the sequence number given to these marks.
]]
local seq = redis.call('INCR', KEYS[2])
for i = 1, #ARGV do
  redis.call('ZADD', KEYS[1], seq, ARGV[i])
end
redis.call('XADD', KEYS[3], 'MAXLEN', '1', '*', 'seq', seq)
return seq
