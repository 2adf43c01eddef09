--[[
  Appends an event unless its delivery, or the same request or ticket event, was seen before;
  marks them seen in the same step, so nothing is marked without its event nor appended twice.

  An appended entry marks its lane as having work in the same step (one round trip per webhook),
  unless ARGV[6] is '' (Redis Cluster: the work keys live in another slot, readers read every lane).

  Uses appendToLane (lane-id.lua), markerGet/markerSet (markers.lua) and markWork (work-mark.lua),
  prepended.

  KEYS[1] the tenant's lane to append to  (sd:{tenant}:events or sd:{tenant}:events:priority)
  KEYS[2] the tenant's other lane         (only read: both lanes share one id sequence)
  KEYS[3] the lanes' id sequence          (sd:{tenant}:lane-id)
  KEYS[4] delivery marker      (sd:{tenant}:seen:<deliveryId>, or a follow-on's sd:{tenant}:marks:<ticket>)
  KEYS[5] a follow-on marker's key from before markers were folded (only read; see markers.lua)
  KEYS[6] optional dedupe key  (sd:{tenant}:dedupe:<hash>: a signed request, or a ticket event)
  KEYS[last 3] with ARGV[6]: the work keys (sd:work, sd:work:seq, sd:work:bell)
  ARGV[1] marker window, seconds
  ARGV[2] the new event's id
  ARGV[3] hash of the body ('' when there is none to compare)
  ARGV[4] dedupe key TTL, seconds (ignored without a dedupe key)
  ARGV[5] the marker's field  ('' for a delivery marker, a follow-on's e:<eventId>)
  ARGV[6] the work mark of the lane appended to (<tenant>:<lane>), or ''
  ARGV[7..] the entry's field/value pairs

  A delivery marker holds "<eventId> <prefix of the body's hash>" (older markers: the whole hash, or
  just the event id).
  Returns {1, eventId, streamId} when appended, {0, firstEventId} for a repeat,
  {2, firstEventId} when the delivery id was used before for a different body.
]]
local marking = ARGV[6] ~= ''
local dedupeKey = nil
if #KEYS == (marking and 9 or 6) then
  dedupeKey = KEYS[6]
end
local window = tonumber(ARGV[1])
local seen = markerGet(KEYS[4], KEYS[5], ARGV[5])
if seen then
  local space = string.find(seen, ' ', 1, true)
  if space then
    local first = string.sub(seen, 1, space - 1)
    -- Markers hold a prefix of the body's hash (older markers: all of it).
    if ARGV[3] ~= '' and string.sub(seen, space + 1, space + #ARGV[3]) ~= ARGV[3] then
      return {2, first}
    end
    return {0, first}
  end
  return {0, seen}
end
if dedupeKey then
  local earlier = redis.call('GET', dedupeKey)
  if earlier then
    -- This delivery id now belongs to that event: reusing it for another body is a conflict.
    if ARGV[3] ~= '' then
      markerSet(KEYS[4], ARGV[5], earlier .. ' ' .. ARGV[3], window)
    end
    return {0, earlier}
  end
end
local streamId = appendToLane(KEYS[1], KEYS[2], KEYS[3], unpack(ARGV, 7))
local marker = ARGV[2]
if ARGV[3] ~= '' then
  marker = ARGV[2] .. ' ' .. ARGV[3]
end
markerSet(KEYS[4], ARGV[5], marker, window)
if dedupeKey then
  redis.call('SET', dedupeKey, ARGV[2], 'EX', ARGV[4])
end
if marking then
  markWork(KEYS[#KEYS - 2], KEYS[#KEYS - 1], KEYS[#KEYS], {ARGV[6]})
end
return {1, ARGV[2], streamId}
