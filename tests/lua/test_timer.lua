-- tests/lua/test_timer.lua: runnel/timer.lua (periodic timers) and runnel/json.lua (objects
-- in a fixed member order).

local timer = require("runnel.timer")
local json = require("runnel.json")

-- A processor that starts the periodic timer t on each record and logs its ticks.
local function ticker(t, setup)
    local log = {}
    local p = test.processor({
        process = function(r, ctx)
            if r.value == "stop" then return t:stop(ctx) end
            t:start(ctx)
        end,
        on_timer = function(tm, ctx)
            if t:on_timer(ctx, tm, function(at, fired)
                log[#log + 1] = ("%d now=%d st=%d %s"):format(at, ctx:now(), ctx.stream_time, fired.kind)
            end) then return end
            log[#log + 1] = "other " .. tm.name
        end,
    }, {}, {"in"}, {"out"}, setup)
    return p, log
end

test.case("every: checks its options", function()
    test.err(timer.every, "name must be", {every_ms = 10})
    test.err(timer.every, "name must be", {name = "a b", every_ms = 10})
    test.err(timer.every, "every_ms must be a whole number >= 1", {name = "t", every_ms = 0})
    test.err(timer.every, "every_ms must be a whole number >= 1", {name = "t", every_ms = 1.5})
    test.err(timer.every, "kind must be", {name = "t", every_ms = 10, kind = "cron"})
    test.err(timer.every, "offset_ms must be less than every_ms", {name = "t", every_ms = 10, offset_ms = 10})
    local t = timer.every{name = "t", every_ms = 10}
    test.eq(t.kind, "wall")
    test.eq(t.offset_ms, 0)
    test.eq(t:next_after(0), 10)
    test.eq(t:next_after(9), 10)
    test.eq(t:next_after(10), 20)
    local o = timer.every{name = "o", every_ms = 10, offset_ms = 3}
    test.eq(o:next_after(2), 3)
    test.eq(o:next_after(3), 13)
    test.eq(o:next_after(12), 13)
end)

test.case("wall: start schedules the next tick once; ticks re-arm; fn gets the tick's time", function()
    local t = timer.every{name = "flush", every_ms = 1000}
    local p, log = ticker(t, {wall = 5500})
    p:send{timestamp = 1}
    test.same(p:timers(), {{name = "flush", kind = "wall", at = 6000}})
    p:send{timestamp = 2}
    test.same(p:timers(), {{name = "flush", kind = "wall", at = 6000}}, "start again: no change")
    p:advance_wall(499)
    test.same(log, {})
    p:advance_wall(1)
    test.same(log, {"6000 now=6000 st=2 wall"})
    test.same(p:timers(), {{name = "flush", kind = "wall", at = 7000}})
    p:advance_wall(1000)
    test.eq(#log, 2)
    test.eq(log[2], "7000 now=7000 st=2 wall")
end)

test.case("wall: missed ticks are skipped: one call, then the next tick after now", function()
    local t = timer.every{name = "flush", every_ms = 1000}
    local p, log = ticker(t, {wall = 0})
    p:send{timestamp = 1}
    p:advance_wall(5300) -- 1000 is due; 2000..5000 were missed
    test.same(log, {"1000 now=5300 st=1 wall"})
    test.same(p:timers(), {{name = "flush", kind = "wall", at = 6000}})
end)

test.case("event: ticks follow stream time", function()
    local t = timer.every{name = "hourly", every_ms = 100, kind = "event"}
    local p, log = ticker(t, {wall = 42})
    p:send{timestamp = 50}
    test.same(p:timers(), {{name = "hourly", kind = "event", at = 100}})
    p:send{timestamp = 99}
    test.same(log, {})
    p:send{timestamp = 100}
    test.same(log, {"100 now=42 st=100 event"})
    p:send{timestamp = 450}
    test.same(log, {"100 now=42 st=100 event", "200 now=42 st=450 event"}, "missed ticks skipped")
    test.same(p:timers(), {{name = "hourly", kind = "event", at = 500}})
end)

test.case("stop cancels and forgets; a later start starts again", function()
    local t = timer.every{name = "flush", every_ms = 1000}
    local p, log = ticker(t, {wall = 0})
    p:send{timestamp = 1}
    p:send{timestamp = 2, value = "stop"}
    test.same(p:timers(), {})
    test.same(p.state, {})
    p:advance_wall(5000)
    test.same(log, {})
    p:send{timestamp = 3}
    test.same(p:timers(), {{name = "flush", kind = "wall", at = 6000}})
end)

test.case("on_timer ignores other timers, and a same-named timer of the other kind", function()
    local t = timer.every{name = "flush", every_ms = 1000}
    local p, log = ticker(t, {wall = 0})
    p:call(function(ctx)
        ctx:schedule("flush", 5, "event")
        ctx:schedule("x", 5, "wall")
    end)
    p:send{timestamp = 10}
    p:advance_wall(5)
    test.same(log, {"other flush", "other x"})
end)

test.case("a periodic timer keeps one state key, runnel.timer/<name>", function()
    local t = timer.every{name = "flush", every_ms = 1000}
    local p = ticker(t, {wall = 0})
    p:send{timestamp = 1}
    test.same(p.state, {["runnel.timer/flush"] = "1000"})
    p:advance_wall(1000)
    test.same(p.state, {["runnel.timer/flush"] = "2000"})
end)

-- ---- runnel.json ----------------------------------------------------------------------

test.case("json.object: members in the given order, nil left out", function()
    test.eq(json.object({b = 1, a = "x", c = true}, {"c", "a", "b", "missing"}), '{"c":true,"a":"x","b":1}')
    test.eq(json.object({}, {"a"}), "{}")
    test.eq(json.object({a = json.null}, {"a"}), '{"a":null}')
    test.eq(json.object({a = json.raw("1.50")}, {"a"}), '{"a":1.50}')
    test.eq(json.object({["k\"ey"] = "v\n"}, {"k\"ey"}), '{"k\\"ey":"v\\n"}')
    test.eq(json.object({a = {1, 2}}, {"a"}), '{"a":[1,2]}')
end)

test.case("json numbers: integers exact, whole floats as integers, others with 14 digits", function()
    test.eq(json.value(3), "3")
    test.eq(json.value(3.0), "3")
    test.eq(json.value(-0.0), "0")
    test.eq(json.value(1700000000000), "1700000000000")
    test.eq(json.value(9007199254740993), "9007199254740993", "a Lua integer beyond 2^53")
    test.eq(json.value(0.1 + 0.2), "0.3")
    test.eq(json.value(12.5), "12.5")
    test.eq(json.value(1e300), "1e+300")
    test.err(json.value, "not a JSON number", 0 / 0)
    test.err(json.value, "not a JSON number", math.huge)
    test.err(json.raw, "expected a string", 5)
end)
