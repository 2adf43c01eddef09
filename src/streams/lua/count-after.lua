--[[
  Counts, for each of a stream's consumer groups, the entries after the group's last-delivered id:
  the group's undelivered backlog. XINFO's own `lag` cannot be trusted for this: after Redis reloads
  its AOF it reports nil, or a stale and too large figure, until the group next catches up. The
  count runs here so no entry travels to the client, and stops at a cap so its cost stays bounded.

  KEYS[1] tenant event stream
  ARGV[1] cap: counting stops once this many entries are found
  ARGV[2..] the groups' last-delivered ids, greatest first

  Returns one count per id, in the same order, none over the cap. The ranges are counted from the
  newest id down, each one adding the entries between two ids, so each entry is visited once.
]]
local cap = tonumber(ARGV[1])
local chunk = 500
local counts = {}
local total = 0
local upper = '+'
for i = 2, #ARGV do
  local start = '(' .. ARGV[i]
  while total < cap do
    local want = math.min(chunk, cap - total)
    local entries = redis.call('XRANGE', KEYS[1], start, upper, 'COUNT', want)
    total = total + #entries
    if #entries < want then
      break
    end
    start = '(' .. entries[#entries][1]
  end
  counts[#counts + 1] = math.min(total, cap)
  upper = ARGV[i]
end
return counts
