--[[
  Appends an event unless its delivery, or the same request or ticket event, was seen before;
  marks them seen in the same step, so nothing is marked without its event nor appended twice.

  Uses appendToLane (lane-id.lua, prepended).

  KEYS[1] the tenant's lane to append to  (sd:{tenant}:events or sd:{tenant}:events:priority)
  KEYS[2] the tenant's other lane         (only read: both lanes share one id sequence)
  KEYS[3] the lanes' id sequence          (sd:{tenant}:lane-id)
  KEYS[4] delivery marker      (sd:{tenant}:seen:<deliveryId>, or a follow-on's emitted:<eventId>)
  KEYS[5] optional dedupe key  (sd:{tenant}:dedupe:<hash>: a signed request, or a ticket event)
  ARGV[1] delivery marker TTL, seconds
  ARGV[2] the new event's id
  ARGV[3] hash of the body ('' when there is none to compare)
  ARGV[4] dedupe key TTL, seconds (ignored without KEYS[5])
  ARGV[5..] the entry's field/value pairs

  A delivery marker holds "<eventId> <bodyHash>" (older markers: just the event id).
  Returns {1, eventId, streamId} when appended, {0, firstEventId} for a repeat,
  {2, firstEventId} when the delivery id was used before for a different body.
]]
local seen = redis.call('GET', KEYS[4])
if seen then
  local space = string.find(seen, ' ', 1, true)
  if space then
    local first = string.sub(seen, 1, space - 1)
    if ARGV[3] ~= '' and string.sub(seen, space + 1) ~= ARGV[3] then
      return {2, first}
    end
    return {0, first}
  end
  return {0, seen}
end
if KEYS[5] then
  local earlier = redis.call('GET', KEYS[5])
  if earlier then
    -- This delivery id now belongs to that event: reusing it for another body is a conflict.
    if ARGV[3] ~= '' then
      redis.call('SET', KEYS[4], earlier .. ' ' .. ARGV[3], 'EX', ARGV[1])
    end
    return {0, earlier}
  end
end
local streamId = appendToLane(KEYS[1], KEYS[2], KEYS[3], unpack(ARGV, 5))
local marker = ARGV[2]
if ARGV[3] ~= '' then
  marker = ARGV[2] .. ' ' .. ARGV[3]
end
redis.call('SET', KEYS[4], marker, 'EX', ARGV[1])
if KEYS[5] then
  redis.call('SET', KEYS[5], ARGV[2], 'EX', ARGV[4])
end
return {1, ARGV[2], streamId}
