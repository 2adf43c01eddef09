--[[
  Prepended to the scripts that check and set dedupe markers (ingest, settle).

  A ticket's follow-on markers (events emitted) are fields of one hash per ticket and period:
  sd:{tenant}:marks:<ticket>:<period>, where a period is a day of Redis's clock (the window itself
  when it is shorter). A hash lives until its period ended plus the window, so every marker lives
  at least the window; a check reads the periods the window spans. One small hash per ticket takes
  far less memory than a string key per marker, and stays compact (listpack) while its fields and
  values are short. Markers set before the fold were string keys (sd:{tenant}:emitted:<eventId>);
  a check still reads that key, so an upgrade keeps its window.

  A delivery marker stays a string key per tenant and delivery id (field ''): a delivery id is the
  tenant's, not a ticket's, and reusing one for another ticket must still be found.

  markerGet(key, legacyKey, field, window) → the marker's value, or false
  markerSet(key, field, value, window)
    key        sd:{tenant}:marks:<ticket> (or a delivery marker's own key, with field '')
    legacyKey  the marker's string key from before the fold (only read)
    window     seconds every marker must be kept
]]
-- Read once per script call: a batch's markers all fall in one period, for the price of one TIME.
local markerClock

local function markerPeriod(window)
  local length = math.min(window, 86400)
  if not markerClock then
    markerClock = tonumber(redis.call('TIME')[1])
  end
  return length, math.floor(markerClock / length)
end

local function markerGet(base, legacyKey, field, window)
  if field == '' then
    return redis.call('GET', base)
  end
  local length, period = markerPeriod(window)
  local spanned = math.ceil(window / length)
  for back = 0, spanned do
    local value = redis.call('HGET', base .. ':' .. (period - back), field)
    if value then
      return value
    end
  end
  return redis.call('GET', legacyKey)
end

local function markerSet(base, field, value, window)
  if field == '' then
    redis.call('SET', base, value, 'EX', window)
    return
  end
  local length, period = markerPeriod(window)
  local key = base .. ':' .. period
  redis.call('HSET', key, field, value)
  redis.call('EXPIREAT', key, (period + 1) * length + window)
end
