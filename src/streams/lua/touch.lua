--[[
  Keeps entries that this consumer is still working on from looking idle, so the claim timeout can
  stay short without a live consumer's work being taken over. Entries another consumer has
  claimed meanwhile are left alone; entries no longer pending at all were acknowledged (settled by
  this consumer while the call was on its way) and are neither touched nor reported.

  KEYS[1] tenant event stream
  ARGV[1] group
  ARGV[2] consumer
  ARGV[3..] entry ids

  Returns the ids that another consumer now owns: a takeover.
]]
local lost = {}
for i = 3, #ARGV do
  local pending = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1)
  if #pending == 1 then
    if pending[1][2] == ARGV[2] then
      redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i], 'JUSTID')
    else
      lost[#lost + 1] = ARGV[i]
    end
  end
end
return lost
