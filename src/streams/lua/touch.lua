--[[
  Keeps entries that this consumer is still working on from looking idle, so the claim timeout can
  stay short without a live consumer's work being taken over. Entries another consumer has
  claimed meanwhile are left alone.

  KEYS[1] tenant event stream
  ARGV[1] group
  ARGV[2] consumer
  ARGV[3..] entry ids

  Returns the ids this consumer no longer owns.
]]
local lost = {}
for i = 3, #ARGV do
  local pending = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1)
  if #pending == 1 and pending[1][2] == ARGV[2] then
    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i], 'JUSTID')
  else
    lost[#lost + 1] = ARGV[i]
  end
end
return lost
