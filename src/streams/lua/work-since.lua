--[[
  What a reader needs to learn which tenants got work since it last looked, read in one step:
  the bell's last entry id (to block on while idle), the current work sequence and the tenants
  marked after the reader's cursor (see streams/work.ts and mark-work.lua).

  KEYS[1] marks by their latest work sequence number    (sorted set sd:work; a tenant's lane or a tenant id)
  KEYS[2] the work sequence                             (sd:work:seq)
  KEYS[3] the bell                                      (sd:work:bell)
  ARGV[1] the reader's cursor: the greatest sequence number it has seen

  Returns {bellId ('0-0' when none), sequence (0 when none), {mark, sequence, mark, sequence, ...}}.
]]
local last = redis.call('XREVRANGE', KEYS[3], '+', '-', 'COUNT', 1)
local bell = '0-0'
if last[1] then
  bell = last[1][1]
end
local seq = tonumber(redis.call('GET', KEYS[2]) or '0')
local marked = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. ARGV[1], '+inf', 'WITHSCORES')
return {bell, seq, marked}
