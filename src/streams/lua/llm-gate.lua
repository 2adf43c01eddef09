--[[
  The shared gate in front of one LLM provider and model: every worker process asks it before a
  call and tells it how the call went. Clock: Redis TIME, so processes on different hosts agree.

  State (KEYS[1], a hash): rq request bucket level, tk token bucket level (may go negative: a call
  is admitted while it is positive and charged its estimate, then corrected by what it used),
  ts last refill (ms), cw concurrency window (AIMD), cut last window cut (ms), pu paused until (ms),
  rl consecutive rate limits, bs breaker state (closed, open, half), bf consecutive failures,
  bo open until (ms), bn times opened in a row, probe the lease probing a half-open breaker.
  KEYS[2], a sorted set: leases of calls in flight, scored by their expiry (a crashed process's
  leases expire on their own).

  KEYS[1] gate state hash
  KEYS[2] in-flight leases (sorted set)
  ARGV[1] 'acquire' or 'release'
  ARGV[2] lease id

  acquire:
  ARGV[3] requests per minute (0: no ceiling)
  ARGV[4] tokens per minute (0: no ceiling)
  ARGV[5] estimated tokens of this call
  ARGV[6] most calls in flight at once (the window's ceiling)
  ARGV[7] lease duration (ms): longer than the call's timeout
  Returns {1, 0, 'ok'} when admitted, else {0, wait ms, reason}; reason: open (breaker open),
  probing (half-open, a probe is out), paused (rate limited), concurrency, requests, tokens.

  release:
  ARGV[3] outcome: ok (the provider answered), rate_limited (429), failure (5xx, timeout,
          connection), abandoned (shutdown: no verdict)
  ARGV[4] tokens used minus the estimate charged at acquire
  ARGV[5] the provider's Retry-After (ms; -1: none given: 1 s, doubling with each 429 in a row, up to 60 s)
  ARGV[6] consecutive failures that open the breaker
  ARGV[7] how long the breaker stays open (ms), doubled each time it opens again, up to 10 min
  ARGV[8] the window's ceiling
  Returns {window × 100, breaker state, paused for (ms)}.
]]
local state, leases, op, lease = KEYS[1], KEYS[2], ARGV[1], ARGV[2]
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local function num(field, default)
  local value = redis.call('HGET', state, field)
  if value then return tonumber(value) end
  return default
end

redis.call('ZREMRANGEBYSCORE', leases, '-inf', now)
local bs = redis.call('HGET', state, 'bs') or 'closed'
local probe = redis.call('HGET', state, 'probe')
if probe and not redis.call('ZSCORE', leases, probe) then
  redis.call('HDEL', state, 'probe')
  probe = nil
end

local function keep()
  redis.call('PEXPIRE', state, 86400000)
  redis.call('PEXPIRE', leases, 86400000)
end

if op == 'acquire' then
  local rpm, tpm, estimate, ceiling, leaseMs = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
  -- A tenth of a second's worth of burst: a fixed one-second window at the provider sees at most
  -- its rate plus one call.
  local rqCap, tkCap = math.max(1, rpm / 600), math.max(1, tpm / 600)
  local last = num('ts', now)
  local elapsed = math.max(0, now - last)
  local rq = math.min(rqCap, num('rq', rqCap) + elapsed * rpm / 60000)
  local tk = math.min(tkCap, num('tk', tkCap) + elapsed * tpm / 60000)
  redis.call('HSET', state, 'ts', now, 'rq', tostring(rq), 'tk', tostring(tk))
  keep()
  if bs == 'open' then
    local openUntil = num('bo', now)
    if now < openUntil then return {0, openUntil - now, 'open'} end
    bs = 'half'
    redis.call('HSET', state, 'bs', 'half')
  end
  if bs == 'half' and probe then return {0, 250, 'probing'} end
  local pu = num('pu', 0)
  if now < pu then return {0, pu - now, 'paused'} end
  local cw = num('cw', ceiling)
  if redis.call('ZCARD', leases) >= math.max(1, math.floor(math.min(cw, ceiling))) then return {0, 25, 'concurrency'} end
  if rpm > 0 and rq < 1 then return {0, math.ceil((1 - rq) * 60000 / rpm), 'requests'} end
  if tpm > 0 and tk <= 0 then return {0, math.ceil((1 - tk) * 60000 / tpm), 'tokens'} end
  if rpm > 0 then rq = rq - 1 end
  if tpm > 0 then tk = tk - estimate end
  redis.call('HSET', state, 'rq', tostring(rq), 'tk', tostring(tk))
  redis.call('ZADD', leases, now + leaseMs, lease)
  if bs == 'half' then redis.call('HSET', state, 'probe', lease) end
  return {1, 0, 'ok'}
end

-- release
local outcome, correction, retryAfter = ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
local threshold, openMs, ceiling = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
redis.call('ZREM', leases, lease)
if probe == lease then redis.call('HDEL', state, 'probe') end
redis.call('HSET', state, 'tk', tostring(num('tk', 0) - correction))
local cw = math.min(num('cw', ceiling), ceiling)
-- Multiplicative decrease at most once a second: the calls in flight when the provider pushed
-- back all hear about it, but it is one signal.
local function cut()
  if now - num('cut', 0) >= 1000 then
    cw = math.max(1, cw / 2)
    redis.call('HSET', state, 'cut', now)
  end
end

if outcome == 'ok' then
  cw = math.min(ceiling, cw + 1 / cw)
  redis.call('HSET', state, 'bf', 0, 'rl', 0)
  if bs ~= 'closed' then redis.call('HSET', state, 'bs', 'closed', 'bn', 0) end
  bs = 'closed'
elseif outcome == 'rate_limited' then
  cut()
  local rl = num('rl', 0) + 1
  local wait = retryAfter
  if wait < 0 then wait = math.min(60000, 1000 * 2 ^ math.min(rl - 1, 6)) end
  redis.call('HSET', state, 'rl', rl, 'pu', math.max(num('pu', 0), now + wait))
elseif outcome == 'failure' then
  cut()
  local bf = num('bf', 0) + 1
  redis.call('HSET', state, 'bf', bf)
  if bs == 'half' or (bs == 'closed' and bf >= threshold) then
    local bn = num('bn', 0) + 1
    bs = 'open'
    redis.call('HSET', state, 'bs', 'open', 'bn', bn, 'bo', now + math.min(600000, openMs * 2 ^ math.min(bn - 1, 10)))
  end
end
redis.call('HSET', state, 'cw', tostring(cw))
keep()
return {math.floor(cw * 100), bs, math.max(0, num('pu', 0) - now)}
