package redis

// script decides one request against every limit of a policy in one atomic
// step, with the Redis server's clock (TIME), so replica clocks never matter
// and no two replicas can both take the last unit of quota. It transcribes
// ratelimit.Limit.Take and View; times are integer microseconds, exact in
// Lua's doubles (now is about 1.8e15, below 2^53).
//
// KEYS[i] is limit i's state. ARGV holds three numbers per limit:
//
//	kind 0 (fixed window): period in ms, count
//	kind 1 (GCRA):         emission interval T in µs, tolerance tau = burst*T in µs
//
// A window's state is its count, expiring with the window (PX), exactly as
// Flask-Limiter's INCR + EXPIRE; a GCRA state is its theoretical arrival time,
// expiring when the bucket has drained. Either way an expired key means
// "never seen", so Redis's own expiry is the eviction of idle keys.
//
// The reply is {allowed, then per limit: remaining, reset µs, retry µs}.
// Nothing is written unless every limit admits the request.
const script = `
if redis.replicate_commands then pcall(redis.replicate_commands) end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local n = #KEYS
local allowed = 1
local cur, ttl = {}, {}
for i = 1, n do
  local kind, a, b = tonumber(ARGV[3*i-2]), tonumber(ARGV[3*i-1]), tonumber(ARGV[3*i])
  local v = redis.call('GET', KEYS[i])
  if kind == 1 then
    local tat = now
    if v then tat = math.max(tonumber(v), now) end
    cur[i] = tat
    if tat - now > b then allowed = 0 end
  else
    ttl[i] = -1
    cur[i] = 0
    if v then
      local pttl = redis.call('PTTL', KEYS[i])
      if pttl > 0 then
        cur[i] = tonumber(v)
        ttl[i] = pttl * 1000
      end
    end
    if cur[i] >= b then allowed = 0 end
  end
end
local out = {allowed}
for i = 1, n do
  local kind, a, b = tonumber(ARGV[3*i-2]), tonumber(ARGV[3*i-1]), tonumber(ARGV[3*i])
  if kind == 1 then
    if allowed == 1 then
      cur[i] = cur[i] + a
      redis.call('SET', KEYS[i], string.format('%.0f', cur[i]), 'PX', math.max(1, math.ceil((cur[i] - now) / 1000)))
    end
    local d = math.max(cur[i] - now, 0)
    if d > b then
      out[#out+1] = 0; out[#out+1] = d; out[#out+1] = d - b
    else
      out[#out+1] = math.floor((b - d) / a) + 1; out[#out+1] = d; out[#out+1] = 0
    end
  else
    if allowed == 1 then
      if ttl[i] < 0 then
        redis.call('SET', KEYS[i], 1, 'PX', a)
        cur[i] = 1
        ttl[i] = a * 1000
      else
        redis.call('INCR', KEYS[i])
        cur[i] = cur[i] + 1
      end
    end
    if ttl[i] < 0 then
      out[#out+1] = b; out[#out+1] = a * 1000; out[#out+1] = 0
    else
      local rem = b - cur[i]
      if rem <= 0 then
        out[#out+1] = 0; out[#out+1] = ttl[i]; out[#out+1] = ttl[i]
      else
        out[#out+1] = rem; out[#out+1] = ttl[i]; out[#out+1] = 0
      end
    end
  end
end
return out
`
