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
]]
local results = {}
local pos = 5
local marker = 6
local window = tonumber(ARGV[3])
for entry = 1, tonumber(ARGV[4]) do
  local id = ARGV[pos]
  local followOns = tonumber(ARGV[pos + 1])
  local deadLetterFields = tonumber(ARGV[pos + 2])
  pos = pos + 3
  local pending = redis.call('XPENDING', KEYS[1], ARGV[1], id, id, 1)
  local owned = #pending == 1 and pending[1][2] == ARGV[2]
  if owned and deadLetterFields > 0 then
    redis.call('XADD', KEYS[3], '*', unpack(ARGV, pos, pos + deadLetterFields - 1))
  end
  pos = pos + deadLetterFields
  local appended = 0
  for _ = 1, followOns do
    local field = ARGV[pos]
    local fieldCount = tonumber(ARGV[pos + 1])
    if owned and not markerGet(KEYS[marker], KEYS[marker + 1], field, window) then
      markerSet(KEYS[marker], field, '1', window)
      appendToLane(KEYS[1], KEYS[2], KEYS[5], unpack(ARGV, pos + 2, pos + fieldCount + 1))
      appended = appended + 1
    end
    marker = marker + 2
    pos = pos + fieldCount + 2
  end
  if owned then
    redis.call('HDEL', KEYS[4], id)
    redis.call('XACK', KEYS[1], ARGV[1], id)
    results[entry] = appended
  else
    results[entry] = -1
  end
end
return results
