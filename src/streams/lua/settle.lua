--[[
  Settles a batch of delivered entries of one tenant's stream, each in one step: appends its
  follow-on events (each at most once, by event id), optionally dead-letters it, clears its retry
  record and acknowledges it. Only the consumer that currently owns an entry may settle it: a
  consumer that stalled past the claim timeout finds its entry taken over, and its late result is
  dropped.

  Follow-on events go to the lane of their input. Uses appendToLane (lane-id.lua) and
  markerGet/markerSet (markers.lua), prepended.

  KEYS[1] the entries' lane          (sd:{tenant}:events or sd:{tenant}:events:priority)
  KEYS[2] the tenant's other lane    (only read: both lanes share one id sequence)
  KEYS[3] tenant dead-letter stream  (sd:{tenant}:dlq)
  KEYS[4] the group's retry records  (sd:{tenant}:retry:<group>)
  KEYS[5] the lanes' id sequence     (sd:{tenant}:lane-id)
  KEYS[6..] per follow-on event, all entries' in order: its ticket's markers (sd:{tenant}:marks:<ticket>)
            and its marker's key from before markers were folded (sd:{tenant}:emitted:<eventId>, only read)
  ARGV[1] group
  ARGV[2] consumer
  ARGV[3] marker window, seconds
  ARGV[4] number of entries
  then, per entry:
    its entry id, its number of follow-on events n, its number of dead-letter fields d (0: none),
    the d dead-letter field/value items,
    for each of the n follow-on events: its marker field (e:<eventId>), its field count, then its
    field/value items

  Returns, per entry, the number of follow-on events appended, or -1 when this consumer no longer
  owns the entry.

  The bookkeeping is per batch, not per entry: one XPENDING over this consumer's entries in the
  batch's id range (an entry it does not return is checked alone when the reply was cut short),
  one read and one write of the id sequence, one HDEL and one XACK for all owned entries.
]]

local function idBefore(a, b)
  local aMs, aSeq = laneIdParts(a)
  local bMs, bSeq = laneIdParts(b)
  return aMs < bMs or (aMs == bMs and aSeq < bSeq)
end

-- Calls a variadic command: `prefix` (the command and its fixed arguments), then `items` in chunks unpack can take.
local function callWithItems(prefix, items)
  for first = 1, #items, 1000 do
    local args = { unpack(prefix) }
    for i = first, math.min(#items, first + 999) do
      args[#args + 1] = items[i]
    end
    redis.call(unpack(args))
  end
end

local entries = {}
local pos = 5
for entry = 1, tonumber(ARGV[4]) do
  local current = { id = ARGV[pos], followOns = tonumber(ARGV[pos + 1]), deadLetter = tonumber(ARGV[pos + 2]) }
  current.deadLetterAt = pos + 3
  pos = pos + 3 + current.deadLetter
  current.eventsAt = pos
  for _ = 1, current.followOns do
    pos = pos + tonumber(ARGV[pos + 1]) + 2
  end
  entries[entry] = current
end

-- Which entries this consumer owns: its pending entries between the batch's first and last id.
local owners = {}
if #entries > 0 then
  local first, last = entries[1].id, entries[1].id
  for _, current in ipairs(entries) do
    if idBefore(current.id, first) then first = current.id end
    if idBefore(last, current.id) then last = current.id end
  end
  local limit = #entries + 100
  local pending = redis.call('XPENDING', KEYS[1], ARGV[1], first, last, limit, ARGV[2])
  for _, item in ipairs(pending) do
    owners[item[1]] = true
  end
  if #pending >= limit then
    for _, current in ipairs(entries) do
      if not owners[current.id] then
        local one = redis.call('XPENDING', KEYS[1], ARGV[1], current.id, current.id, 1)
        owners[current.id] = #one == 1 and one[1][2] == ARGV[2]
      end
    end
  end
end

local appender = laneAppender(KEYS[1], KEYS[2], KEYS[5])
local results = {}
local owned = {}

local window = tonumber(ARGV[3])

local function settleEntries()
  local marker = 6
  for index, current in ipairs(entries) do
    local isOwned = owners[current.id] == true
    if isOwned and current.deadLetter > 0 then
      redis.call('XADD', KEYS[3], '*', unpack(ARGV, current.deadLetterAt, current.deadLetterAt + current.deadLetter - 1))
    end
    local appended = 0
    local at = current.eventsAt
    for _ = 1, current.followOns do
      local field = ARGV[at]
      local fieldCount = tonumber(ARGV[at + 1])
      if isOwned and not markerGet(KEYS[marker], KEYS[marker + 1], field) then
        -- Appended before it is marked: a failure in between repeats the event rather than losing it.
        appender.append(unpack(ARGV, at + 2, at + fieldCount + 1))
        markerSet(KEYS[marker], field, '1', window)
        appended = appended + 1
      end
      marker = marker + 2
      at = at + fieldCount + 2
    end
    if isOwned then
      owned[#owned + 1] = current.id
      results[index] = appended
    else
      results[index] = -1
    end
  end
end

-- A command that fails half-way leaves what ran before it (Redis does not roll a script back): the
-- id sequence still records the ids given out, and no entry is acknowledged, so the batch is settled
-- again and the follow-ons already appended are skipped by their markers.
local settled, failure = pcall(settleEntries)
appender.finish()
if not settled then
  error(failure)
end
if #owned > 0 then
  callWithItems({ 'HDEL', KEYS[4] }, owned)
  callWithItems({ 'XACK', KEYS[1], ARGV[1] }, owned)
end
return results
