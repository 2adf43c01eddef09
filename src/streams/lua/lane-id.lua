--[[
  Prepended to every script that appends to a tenant's event lanes (ingest, settle, redrive): the
  next id of the tenant's lanes, after the current time and after the last id either lane ever
  generated. Both lanes draw from one sequence, so an id names one entry of the tenant whichever
  lane holds it (the archive's key) and ids order all of a tenant's events (stream_position).

  nextLaneId(lane, otherLane) → "<ms>-<seq>"
]]
local function laneIdParts(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return tonumber(ms), tonumber(seq)
end

local function lastGeneratedId(key)
  if redis.call('EXISTS', key) == 0 then
    return nil
  end
  local info = redis.call('XINFO', 'STREAM', key)
  for i = 1, #info, 2 do
    if info[i] == 'last-generated-id' then
      return info[i + 1]
    end
  end
  return nil
end

local function nextLaneId(lane, otherLane)
  local time = redis.call('TIME')
  local ms = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
  local seq = 0
  for _, key in ipairs({lane, otherLane}) do
    local last = lastGeneratedId(key)
    if last then
      local lastMs, lastSeq = laneIdParts(last)
      if lastMs > ms or (lastMs == ms and lastSeq >= seq) then
        ms = lastMs
        seq = lastSeq + 1
      end
    end
  end
  return string.format('%.0f-%.0f', ms, seq)
end
