package store

import "github.com/valkey-io/valkey-go"

// Lua scripts run atomically on the server: the check of a run's status and
// the write it guards can never interleave with another client's write, and
// HINCRBY hands each batch its own range of sequence ids however many
// daemons write. Every script returns {code, ...}: 0 not found, 1 conflict
// (with the current status), 2 done.
//
// Key layout (P is the prefix):
//
//	P:run:ID         hash: name kind status spec input idem fp created
//	                 started ended error report seq (last event id)
//	P:runs           sorted set of every run id (score 0: ordered by id)
//	P:inflight       set of runs queued or running
//	P:idem           hash: idempotency key → run id
//	P:stages:ID      hash: stage name → JSON;  P:stageorder:ID list of names
//	P:events:ID      stream; entry id SEQ-0, fields t (type) ts (ns) d (data)
//	P:outputs:ID     hash: stage → JSON {size, data | file}
//	P:sb:ID          hash: config created used;  P:sandboxes sorted set
//	P:notify         pub/sub channel: the id of a run that changed
var (
	// KEYS run, runs, inflight, idem; ARGV id, idempotency key, fingerprint,
	// name, kind, spec, input, created. {0, id} here means the key is taken
	// by run id.
	scriptCreate = valkey.NewLuaScript(`
if ARGV[2] ~= '' then
	local existing = redis.call('HGET', KEYS[4], ARGV[2])
	if existing then return {0, existing} end
	redis.call('HSET', KEYS[4], ARGV[2], ARGV[1])
end
redis.call('HSET', KEYS[1], 'name', ARGV[4], 'kind', ARGV[5], 'status', 'queued', 'spec', ARGV[6],
	'input', ARGV[7], 'idem', ARGV[2], 'fp', ARGV[3], 'created', ARGV[8], 'started', '0', 'ended', '0',
	'error', '', 'seq', '0')
redis.call('ZADD', KEYS[2], 0, ARGV[1])
redis.call('SADD', KEYS[3], ARGV[1])
return {2, ARGV[1]}`)

	// KEYS run, inflight; ARGV id, to, allowed-from (comma list), time,
	// error, report, has-report, channel.
	scriptUpdate = valkey.NewLuaScript(`
local st = redis.call('HGET', KEYS[1], 'status')
if not st then return {0} end
local ok = false
for s in string.gmatch(ARGV[3], '[^,]+') do if s == st then ok = true end end
if not ok then return {1, st} end
if ARGV[2] == 'running' then
	redis.call('HSET', KEYS[1], 'status', 'running', 'started', ARGV[4])
else
	redis.call('HSET', KEYS[1], 'status', ARGV[2], 'ended', ARGV[4], 'error', ARGV[5])
	if ARGV[7] == '1' then redis.call('HSET', KEYS[1], 'report', ARGV[6]) end
	redis.call('SREM', KEYS[2], ARGV[1])
end
redis.call('PUBLISH', ARGV[8], ARGV[1])
return {2}`)

	// KEYS run, stream; ARGV id, channel, n, then type, time, data per event.
	scriptAppend = valkey.NewLuaScript(`
local st = redis.call('HGET', KEYS[1], 'status')
if not st then return {0} end
if st ~= 'queued' and st ~= 'running' then return {1, st} end
local n = tonumber(ARGV[3])
local last = redis.call('HINCRBY', KEYS[1], 'seq', n)
local first = last - n + 1
for i = 0, n - 1 do
	local b = 4 + i * 3
	redis.call('XADD', KEYS[2], string.format('%d-0', first + i), 't', ARGV[b], 'ts', ARGV[b + 1], 'd', ARGV[b + 2])
end
redis.call('PUBLISH', ARGV[2], ARGV[1])
return {2, last}`)

	// KEYS run, stream; ARGV first id, count. Read-only.
	scriptEvents = valkey.NewLuaScriptReadOnly(`
if redis.call('EXISTS', KEYS[1]) == 0 then return {0} end
return {2, redis.call('XRANGE', KEYS[2], ARGV[1], '+', 'COUNT', ARGV[2])}`)

	// KEYS run, hash, order (order may be ''); ARGV field, value.
	// Returns {2, previous value or false}.
	scriptPutInFlight = valkey.NewLuaScript(`
local st = redis.call('HGET', KEYS[1], 'status')
if not st then return {0} end
if st ~= 'queued' and st ~= 'running' then return {1, st} end
local old = redis.call('HGET', KEYS[2], ARGV[1])
if redis.call('HSET', KEYS[2], ARGV[1], ARGV[2]) == 1 and KEYS[3] ~= '' then
	redis.call('RPUSH', KEYS[3], ARGV[1])
end
return {2, old}`)

	// KEYS run, runs, idem, stages, order, stream, outputs, inflight;
	// ARGV id, channel.
	scriptDelete = valkey.NewLuaScript(`
local st = redis.call('HGET', KEYS[1], 'status')
if not st then return {0} end
if st == 'queued' or st == 'running' then return {1, st} end
local key = redis.call('HGET', KEYS[1], 'idem')
if key and key ~= '' and redis.call('HGET', KEYS[3], key) == ARGV[1] then redis.call('HDEL', KEYS[3], key) end
redis.call('DEL', KEYS[1], KEYS[4], KEYS[5], KEYS[6], KEYS[7])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('SREM', KEYS[8], ARGV[1])
redis.call('PUBLISH', ARGV[2], ARGV[1])
return {2}`)

	// KEYS sandbox; ARGV used. Touches only an existing sandbox.
	scriptTouch = valkey.NewLuaScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return {0} end
redis.call('HSET', KEYS[1], 'used', ARGV[1])
return {2}`)

	// KEYS sandbox, sandboxes; ARGV id.
	scriptDeleteSandbox = valkey.NewLuaScript(`
if redis.call('DEL', KEYS[1]) == 0 then return {0} end
redis.call('ZREM', KEYS[2], ARGV[1])
return {2}`)
)
