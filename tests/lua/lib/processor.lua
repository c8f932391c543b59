-- tests/lua/lib/processor.lua: a fake of the broker's stream-processor runtime for Lua unit
-- tests, with the same semantics the C runtime promises (lua/README.md, "Processors").
-- The harness (tests/unit/test_lua_scripts.c) runs this file with the test table, and
-- the file adds test.processor:
--
--   local p = test.processor(script, options, inputs, outputs [, setup])
--     script   "processors/x.lua" (loaded from lua/ in a fresh sandbox environment, as
--              the broker does), or a table {process = fn, on_timer = fn} of functions
--     options  the processor's options; numbers are turned into strings (options are strings)
--     inputs, outputs   arrays of topic names
--     setup    {name = (default: the script's file name without .lua), task = 0,
--               wall = 1700000000000 (the wall clock, ms)}
--
--   p:send{topic = inputs[1], key =, value =, timestamp =, headers =}
--       One input record, through one process() call. Offsets count from 0 per input
--       topic, partition = the task. stream_time becomes max(stream_time, timestamp)
--       before the call. Then the due event timers fire, in the order of (at, name), each
--       in its own on_timer() call, until none is due (a timer scheduled at or before
--       stream_time by on_timer fires in the same round; at most 10000 per record, the
--       rest after the next one, as in engine/processor_task.c). Returns true, or false
--       and the error when process() raised: the record then goes to p.dlq and that
--       call's state changes, emits and timer changes are discarded. stream time still
--       moves and due timers still fire: the record was read.
--   p:send_all{rec, ...}       each in turn; returns the errors (a list, empty when none)
--   p:advance_wall(ms)         the wall clock moves on by ms; the wall timers with at <= the
--                              new time fire in the order of (at, name)
--   p:call(fn)                 fn(ctx) as one call with commit/discard (to test library
--                              code directly; emits get the wall clock as timestamp);
--                              returns true, or false and the error
--   p:take([topic])            the records emitted since the last take (of that topic),
--                              each {topic, key, value, headers = {{name, value}...}|nil,
--                              partition = int|nil, timestamp}. The timestamp is the
--                              runtime's: the input record's for process(), the timer's
--                              at for an event timer, the wall clock for a wall timer
--   p.emitted, p.dlq, p.errors all emitted records; the dead letters: {record, error} per
--                              failed process(), {timer, error} per failed on_timer();
--                              every error message of a failed call
--   p.fired                    {name, kind, at, payload} of every timer fired, in order
--   p.state                    the committed state (key -> value)
--   p:keys([prefix])           the committed state keys with that prefix, in byte order
--   p:timers()                 the pending timers, sorted by (kind, at, name)
--   p.ctx                      the task's ctx; p.stream_time, p.wall
--
-- A failed on_timer() call discards its changes like a failed process() call, and the
-- timer that fired is gone (it is not retried); it goes to p.dlq. Limits the C side
-- checks: state keys and timer names of at most 1024 bytes; scan(prefix, limit) with
-- limit <= 0 or nil meaning no limit.

local test = ...

local sort, concat = table.sort, table.concat
local mtype, tointeger = math.type, math.tointeger

local Driver = {}
Driver.__index = Driver

local KEY_MAX = 1024         -- RN_PROCESSOR_STATE_KEY_MAX: state keys and timer names
local TIMERS_PER_TURN = 10000 -- timers fired after one record (engine/processor_task.c)

local function fail(msg) error(msg, 3) end

local function sorted_keys(t, prefix)
    local keys = {}
    for k in pairs(t) do
        if prefix == nil or k:sub(1, #prefix) == prefix then keys[#keys + 1] = k end
    end
    sort(keys)
    return keys
end

local function timer_id(name, kind) return kind .. "\0" .. name end

local function timer_before(a, b)
    if a.at ~= b.at then return a.at < b.at end
    return a.name < b.name
end

-- ---- the ctx ------------------------------------------------------------------------

local function active(p)
    if not p.tx then fail("ctx used outside a process or on_timer call") end
    return p.tx
end

local function new_ctx(p)
    local ctx = {}
    local state = {}

    function state.get(self, key)
        if self ~= state then fail("call ctx.state:get(key) with a colon") end
        local tx = active(p)
        if type(key) ~= "string" then fail("state key must be a string, got " .. type(key)) end
        local v = tx.puts[key]
        if v == false then return nil end
        if v ~= nil then return v end
        return p.state[key]
    end

    function state.put(self, key, value)
        if self ~= state then fail("call ctx.state:put(key, value) with a colon") end
        local tx = active(p)
        if type(key) ~= "string" then fail("state key must be a string, got " .. type(key)) end
        if #key > KEY_MAX then fail(("state key of %d bytes: at most %d"):format(#key, KEY_MAX)) end
        if value == nil then
            tx.puts[key] = false
            return
        end
        if type(value) ~= "string" then fail("state value must be a string or nil, got " .. type(value)) end
        tx.puts[key] = value
    end

    function state.delete(self, key)
        if self ~= state then fail("call ctx.state:delete(key) with a colon") end
        local tx = active(p)
        if type(key) ~= "string" then fail("state key must be a string, got " .. type(key)) end
        tx.puts[key] = false
    end

    function state.scan(self, prefix, limit)
        if self ~= state then fail("call ctx.state:scan(prefix [, limit]) with a colon") end
        local tx = active(p)
        if prefix == nil then prefix = "" end
        if type(prefix) ~= "string" then fail("scan prefix must be a string, got " .. type(prefix)) end
        if limit ~= nil and mtype(limit) ~= "integer" then
            fail("scan limit must be an integer, got " .. tostring(limit))
        end
        if limit ~= nil and limit <= 0 then limit = nil end
        -- the state as of this call: committed, with this call's changes over it
        local view = {}
        for k, v in pairs(p.state) do
            if k:sub(1, #prefix) == prefix then view[k] = v end
        end
        for k, v in pairs(tx.puts) do
            if k:sub(1, #prefix) == prefix then view[k] = v or nil end
        end
        local keys = sorted_keys(view)
        if limit and #keys > limit then
            for i = #keys, limit + 1, -1 do keys[i] = nil end
        end
        local i = 0
        return function()
            i = i + 1
            local k = keys[i]
            if k ~= nil then return k, view[k] end
        end
    end

    ctx.state = state

    function ctx.emit(self, topic, key, value, headers, partition)
        if self ~= ctx then fail("call ctx:emit(topic, key, value) with a colon") end
        local tx = active(p)
        if not p.output_set[topic] then
            fail(("emit: '%s' is not an output of processor %s (outputs: %s)")
                :format(tostring(topic), p.name, concat(p.outputs, ", ")))
        end
        if key ~= nil and type(key) ~= "string" then fail("emit: key must be a string or nil, got " .. type(key)) end
        if value ~= nil and type(value) ~= "string" then
            fail("emit: value must be a string or nil, got " .. type(value))
        end
        local hs
        if headers ~= nil then
            if type(headers) ~= "table" then fail("emit: headers must be a table, got " .. type(headers)) end
            hs = {}
            if #headers > 0 or next(headers) == nil then
                for i, h in ipairs(headers) do
                    local name, v = h[1] or h.name, h[2] or h.value
                    if type(name) ~= "string" then fail("emit: header " .. i .. " has no name") end
                    if v ~= nil and type(v) ~= "string" then fail("emit: header " .. name .. ": value must be a string") end
                    hs[#hs + 1] = {name, v}
                end
            else
                for _, name in ipairs(sorted_keys(headers)) do
                    local v = headers[name]
                    if type(v) ~= "string" then fail("emit: header " .. tostring(name) .. ": value must be a string") end
                    hs[#hs + 1] = {name, v}
                end
            end
            if #hs == 0 then hs = nil end
        end
        if partition ~= nil and (mtype(partition) ~= "integer" or partition < 0) then
            fail("emit: partition must be an integer >= 0, got " .. tostring(partition))
        end
        tx.emits[#tx.emits + 1] = {topic = topic, key = key, value = value, headers = hs, partition = partition,
                                   timestamp = tx.timestamp}
    end

    function ctx.schedule(self, name, at, kind, payload)
        if self ~= ctx then fail("call ctx:schedule(name, at) with a colon") end
        local tx = active(p)
        if type(name) ~= "string" then fail("schedule: name must be a string, got " .. type(name)) end
        if #name > KEY_MAX then fail(("timer name of %d bytes: at most %d"):format(#name, KEY_MAX)) end
        local when = type(at) == "number" and tointeger(at) or nil
        if when == nil then fail("schedule: at must be an integer number of ms, got " .. tostring(at)) end
        kind = kind == nil and "event" or kind
        if kind ~= "event" and kind ~= "wall" then
            fail("schedule: kind must be \"event\" or \"wall\", got " .. tostring(kind))
        end
        if payload ~= nil and type(payload) ~= "string" then
            fail("schedule: payload must be a string or nil, got " .. type(payload))
        end
        tx.timers[timer_id(name, kind)] = {name = name, kind = kind, at = when, payload = payload}
    end

    function ctx.cancel(self, name, kind)
        if self ~= ctx then fail("call ctx:cancel(name) with a colon") end
        local tx = active(p)
        if type(name) ~= "string" then fail("cancel: name must be a string, got " .. type(name)) end
        kind = kind == nil and "event" or kind
        if kind ~= "event" and kind ~= "wall" then
            fail("cancel: kind must be \"event\" or \"wall\", got " .. tostring(kind))
        end
        tx.timers[timer_id(name, kind)] = false
    end

    function ctx.now(self)
        if self ~= ctx then fail("call ctx:now() with a colon") end
        active(p)
        return p.wall
    end

    local options = {}
    for k, v in pairs(p.options) do options[k] = v end
    ctx.options = setmetatable({}, {
        __index = options,
        __newindex = function() error("ctx.options is read-only", 2) end,
        __pairs = function() return next, options, nil end,
    })
    ctx.name, ctx.task = p.name, p.task
    ctx.inputs = {table.unpack(p.inputs)}
    ctx.outputs = {table.unpack(p.outputs)}
    ctx.stream_time = -1
    return ctx
end

-- ---- calls --------------------------------------------------------------------------

-- fn(...) as one call: its state changes, emits and timer changes all commit, or none.
-- Records it emits get the timestamp ts.
local function run(p, ts, fn, ...)
    p.tx = {puts = {}, emits = {}, timers = {}, timestamp = ts}
    p.ctx.stream_time = p.stream_time
    local ok, err = pcall(fn, ...)
    local tx = p.tx
    p.tx = nil
    p.timers_changed = false
    if not ok then
        p.errors[#p.errors + 1] = tostring(err)
        return false, tostring(err)
    end
    for k, v in pairs(tx.puts) do p.state[k] = v or nil end
    for _, e in ipairs(tx.emits) do
        p.emitted[#p.emitted + 1] = e
        p.queue[#p.queue + 1] = e
    end
    p.timers_changed = next(tx.timers) ~= nil
    for id, t in pairs(tx.timers) do p.pending[id] = t or nil end
    return true
end

-- The timers of kind due at now, in firing order.
local function due_list(p, kind, now)
    local list = {}
    for _, t in pairs(p.pending) do
        if t.kind == kind and t.at <= now then list[#list + 1] = t end
    end
    sort(list, timer_before)
    return list
end

local function fire_due(p, kind, now)
    local list, i = due_list(p, kind, now), 0
    for _ = 1, TIMERS_PER_TURN do
        i = i + 1
        local due = list[i]
        if due == nil then return end
        p.pending[timer_id(due.name, due.kind)] = nil
        local fired = {name = due.name, kind = due.kind, at = due.at, payload = due.payload}
        p.fired[#p.fired + 1] = {name = due.name, kind = due.kind, at = due.at, payload = due.payload}
        local on_timer = p.env.on_timer
        local ok, err
        if on_timer == nil then
            err = p.name .. " does not define on_timer()"
            p.errors[#p.errors + 1] = err
        else
            ok, err = run(p, kind == "event" and due.at or p.wall, on_timer, fired, p.ctx)
        end
        if not ok then p.dlq[#p.dlq + 1] = {timer = p.fired[#p.fired], error = err} end
        if p.timers_changed then list, i = due_list(p, kind, now), 0 end
    end
end

function Driver:send(r)
    if type(r) ~= "table" then error("p:send: expected a record table", 2) end
    local topic = r.topic or self.inputs[1]
    if not self.input_set[topic] then error("p:send: '" .. tostring(topic) .. "' is not an input", 2) end
    local ts = r.timestamp
    if mtype(ts) ~= "integer" then error("p:send: the record needs an integer timestamp", 2) end
    local offset = self.offsets[topic] or 0
    self.offsets[topic] = offset + 1
    local headers = {}
    for i, h in ipairs(r.headers or {}) do
        local name, v = h[1] or h.name, h[2] or h.value
        headers[i] = {name, v, name = name, value = v}
    end
    local record = {topic = topic, partition = self.task, offset = offset, timestamp = ts,
                    key = r.key, value = r.value, headers = headers}
    if ts > self.stream_time then self.stream_time = ts end
    local ok, err = run(self, ts, self.env.process, record, self.ctx)
    if not ok then self.dlq[#self.dlq + 1] = {record = record, error = err} end
    fire_due(self, "event", self.stream_time)
    return ok, err
end

function Driver:send_all(list)
    local errors = {}
    for _, r in ipairs(list) do
        local ok, err = self:send(r)
        if not ok then errors[#errors + 1] = err end
    end
    return errors
end

function Driver:advance_wall(ms)
    if mtype(ms) ~= "integer" or ms < 0 then error("p:advance_wall: ms must be an integer >= 0", 2) end
    self.wall = self.wall + ms
    fire_due(self, "wall", self.wall)
end

function Driver:call(fn)
    return run(self, self.wall, fn, self.ctx)
end

function Driver:take(topic)
    local out, keep = {}, {}
    for _, e in ipairs(self.queue) do
        if topic == nil or e.topic == topic then out[#out + 1] = e else keep[#keep + 1] = e end
    end
    self.queue = keep
    return out
end

function Driver:keys(prefix)
    return sorted_keys(self.state, prefix)
end

function Driver:timers()
    local list = {}
    for _, t in pairs(self.pending) do list[#list + 1] = t end
    sort(list, function(a, b)
        if a.kind ~= b.kind then return a.kind < b.kind end
        return timer_before(a, b)
    end)
    return list
end

function test.processor(script, options, inputs, outputs, setup)
    setup = setup or {}
    local env, name
    if type(script) == "string" then
        env = test.load(script)
        name = script:match("([^/]+)%.lua$") or script
    elseif type(script) == "table" then
        env, name = script, "test"
    else
        error("test.processor: script must be a file name or a table of functions", 2)
    end
    if type(env.process) ~= "function" then error("test.processor: " .. tostring(name) .. " defines no process()", 2) end
    local opts = {}
    for k, v in pairs(options or {}) do
        if type(v) == "number" then v = tostring(v) end
        if type(k) ~= "string" or type(v) ~= "string" then error("test.processor: options are strings", 2) end
        opts[k] = v
    end
    local p = setmetatable({
        env = env, name = setup.name or name, task = setup.task or 0, options = opts,
        inputs = inputs or {}, outputs = outputs or {}, input_set = {}, output_set = {},
        wall = setup.wall or 1700000000000, stream_time = -1, offsets = {},
        state = {}, pending = {}, emitted = {}, queue = {}, dlq = {}, errors = {}, fired = {},
    }, Driver)
    for _, t in ipairs(p.inputs) do p.input_set[t] = true end
    for _, t in ipairs(p.outputs) do p.output_set[t] = true end
    p.ctx = new_ctx(p)
    return p
end
