-- tests/lua/test_window.lua: runnel/window.lua: window boundaries, hopping overlaps, grace,
-- late records, close timers and their order, state cleanup.

local window = require("runnel.window")

local function starts(w, ts)
    local out = {}
    for _, win in ipairs(w:windows(ts)) do out[#out + 1] = win.start end
    return out
end

-- A processor that counts records per key in w (or in each of several windows) and
-- emits "<window name> <key> <start>-<stop> <count>" to out when a window closes.
local function counter(windows, opts)
    opts = opts or {}
    if windows.size_ms then windows = {windows} end
    local stats = {updated = 0, late = 0}
    local p = test.processor({
        process = function(r, ctx)
            for _, w in ipairs(windows) do
                local u, l = w:add(ctx, r.timestamp, r.key, function(agg, win)
                    if opts.check then opts.check(agg, win, ctx) end
                    if opts.skip and opts.skip(r) then return nil end
                    return tostring((tonumber(agg) or 0) + 1)
                end)
                stats.updated, stats.late = stats.updated + u, stats.late + l
                stats.last_updated, stats.last_late = u, l
            end
            if opts.fail and opts.fail(r) then error("refused " .. r.key) end
        end,
        on_timer = function(t, ctx)
            for _, w in ipairs(windows) do
                if w:on_timer(ctx, t, function(key, agg, win)
                    ctx:emit("out", key, ("%s %s %d-%d %s"):format(w.name, key, win.start, win.stop, agg))
                end) then return end
            end
            error("a timer no window took: " .. t.name)
        end,
    }, {}, {"in"}, {"out"})
    return p, stats
end

local function values(p)
    local out = {}
    for _, e in ipairs(p:take()) do out[#out + 1] = e.value end
    return out
end

-- ---- definitions ----------------------------------------------------------------------

test.case("tumbling: the fields of a definition", function()
    local w = window.tumbling{size_ms = 60000, grace_ms = 5000}
    test.eq(w.size_ms, 60000)
    test.eq(w.advance_ms, 60000)
    test.eq(w.grace_ms, 5000)
    test.eq(w.name, "window")
    test.eq(w.emit_limit, 1000)
    test.eq(w.hopping, false)
    local h = window.hopping{size_ms = "60000", advance_ms = 15000.0, name = "h-1.x"}
    test.eq(h.size_ms, 60000, "a string of digits")
    test.eq(h.advance_ms, 15000, "an integral float")
    test.eq(h.grace_ms, 0)
    test.eq(h.hopping, true)
    test.eq(window.hopping{size_ms = 10, advance_ms = 10}.hopping, false, "advance = size is tumbling")
end)

test.case("bad definitions are errors that say what is wrong", function()
    test.err(window.tumbling, "size_ms must be a whole number", {})
    test.err(window.tumbling, "size_ms must be at least 1", {size_ms = 0})
    test.err(window.tumbling, "size_ms must be a whole number", {size_ms = 1.5})
    test.err(window.tumbling, "size_ms must be a whole number", {size_ms = "1m"})
    test.err(window.tumbling, "size_ms must be a whole number", {size_ms = "-5"})
    test.err(window.tumbling, "grace_ms must be at least 0", {size_ms = 10, grace_ms = -1})
    test.err(window.tumbling, "advance_ms is for window.hopping", {size_ms = 10, advance_ms = 5})
    test.err(window.hopping, "advance_ms must be a whole number", {size_ms = 10})
    test.err(window.hopping, "advance_ms must be at least 1", {size_ms = 10, advance_ms = 0})
    test.err(window.hopping, "must not be larger than size_ms", {size_ms = 10, advance_ms = 20})
    test.err(window.hopping, "more than 1000 windows", {size_ms = 1001, advance_ms = 1})
    test.ok(window.hopping{size_ms = 1000, advance_ms = 1}, "1000 windows per record are allowed")
    test.err(window.tumbling, "window name must be", {size_ms = 10, name = "a/b"})
    test.err(window.tumbling, "window name must be", {size_ms = 10, name = ""})
    test.err(window.tumbling, "emit_limit must be at least 1", {size_ms = 10, emit_limit = 0})
    test.err(window.tumbling, "expected a table", 10)
    local e = test.err(function() window.tumbling{size_ms = 0} end, "size_ms")
    test.ok(e:find("test_window.lua:", 1, true), "the error points at the caller: " .. e)
end)

test.case("from_options reads window.size.ms, window.advance.ms, window.grace.ms", function()
    local w = window.from_options({["window.size.ms"] = "60000", ["window.grace.ms"] = "1000"})
    test.eq(w.size_ms, 60000)
    test.eq(w.grace_ms, 1000)
    test.eq(w.hopping, false)
    local h = window.from_options({["window.size.ms"] = "60000", ["window.advance.ms"] = "10000"}, {name = "h"})
    test.eq(h.advance_ms, 10000)
    test.eq(h.name, "h")
    local d = window.from_options({}, {size_ms = 60000, grace_ms = 5, emit_limit = 7})
    test.eq(d.size_ms, 60000)
    test.eq(d.grace_ms, 5)
    test.eq(d.emit_limit, 7)
    test.eq(window.from_options({["window.size.ms"] = "", ["window.grace.ms"] = "9"}, {size_ms = 3}).size_ms, 3,
        "an empty option is not set")
    test.err(window.from_options, "the option window.size.ms is not set", {})
    local e = test.err(window.from_options, "window.grace.ms must be a whole number",
        {["window.size.ms"] = "10", ["window.grace.ms"] = "soon"})
    test.ok(not e:find("grace_ms", 1, true), "the error names the option: " .. e)
    test.err(window.from_options, "window.advance.ms (20) must not be larger than window.size.ms (10)",
        {["window.size.ms"] = "10", ["window.advance.ms"] = "20"})
end)

-- ---- windows of a timestamp ---------------------------------------------------------------

test.case("tumbling windows: aligned to the epoch, start inclusive, end exclusive", function()
    local w = window.tumbling{size_ms = 60000, grace_ms = 5000}
    test.same(w:windows(0), {{start = 0, stop = 60000, close = 65000}})
    test.same(w:windows(59999), {{start = 0, stop = 60000, close = 65000}})
    test.same(w:windows(60000), {{start = 60000, stop = 120000, close = 125000}})
    test.same(w:windows(1700000052345), {{start = 1700000040000, stop = 1700000100000, close = 1700000105000}})
    test.same(w:windows(1700000052345.0), w:windows(1700000052345), "an integral float")
    test.same(starts(window.tumbling{size_ms = 7}, 20), {14}, "any size: start = ts - ts % size")
end)

test.case("hopping windows: every window whose start is in (ts - size, ts], ascending", function()
    local h = window.hopping{size_ms = 60000, advance_ms = 20000, grace_ms = 1}
    test.same(starts(h, 65000), {20000, 40000, 60000})
    test.same(starts(h, 60000), {20000, 40000, 60000})
    test.same(starts(h, 59999), {0, 20000, 40000})
    test.same(h:windows(80000)[1], {start = 40000, stop = 100000, close = 100001})
    -- near 0: no window starts before 0
    test.same(starts(h, 0), {0})
    test.same(starts(h, 25000), {0, 20000})
    -- a size that is not a multiple of the advance
    local odd = window.hopping{size_ms = 50, advance_ms = 20}
    test.same(starts(odd, 45), {0, 20, 40})
    test.same(starts(odd, 75), {40, 60})
    test.same(starts(odd, 70), {40, 60})
    test.same(starts(odd, 69), {20, 40, 60})
    -- every start holds ts, and no other aligned start does
    for _, ts in ipairs({0, 1, 19, 20, 49, 50, 51, 99, 100, 12345}) do
        for _, win in ipairs(odd:windows(ts)) do
            test.ok(win.start <= ts and ts < win.stop, ts .. " in " .. win.start)
            test.eq(win.start % 20, 0)
        end
        local n = 0
        for s = 0, ts, 20 do if s + 50 > ts then n = n + 1 end end
        test.eq(#odd:windows(ts), n, "windows of " .. ts)
    end
    test.eq(#window.hopping{size_ms = 1000, advance_ms = 1}:windows(5000), 1000)
end)

test.case("a negative or fractional timestamp is an error", function()
    local w = window.tumbling{size_ms = 10}
    test.err(w.windows, "timestamp -1 is negative", w, -1)
    test.err(w.windows, "timestamp must be an integer", w, 1.5)
    test.err(w.windows, "timestamp must be an integer", w, "10")
end)

test.case("window(start) and closed()", function()
    local h = window.hopping{size_ms = 60, advance_ms = 20, grace_ms = 5}
    test.same(h:window(40), {start = 40, stop = 100, close = 105})
    test.err(h.window, "must be a multiple of 20", h, 30)
    test.err(h.window, "must be a multiple of 20", h, -20)
    test.eq(h:closed({stream_time = 104}, h:window(40)), false)
    test.eq(h:closed({stream_time = 105}, h:window(40)), true)
end)

-- ---- add, close, emit -------------------------------------------------------------------

test.case("tumbling, no grace: a window closes with the first record at or past its end", function()
    local w = window.tumbling{size_ms = 1000, name = "w"}
    local p = counter(w)
    p:send{key = "a", timestamp = 0}
    p:send{key = "b", timestamp = 500}
    p:send{key = "a", timestamp = 999}
    test.same(values(p), {})
    test.same(p:keys(), {"w/0000000000000000/a", "w/0000000000000000/b"})
    test.same(p:timers(), {{name = "w/0000000000000000", kind = "event", at = 1000}}, "one timer per window")
    p:send{key = "a", timestamp = 1000}
    test.same(values(p), {"w a 0-1000 2", "w b 0-1000 1"})
    test.same(p:keys(), {"w/00000000000003e8/a"}, "the closed window's state is gone")
    test.same(p:timers(), {{name = "w/00000000000003e8", kind = "event", at = 2000}})
end)

test.case("the record that closes a window is processed before the window's result", function()
    local w = window.tumbling{size_ms = 1000, name = "w"}
    local p = test.processor({
        process = function(r, ctx)
            ctx:emit("out", r.key, "record " .. r.timestamp)
            w:add(ctx, r.timestamp, r.key, function(agg) return (agg or "") .. "+" end)
        end,
        on_timer = function(t, ctx)
            w:on_timer(ctx, t, function(key, agg) ctx:emit("out", key, "window " .. agg) end)
        end,
    }, {}, {"in"}, {"out"})
    p:send{key = "a", timestamp = 10}
    p:send{key = "a", timestamp = 1500}
    test.same(values(p), {"record 10", "record 1500", "window +"})
end)

test.case("grace: records up to end + grace still count; the window closes at end + grace", function()
    local w = window.tumbling{size_ms = 10000, grace_ms = 5000, name = "w"}
    local p, stats = counter(w)
    p:send{key = "a", timestamp = 1000}
    p:send{key = "b", timestamp = 12000}
    p:send{key = "a", timestamp = 3000} -- out of order, within grace: counts
    test.eq(stats.last_updated, 1)
    p:send{key = "a", timestamp = 14999}
    test.same(values(p), {}, "stream time 14999: window 0 still open")
    p:send{key = "a", timestamp = 9999} -- stream time 14999 < 15000: still counts
    test.eq(stats.last_late, 0)
    p:send{key = "c", timestamp = 15000}
    test.same(values(p), {"w a 0-10000 3"})
    p:send{key = "a", timestamp = 4000} -- after the close: late
    test.eq(stats.last_updated, 0)
    test.eq(stats.last_late, 1)
    test.same(p:keys("w/0000000000000000/"), {}, "a late record leaves no state")
    test.same(values(p), {})
    test.eq(stats.late, 1)
end)

test.case("late exactly at the boundary: end + grace <= stream time", function()
    local w = window.tumbling{size_ms = 100, grace_ms = 50, name = "w"}
    local p, stats = counter(w)
    p:send{key = "x", timestamp = 149} -- stream time 149
    p:send{key = "a", timestamp = 99}  -- window [0,100) closes at 150 > 149: counts
    test.eq(stats.last_late, 0)
    test.eq(stats.last_updated, 1)
    p:send{key = "x", timestamp = 150} -- closes [0,100)
    test.same(values(p), {"w a 0-100 1"})
    p:send{key = "a", timestamp = 99}
    test.eq(stats.last_late, 1)
    test.eq(stats.last_updated, 0)
end)

test.case("a record far ahead closes older windows for the records after it", function()
    local w = window.tumbling{size_ms = 100, name = "w"}
    local p, stats = counter(w)
    p:send{key = "a", timestamp = 10}
    p:send{key = "a", timestamp = 110}
    p:send{key = "a", timestamp = 210}
    p:send{key = "a", timestamp = 5000}
    test.same(values(p), {"w a 0-100 1", "w a 100-200 1", "w a 200-300 1"}, "in time order")
    p:send{key = "a", timestamp = 4999}
    test.eq(stats.last_late, 1, "4999 is in [4900,5000), closed by stream time 5000")
end)

test.case("hopping: a record counts in each of its windows; each closes on its own", function()
    local h = window.hopping{size_ms = 300, advance_ms = 100, name = "h"}
    local p, stats = counter(h)
    p:send{key = "a", timestamp = 50}  -- [0,300)
    p:send{key = "a", timestamp = 150} -- [0,300) [100,400)
    p:send{key = "a", timestamp = 250} -- [0,300) [100,400) [200,500)
    test.eq(stats.updated, 6)
    test.eq(#p:timers(), 3)
    p:send{key = "b", timestamp = 350} -- [100,400) [200,500) [300,600); closes [0,300)
    test.same(values(p), {"h a 0-300 3"})
    p:send{key = "b", timestamp = 620} -- closes [100,400), [200,500), [300,600)
    test.same(values(p), {"h a 100-400 2", "h b 100-400 1", "h a 200-500 1", "h b 200-500 1",
                          "h b 300-600 1"})
    p:send{key = "c", timestamp = 450} -- [200,500) and [300,600) closed; [400,700) open
    test.eq(stats.last_updated, 1)
    test.eq(stats.last_late, 2)
    p:send{key = "z", timestamp = 10000}
    test.same(values(p), {"h b 400-700 1", "h c 400-700 1", "h b 500-800 1", "h b 600-900 1"})
    test.same(p:keys(), {"h/0000000000002648/z", "h/00000000000026ac/z", "h/0000000000002710/z"},
        "9800, 9900, 10000")
end)

test.case("timers fire in (at, name) order across windows", function()
    -- b closes at 100, a at 100 and 150 (grace): at first, then name
    local a = window.tumbling{size_ms = 100, grace_ms = 0, name = "a"}
    local b = window.tumbling{size_ms = 50, grace_ms = 50, name = "b"}
    local p = counter({b, a})
    p:send{key = "k", timestamp = 60}  -- a [0,100) closes 100; b [50,100) closes 150
    p:send{key = "k", timestamp = 10}  -- b [0,50) closes 100
    p:send{key = "k", timestamp = 1000}
    test.same(values(p), {"a k 0-100 2", "b k 0-50 1", "b k 50-100 1"})
    local names = {}
    for _, t in ipairs(p.fired) do names[#names + 1] = t.name .. "@" .. t.at end
    test.same(names, {"a/0000000000000000@100", "b/0000000000000000@100", "b/0000000000000032@150"})
end)

test.case("keys are emitted in byte order; any bytes make a key", function()
    local w = window.tumbling{size_ms = 100, name = "w"}
    local p = counter(w)
    for _, k in ipairs({"b", "a/b", "", "\0", "ab", "a", "\255x", "a/"}) do p:send{key = k, timestamp = 5} end
    p:send{key = "a", timestamp = 5}
    p:send{key = "z", timestamp = 100}
    local keys = {}
    for _, e in ipairs(p:take()) do keys[#keys + 1] = e.key end
    test.same(keys, {"", "\0", "a", "a/", "a/b", "ab", "b", "\255x"})
    test.eq(p:keys("w/0000000000000000")[1], nil)
end)

test.case("emit_limit: a big window is emitted over several timer calls, each its own call", function()
    local w = window.tumbling{size_ms = 100, name = "w", emit_limit = 2}
    local p = counter(w)
    for i = 1, 5 do p:send{key = "k" .. i, timestamp = i} end
    p:send{key = "late", timestamp = 200}
    test.same(values(p), {"w k1 0-100 1", "w k2 0-100 1", "w k3 0-100 1", "w k4 0-100 1", "w k5 0-100 1"})
    test.eq(#p.fired, 3, "2 + 2 + 1 keys")
    test.same(p:keys("w/0000000000000000/"), {})
    test.same(p:timers(), {{name = "w/00000000000000c8", kind = "event", at = 300}})
    -- exactly emit_limit keys: one call, nothing rescheduled
    local q = counter(window.tumbling{size_ms = 100, name = "w", emit_limit = 2})
    q:send{key = "a", timestamp = 1}
    q:send{key = "b", timestamp = 1}
    q:send{key = "c", timestamp = 100}
    test.eq(#q.fired, 1)
end)

test.case("on_timer leaves other timers alone and returns false", function()
    local w = window.tumbling{size_ms = 100, name = "w"}
    local p = test.processor({process = function() end}, {}, {"in"}, {"out"})
    p:call(function(ctx)
        ctx.state:put("w/0000000000000000/a", "1")
        local function no(t) test.eq(w:on_timer(ctx, t, error), false, t.name) end
        no{name = "other", kind = "event", at = 100}
        no{name = "w/0000000000000000", kind = "wall", at = 100}
        no{name = "w/000000000000000g", kind = "event", at = 100}
        no{name = "w/00000000000000000", kind = "event", at = 100}
        no{name = "w/0000000000000032", kind = "event", at = 150} -- 50 is no start of w
        no{name = "ww/0000000000000000", kind = "event", at = 100}
        test.eq(w:on_timer(ctx, {name = "w/0000000000000000", kind = "event", at = 100}, function() end), true)
    end)
    test.same(p.state, {})
end)

test.case("fold: gets the aggregate and the window; nil leaves it; a non-string is an error", function()
    local w = window.hopping{size_ms = 200, advance_ms = 100, grace_ms = 7, name = "w"}
    local seen = {}
    local p, stats = counter(w, {
        check = function(agg, win) seen[#seen + 1] = {agg, win.start, win.stop, win.close} end,
        skip = function(r) return r.key == "skip" end,
    })
    p:send{key = "a", timestamp = 150}
    p:send{key = "a", timestamp = 160}
    test.same(seen, {{nil, 0, 200, 207}, {nil, 100, 300, 307}, {"1", 0, 200, 207}, {"1", 100, 300, 307}})
    p:send{key = "skip", timestamp = 170}
    test.eq(stats.last_updated, 0)
    test.eq(stats.last_late, 0)
    test.same(p:keys(), {"w/0000000000000000/a", "w/0000000000000064/a"}, "nil: no state")
    local bad = test.processor({process = function(r, ctx)
        w:add(ctx, r.timestamp, "k", function() return 5 end)
    end}, {}, {"in"}, {"out"})
    local ok, err = bad:send{timestamp = 1}
    test.eq(ok, false)
    test.ok(err:find("fold must return a string", 1, true), err)
    test.err(function() w:add({stream_time = 0}, 1, nil, tostring) end, "window key must be a string")
end)

test.case("a failed process() leaves no window state and no timer behind", function()
    local w = window.tumbling{size_ms = 100, name = "w"}
    local p = counter(w, {fail = function(r) return r.key == "bad" end})
    p:send{key = "bad", timestamp = 5}
    test.same(p.state, {})
    test.same(p:timers(), {})
    test.eq(#p.dlq, 1)
    p:send{key = "ok", timestamp = 6}
    p:send{key = "ok", timestamp = 100}
    test.same(values(p), {"w ok 0-100 1"})
end)

test.case("state cleanup: once every window closed, no state and no timers are left", function()
    local h = window.hopping{size_ms = 1000, advance_ms = 250, grace_ms = 100, name = "h"}
    local p = counter(h)
    local expected = 0
    for ts = 0, 5000, 37 do
        p:send{key = "k" .. (ts % 7), timestamp = ts}
        expected = expected + math.min(4, ts // 250 + 1) -- fewer windows near 0
    end
    p:send{key = "end", timestamp = 100000}
    local total = 0
    for _, e in ipairs(p:take()) do
        if e.key ~= "end" then total = total + tonumber(e.value:match("(%d+)$")) end
    end
    test.eq(total, expected, "each record counted once in each of its windows")
    local left = p:keys()
    for _, k in ipairs(left) do test.ok(k:find("/end$"), "only the last record's windows remain: " .. k) end
    test.eq(#left, 4)
    test.eq(#p:timers(), 4)
end)

test.case("cost: adding to a window and closing it stays small", function()
    local w = window.hopping{size_ms = 60000, advance_ms = 10000, name = "w"}
    local p = counter(w)
    local cost = test.cost(function()
        for i = 1, 100 do p:send{key = "k" .. (i % 10), timestamp = i * 1000} end
        p:send{key = "x", timestamp = 1000000}
    end)
    test.ok(cost < 5000000, "100 records in 6 windows, 10 keys, with the fake: " .. cost)
end)
