"""The Lua scripts `JobStore` runs. Each runs whole or not at all, so a job's record, its
indexes (the active sets, the finished sorted sets) and its event never disagree."""

# KEYS: share guard, job, event stream, all jobs, user's jobs, channel's jobs, active set,
# active queued set, and (when the job knows its message) the message's jobs. ARGV: id,
# guard TTL, created_at, stream maxlen, then field, value pairs.
CREATE = """
local existing = redis.call('GET', KEYS[1])
if existing then return {0, existing} end
if redis.call('EXISTS', KEYS[2]) == 1 then return {-1, ''} end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
for i = 5, #ARGV, 2 do redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1]) end
redis.call('ZADD', KEYS[4], ARGV[3], ARGV[1])
redis.call('ZADD', KEYS[5], ARGV[3], ARGV[1])
redis.call('ZADD', KEYS[6], ARGV[3], ARGV[1])
redis.call('SADD', KEYS[7], ARGV[1])
redis.call('SADD', KEYS[8], ARGV[1])
if KEYS[9] then redis.call('SADD', KEYS[9], ARGV[1]) end
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[4], '*',
  'job_id', ARGV[1], 'state', 'queued', 'attempt', '1', 'prev', '')
return {1, ARGV[1]}
"""

# KEYS: job, event stream, active set, active queued / running / retrying sets, per-page
# times. ARGV: to-state, states it may come from (comma-separated), attempt or '', stream
# maxlen, emit ('1' or '0'), then field, value pairs.
# A job is in the per-state set of its state while active, so counting is an SCARD. A success
# records "id seconds pages" for the median time per page.
TRANSITION = """
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return {-2, ''} end
if ARGV[3] ~= '' and redis.call('HGET', KEYS[1], 'attempt') ~= ARGV[3] then return {-1, state} end
if not string.find(',' .. ARGV[2] .. ',', ',' .. state .. ',', 1, true) then return {0, state} end
for i = 6, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('HSET', KEYS[1], 'state', ARGV[1])
local job_id = redis.call('HGET', KEYS[1], 'id')
local by_state = {queued = KEYS[4], running = KEYS[5], retrying = KEYS[6]}
if by_state[state] then redis.call('SREM', by_state[state], job_id) end
if ARGV[1] == 'succeeded' or ARGV[1] == 'failed' or ARGV[1] == 'cancelled' then
  redis.call('SREM', KEYS[3], job_id)
  local now = tonumber(redis.call('TIME')[1])
  local finished = 'docjobs:finished:' .. ARGV[1]
  redis.call('ZADD', finished, now, job_id)
  redis.call('ZREMRANGEBYSCORE', finished, '-inf', now - 86400)
  if ARGV[1] == 'succeeded' then
    local seconds = redis.call('HGET', KEYS[1], 'seconds') or '0'
    local pages = redis.call('HGET', KEYS[1], 'pages') or '0'
    redis.call('ZADD', KEYS[7], now, job_id .. ' ' .. seconds .. ' ' .. pages)
    redis.call('ZREMRANGEBYSCORE', KEYS[7], '-inf', now - 86400)
  end
else
  redis.call('SADD', KEYS[3], job_id)
  redis.call('SADD', by_state[ARGV[1]], job_id)
end
if ARGV[5] == '1' then
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], '*', 'job_id',
    redis.call('HGET', KEYS[1], 'id'), 'state', ARGV[1],
    'attempt', redis.call('HGET', KEYS[1], 'attempt'), 'prev', state)
end
return {1, state}
"""

# KEYS: active set, active queued / running / retrying sets. ARGV: job key prefix.
# Rebuilds the per-state sets from the active set and the job records: for a store written
# before those sets existed, and as a check at start-up.
INDEX_ACTIVE_STATES = """
local by_state = {queued = KEYS[2], running = KEYS[3], retrying = KEYS[4]}
redis.call('DEL', KEYS[2], KEYS[3], KEYS[4])
for _, job_id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local key = by_state[redis.call('HGET', ARGV[1] .. job_id, 'state') or '']
  if key then redis.call('SADD', key, job_id) end
end
return 1
"""

# KEYS: an index (sorted set of ids by creation). ARGV: job key prefix, how many, a state
# or ''. The newest ids and their states (only those in that state, if given), flat (id,
# state, id, state…): what to load, decided without loading the jobs.
RECENT_STATES = """
local out = {}
for _, job_id in ipairs(redis.call('ZREVRANGE', KEYS[1], 0, tonumber(ARGV[2]) - 1)) do
  local state = redis.call('HGET', ARGV[1] .. job_id, 'state')
  if state and (ARGV[3] == '' or state == ARGV[3]) then
    out[#out + 1] = job_id
    out[#out + 1] = state
  end
end
return out
"""
