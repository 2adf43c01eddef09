--[[
  Prepended to the scripts that check and set dedupe markers (ingest, settle).

  A ticket's follow-on markers (events emitted) are fields of one hash per ticket,
  sd:{tenant}:marks:<ticket>: field e:<eventId>, value "<event id or 1> <second it was set>" (Redis's
  clock). Every write keeps the hash for the window from then, so every field lives at least the
  window; a hash grown past markerPruneAbove fields drops those older than the window, so a ticket
  that lives for months does not keep every marker it ever had. One small hash per ticket takes far
  less memory than a string key per marker, and stays compact (listpack) while its fields and values
  are short. Markers set before the fold were string keys (sd:{tenant}:emitted:<eventId>); a check
  still reads that key, so an upgrade keeps its window.

  A delivery marker stays a string key per tenant and delivery id (field ''): a delivery id is the
  tenant's, not a ticket's, and reusing one for another ticket must still be found.

  markerGet(key, legacyKey, field) → the marker's value, or false
  markerSet(key, field, value, window)
    key        sd:{tenant}:marks:<ticket> (or a delivery marker's own key, with field '')
    legacyKey  the marker's string key from before the fold (only read)
    window     seconds every marker must be kept
]]
local markerPruneAbove = 32
-- Read once per script call: one TIME for a whole batch's markers.
local markerClock

local function markerNow()
  if not markerClock then
    markerClock = tonumber(redis.call('TIME')[1])
  end
  return markerClock
end

local function markerGet(key, legacyKey, field)
  if field == '' then
    return redis.call('GET', key)
  end
  return redis.call('HGET', key, field) or redis.call('GET', legacyKey)
end

local function markerSet(key, field, value, window)
  if field == '' then
    redis.call('SET', key, value, 'EX', window)
    return
  end
  local now = markerNow()
  redis.call('HSET', key, field, value .. ' ' .. now)
  redis.call('EXPIRE', key, window)
  if redis.call('HLEN', key) > markerPruneAbove then
    local all = redis.call('HGETALL', key)
    for i = 1, #all, 2 do
      local setAt = tonumber(string.match(all[i + 1], ' (%d+)$'))
      if setAt and setAt < now - window then
        redis.call('HDEL', key, all[i])
      end
    end
  end
end
