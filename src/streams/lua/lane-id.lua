--[[
  Prepended to every script that appends to a tenant's event lanes (ingest, settle, redrive).
  Both lanes draw their ids from one sequence, so an id names one entry of the tenant whichever
  lane holds it (the archive's key) and ids order all of a tenant's events (stream_position).

  appendToLane(lane, otherLane, sequenceKey, field, value, ...) → the new entry's id
    lane         the stream to append to
    otherLane    the tenant's other lane
    sequenceKey  the last id given out (sd:{tenant}:lane-id)

  laneAppender(lane, otherLane, sequenceKey) → an appender for many entries in one script:
    appender.append(field, value, ...) → the new entry's id
    appender.finish()                    stores the last id given out (call once, after the appends)
  It reads the sequence and the time once (at its first append) and writes the sequence once, whatever the
  number of entries.

  The id is after the current time and after the last id given out. Without the sequence key
  (the first append, or after a purge), or when the lane refuses the id (something appended
  without this function), it starts again from the last id either lane generated.
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

local function nextLaneId(lasts, ms)
  local seq = 0
  for _, last in ipairs(lasts) do
    local lastMs, lastSeq = laneIdParts(last)
    if lastMs > ms or (lastMs == ms and lastSeq >= seq) then
      ms = lastMs
      seq = lastSeq + 1
    end
  end
  return string.format('%.0f-%.0f', ms, seq)
end

local function lanesLastIds(lane, otherLane)
  local lasts = {}
  for _, key in ipairs({lane, otherLane}) do
    local last = lastGeneratedId(key)
    if last then
      lasts[#lasts + 1] = last
    end
  end
  return lasts
end

local function laneAppender(lane, otherLane, sequenceKey)
  local now, given
  local appender = {}
  function appender.append(...)
    if not now then
      local time = redis.call('TIME')
      now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
      given = redis.call('GET', sequenceKey)
    end
    local lasts = given and {given} or lanesLastIds(lane, otherLane)
    local added = redis.pcall('XADD', lane, nextLaneId(lasts, now), ...)
    if type(added) == 'table' and added.err then
      added = redis.call('XADD', lane, nextLaneId(lanesLastIds(lane, otherLane), now), ...)
    end
    given = added
    appender.last = added
    return added
  end
  function appender.finish()
    if appender.last then
      redis.call('SET', sequenceKey, appender.last)
    end
  end
  return appender
end

local function appendToLane(lane, otherLane, sequenceKey, ...)
  local appender = laneAppender(lane, otherLane, sequenceKey)
  local added = appender.append(...)
  appender.finish()
  return added
end
