-- runnel/timer.lua: periodic timers for stream processors, on top of ctx:schedule. A
-- periodic timer ticks at the multiples of every_ms (plus offset_ms), on the wall clock
-- or in event time, and it stays scheduled across restarts because timers are part of
-- the processor's committed state.
--
--   local timer = require("runnel.timer")
--   local flush = timer.every{name = "flush", every_ms = 10000}              -- wall clock
--   local hourly = timer.every{name = "hourly", every_ms = 3600000, kind = "event"}
--
--   function process(record, ctx)
--     flush:start(ctx)          -- schedules the first tick unless it is scheduled already
--     ...
--   end
--   function on_timer(t, ctx)
--     if flush:on_timer(ctx, t, function(at) ... end) then return end
--   end
--
-- Ticks are at k * every_ms + offset_ms. start() schedules the first tick after "now":
-- ctx:now() for a wall timer, ctx.stream_time for an event timer. It remembers that the
-- timer runs in the state key "runnel.timer/<name>", so calling it on every record costs
-- one state get. on_timer(ctx, t, fn) returns false for a timer that is not this one.
-- For this one it schedules the next tick after now, so ticks missed while the broker
-- was down are skipped and fn runs once, not once per missed tick. Then it calls
-- fn(at, t) with at the tick that fired and returns true. stop(ctx) cancels the timer
-- and forgets it, so a later start() starts it again.
--
-- Options of every{}: name (letters, digits, '_', '.', '-'), every_ms (> 0), kind
-- ("wall", the default, or "event"), offset_ms (0 <= offset_ms < every_ms, default 0).
--
-- The runtime has no start-up hook, so start() can only run in a call, usually the
-- first process(). A processor that has read no record yet has no periodic timer.

local match, tointeger = string.match, math.tointeger

local Every = {}
Every.__index = Every

local function whole(what, v, min)
    local n = type(v) == "number" and tointeger(v) or nil
    if n == nil or n < min then
        error(("timer.every: %s must be a whole number >= %d, got %s"):format(what, min, tostring(v)), 3)
    end
    return n
end

local function every(spec)
    if type(spec) ~= "table" then error("timer.every: expected a table of options", 2) end
    local name = spec.name
    if type(name) ~= "string" or not match(name, "^[%w_.%-]+$") then
        error("timer.every: name must be letters, digits, '_', '.' or '-', got " .. tostring(name), 2)
    end
    local kind = spec.kind == nil and "wall" or spec.kind
    if kind ~= "wall" and kind ~= "event" then
        error("timer.every: kind must be \"wall\" or \"event\", got " .. tostring(kind), 2)
    end
    local period = whole("every_ms", spec.every_ms, 1)
    local offset = spec.offset_ms == nil and 0 or whole("offset_ms", spec.offset_ms, 0)
    if offset >= period then error("timer.every: offset_ms must be less than every_ms", 2) end
    return setmetatable({name = name, kind = kind, every_ms = period, offset_ms = offset,
                         key = "runnel.timer/" .. name}, Every)
end

-- The first tick strictly after t.
function Every:next_after(t)
    return (t - self.offset_ms) // self.every_ms * self.every_ms + self.every_ms + self.offset_ms
end

local function now(self, ctx)
    if self.kind == "wall" then return ctx:now() end
    return ctx.stream_time
end

function Every:start(ctx)
    if ctx.state:get(self.key) ~= nil then return false end
    local at = self:next_after(now(self, ctx))
    ctx:schedule(self.name, at, self.kind)
    ctx.state:put(self.key, tostring(at))
    return true
end

function Every:stop(ctx)
    ctx:cancel(self.name, self.kind)
    ctx.state:delete(self.key)
end

function Every:on_timer(ctx, t, fn)
    if t.name ~= self.name or t.kind ~= self.kind then return false end
    local n = now(self, ctx)
    local at = self:next_after(n > t.at and n or t.at)
    ctx:schedule(self.name, at, self.kind)
    ctx.state:put(self.key, tostring(at))
    if fn then fn(t.at, t) end
    return true
end

return {every = every}
