--[[
  Trims a tenant's stream to its retention policy without ever removing an entry at or above a
  floor (what the archiver has not stored, or some group has not processed). Works inside Redis,
  so no entry travels to the client, and visits at most a budget of entries per call for the
  length bound (the rest goes on the next call).

  KEYS[1] tenant event stream
  ARGV[1] floor: no entry with an id at or above it is removed
  ARGV[2] age bound: entries below it are old enough to go
  ARGV[3] maximum length to keep
  ARGV[4] budget: entries walked at most to apply the length bound

  Returns the number of entries removed.
]]
local function parse(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return ms, seq
end
-- Stream ids compared exactly, as decimal strings (a sequence can exceed a double's precision).
local function less(a, b)
  local am, as = parse(a)
  local bm, bs = parse(b)
  if #am ~= #bm then return #am < #bm end
  if am ~= bm then return am < bm end
  if #as ~= #bs then return #as < #bs end
  return as < bs
end

local stream, floor, ageBound = KEYS[1], ARGV[1], ARGV[2]
local maxLength, budget = tonumber(ARGV[3]), tonumber(ARGV[4])
local minId = floor
if less(ageBound, floor) then
  minId = ageBound
end
local removed = redis.call('XTRIM', stream, 'MINID', minId)

local excess = redis.call('XLEN', stream) - maxLength
if excess <= 0 then
  return removed
end
-- The oldest `excess` entries go too, but only as far as the floor.
local want = math.min(excess, budget)
local walked = 0
local start = '-'
while walked < want do
  local entries = redis.call('XRANGE', stream, start, '+', 'COUNT', math.min(500, want - walked))
  if #entries == 0 then
    break
  end
  for _, entry in ipairs(entries) do
    if not less(entry[1], floor) then
      want = walked
      break
    end
    walked = walked + 1
    start = '(' .. entry[1]
  end
end
if walked > 0 then
  removed = removed + redis.call('XTRIM', stream, 'MAXLEN', redis.call('XLEN', stream) - walked)
end
return removed
