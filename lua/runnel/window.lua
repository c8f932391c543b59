-- runnel/window.lua: event-time tumbling and hopping windows for stream processors. A
-- window's per-key aggregates live in ctx.state and an event timer closes the window
-- once stream time has passed its end plus the grace period. Then each aggregate is
-- handed to a callback once (the final result) and deleted. A record that arrives after
-- its window closed is dropped from that window, and add() reports it.
--
--   local window = require("runnel.window")
--   local w = window.tumbling{size_ms = 60000, grace_ms = 5000}
--   local h = window.hopping{size_ms = 60000, advance_ms = 10000, grace_ms = 0, name = "h"}
--   local w = window.from_options(ctx.options)     -- window.size.ms, .advance.ms, .grace.ms
--
--   function process(record, ctx)
--     local updated, late = w:add(ctx, record.timestamp, record.key, function(agg, win)
--       return tostring((tonumber(agg) or 0) + 1)     -- the new aggregate, a string
--     end)
--     if updated == 0 and late > 0 then ... end       -- too late for every window
--   end
--   function on_timer(timer, ctx)
--     w:on_timer(ctx, timer, function(key, agg, win)
--       ctx:emit("counts", key, agg)                  -- the window's final result per key
--     end)
--   end
--
-- Windows. A window is the table {start = ms, stop = ms, close = ms}: it holds the
-- timestamps start <= ts < stop (stop = start + size_ms), and it closes when stream time
-- reaches close = stop + grace_ms. Starts are aligned to the epoch: the starts are the
-- multiples of advance_ms (for tumbling windows advance_ms = size_ms, so each timestamp
-- is in exactly one window, start = ts - ts % size_ms). A hopping timestamp is in every
-- window whose start is in (ts - size_ms, ts]. That is ceil(size_ms / advance_ms)
-- windows, or fewer near 0, because no window starts before 0 (as in Kafka Streams).
-- Timestamps are milliseconds >= 0; a negative timestamp is an error.
--
-- Lateness. add() skips a window that is already closed (stop + grace_ms <= ctx.stream_time)
-- and counts it as late. Stream time includes the record being processed, so a record
-- with a timestamp far ahead closes older windows for the records after it (as in Kafka
-- Streams). The close timer of a window fires once stream_time >= close. The runtime
-- fires it after the record that advanced stream time. So a window's result includes
-- every record that was not late for it, and no record is added after the result was
-- emitted. Records emitted from on_timer carry the timer's time, which is the window's
-- close, as their timestamp (the runtime stamps event-timer emits with at).
--
-- Methods (w is a window definition: plain configuration, cheap to make):
--   w:windows(ts)                 -> array of the windows holding ts, ascending start
--   w:window(start)               -> the window that starts at start (a multiple of advance_ms)
--   w:closed(ctx, win)            -> whether win is closed (stop + grace_ms <= ctx.stream_time)
--   w:add(ctx, ts, key, fold)     -> updated, late
--       For each open window win of ts: agg = fold(agg, win), where agg is the key's
--       aggregate in win (a string, nil for the first record). fold returns the new
--       aggregate (a string), or nil to leave it unchanged. A key's first aggregate in a
--       window schedules that window's close timer. Returns how many windows were
--       updated and how many were skipped as late. key: a string, any bytes ("" too).
--   w:get(ctx, win, key)          -> the key's aggregate in win, or nil
--   w:timer_name(start)           -> the name of the close timer of the window at start
--   w:on_timer(ctx, timer, emit)  -> true when the timer was this window's close timer
--       Calls emit(key, agg, win) for the closed window's keys in byte order of key and
--       deletes them. At most emit_limit keys per call: when more are left, the timer is
--       scheduled again at the same time. It is due at once, so the runtime goes on in a
--       new call, with a fresh instruction budget, after this one commits. For any other
--       timer (another window's, or the script's own) it does nothing and returns false,
--       so one on_timer can serve several windows:
--         if w:on_timer(ctx, t, emit_w) or h:on_timer(ctx, t, emit_h) then return end
--
-- Options of tumbling{} / hopping{}: size_ms (> 0), advance_ms (hopping; 0 < advance_ms
-- <= size_ms), grace_ms (>= 0, default 0), name (default "window"), emit_limit (keys
-- per timer call, default 1000). Integers, or strings of digits. At most 1000 windows
-- per timestamp (size_ms / advance_ms), to bound the work of one add().
-- window.from_options(options [, defaults]) reads the options window.size.ms (required
-- unless defaults.size_ms is given), window.advance.ms (absent: tumbling) and
-- window.grace.ms (default 0, or defaults.grace_ms). The other fields of defaults (name,
-- emit_limit) pass through. An error names the bad option.
--
-- What a window owns. The state keys "<name>/<start>/<key>", where <start> is 16 lowercase
-- hex digits, so byte order is time order. The event timers named "<name>/<start>". Two
-- windows in one processor need different names. The processor's own state keys and
-- timers must not start with "<name>/". The payload of a close timer is nil.
--
-- Cost per record: one state get and put per open window of ts, plus one timer schedule
-- per new (key, window).

local format, sub, match, tointeger, mtype = string.format, string.sub, string.match, math.tointeger, math.type

local MAX_WINDOWS = 1000
local DEFAULT_EMIT_LIMIT = 1000

local Window = {}
Window.__index = Window

-- An integer in [min, ...) from an integer, an integral float or a string of digits.
-- Errors point at the caller of tumbling{} / hopping{} (level 4: whole, new, them).
local function whole(what, v, min)
    local n = v
    if type(v) == "string" then n = match(v, "^%s*(%d+)%s*$") and tointeger(tonumber(v)) end
    if type(n) == "number" then n = tointeger(n) end
    if n == nil then error(("%s must be a whole number, got %s"):format(what, tostring(v)), 4) end
    if n < min then error(("%s must be at least %d, got %d"):format(what, min, n), 4) end
    return n
end

local function new(spec, advance_key)
    if type(spec) ~= "table" then error("window: expected a table of options", 3) end
    local size = whole("size_ms", spec.size_ms, 1)
    local advance = size
    if advance_key then advance = whole("advance_ms", spec.advance_ms, 1) end
    if advance > size then
        error(("advance_ms (%d) must not be larger than size_ms (%d)"):format(advance, size), 3)
    end
    if (size + advance - 1) // advance > MAX_WINDOWS then
        error(("size_ms / advance_ms = %d / %d puts a record in more than %d windows")
            :format(size, advance, MAX_WINDOWS), 3)
    end
    local grace = spec.grace_ms == nil and 0 or whole("grace_ms", spec.grace_ms, 0)
    local name = spec.name == nil and "window" or spec.name
    if type(name) ~= "string" or not match(name, "^[%w_.%-]+$") then
        error("window name must be letters, digits, '_', '.' or '-', got " .. tostring(name), 3)
    end
    local limit = spec.emit_limit == nil and DEFAULT_EMIT_LIMIT or whole("emit_limit", spec.emit_limit, 1)
    return setmetatable({
        size_ms = size,
        advance_ms = advance,
        grace_ms = grace,
        name = name,
        emit_limit = limit,
        hopping = advance ~= size,
        prefix = name .. "/",
    }, Window)
end

local function tumbling(spec)
    if type(spec) == "table" and spec.advance_ms ~= nil then
        error("window.tumbling: advance_ms is for window.hopping", 2)
    end
    local w = new(spec, false) -- not a tail call: errors name the caller's line
    return w
end

local function hopping(spec)
    local w = new(spec, true)
    return w
end

local function from_options(options, defaults)
    defaults = defaults or {}
    local function opt(key, default)
        local v = options[key]
        if v == nil or v == "" then return default end
        return v
    end
    local spec = {
        size_ms = opt("window.size.ms", defaults.size_ms),
        advance_ms = opt("window.advance.ms", nil),
        grace_ms = opt("window.grace.ms", defaults.grace_ms),
        name = defaults.name,
        emit_limit = defaults.emit_limit,
    }
    if spec.size_ms == nil then error("the option window.size.ms is not set: it is the window length in ms", 2) end
    -- Errors name the option, not the field.
    local ok, w = pcall(new, spec, spec.advance_ms ~= nil)
    if not ok then
        w = tostring(w):gsub("^.-:%d+: ", "")
        w = w:gsub("size_ms", "window.size.ms"):gsub("advance_ms", "window.advance.ms"):gsub("grace_ms", "window.grace.ms")
        error(w, 2)
    end
    return w
end

-- ---- windows ----------------------------------------------------------------------------

function Window:window(start)
    if mtype(start) ~= "integer" or start < 0 or start % self.advance_ms ~= 0 then
        error(("window start must be a multiple of %d, got %s"):format(self.advance_ms, tostring(start)), 2)
    end
    local stop = start + self.size_ms
    return {start = start, stop = stop, close = stop + self.grace_ms}
end

local function check_ts(ts)
    local t = mtype(ts) == "integer" and ts or (type(ts) == "number" and tointeger(ts))
    if not t then error("timestamp must be an integer number of ms, got " .. tostring(ts), 3) end
    if t < 0 then error(("timestamp %d is negative: it has no window"):format(t), 3) end
    return t
end

function Window:windows(ts)
    ts = check_ts(ts)
    local size, adv = self.size_ms, self.advance_ms
    local last = ts - ts % adv
    -- the first start above ts - size, and not below 0
    local first = ts - size + 1
    first = first <= 0 and 0 or (first + adv - 1) // adv * adv
    local out = {}
    for start = first, last, adv do
        local stop = start + size
        out[#out + 1] = {start = start, stop = stop, close = stop + self.grace_ms}
    end
    return out
end

function Window:closed(ctx, win)
    return win.close <= ctx.stream_time
end

-- ---- state and timers -------------------------------------------------------------------

function Window:timer_name(start)
    return format("%s%016x", self.prefix, start)
end

local function state_key(self, start, key)
    return format("%s%016x/", self.prefix, start) .. key
end

function Window:get(ctx, win, key)
    return ctx.state:get(state_key(self, win.start, key))
end

function Window:add(ctx, ts, key, fold)
    if type(key) ~= "string" then error("window key must be a string, got " .. type(key), 2) end
    local updated, late = 0, 0
    local state, now = ctx.state, ctx.stream_time
    for _, win in ipairs(self:windows(ts)) do
        if win.close <= now then
            late = late + 1
        else
            local skey = state_key(self, win.start, key)
            local agg = state:get(skey)
            local new = fold(agg, win)
            if new ~= nil then
                if type(new) ~= "string" then
                    error("window fold must return a string (or nil), got " .. type(new), 2)
                end
                state:put(skey, new)
                if agg == nil then ctx:schedule(self:timer_name(win.start), win.close, "event") end
                updated = updated + 1
            end
        end
    end
    return updated, late
end

function Window:on_timer(ctx, timer, emit)
    if timer.kind ~= "event" then return false end
    local name = timer.name
    if sub(name, 1, #self.prefix) ~= self.prefix then return false end
    local hex = sub(name, #self.prefix + 1)
    if not match(hex, "^%x+$") or #hex ~= 16 then return false end
    local start = tonumber(hex, 16)
    if start % self.advance_ms ~= 0 then return false end
    local win = self:window(start)
    local prefix = name .. "/"
    local n, more = 0, false
    local state = ctx.state
    for skey, agg in state:scan(prefix, self.emit_limit + 1) do
        if n == self.emit_limit then
            more = true
            break
        end
        n = n + 1
        emit(sub(skey, #prefix + 1), agg, win)
        state:delete(skey)
    end
    if more then ctx:schedule(name, timer.at, "event") end
    return true
end

return {
    tumbling = tumbling,
    hopping = hopping,
    from_options = from_options,
    MAX_WINDOWS = MAX_WINDOWS,
}
