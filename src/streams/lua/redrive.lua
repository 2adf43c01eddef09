--[[
  Puts one dead letter back on its lane as a new entry and removes it from the dead-letter stream,
  in one step (uses appendToLane, lane-id.lua, prepended).

  KEYS[1] the lane the entry came from  (sd:{tenant}:events or sd:{tenant}:events:priority)
  KEYS[2] the tenant's other lane       (only read: both lanes share one id sequence)
  KEYS[3] tenant dead-letter stream     (sd:{tenant}:dlq)
  KEYS[4] the lanes' id sequence        (sd:{tenant}:lane-id)
  ARGV[1] the dead letter's id
  ARGV[2..] the entry's field/value pairs

  Returns the new entry's id, or false when the dead letter was already gone.
]]
if redis.call('XDEL', KEYS[3], ARGV[1]) == 0 then
  return false
end
return appendToLane(KEYS[1], KEYS[2], KEYS[4], unpack(ARGV, 2))
