--[[
  Appends a webhook's event unless its delivery was seen before; marks the delivery seen in the
  same step, so a delivery is never marked without its event nor appended twice.

  KEYS[1] tenant event stream      (sd:{tenant}:events)
  KEYS[2] delivery idempotency key (sd:{tenant}:seen:<deliveryId>)
  ARGV[1] idempotency TTL, seconds
  ARGV[2] the new event's id
  ARGV[3..] the entry's field/value pairs

  Returns {1, eventId, streamId} when appended, {0, firstEventId} for a repeated delivery.
]]
local first = redis.call('GET', KEYS[2])
if first then
  return {0, first}
end
local streamId = redis.call('XADD', KEYS[1], '*', unpack(ARGV, 3))
redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[1])
return {1, ARGV[2], streamId}
