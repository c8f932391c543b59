-- tests/lua/test_processor_fake.lua: the fake processor runtime (tests/lua/lib/processor.lua)
-- keeps the promises of the real one, since every processor test leans on it.

local function proc(fns, options, setup)
    return test.processor(fns, options or {}, {"in", "in2"}, {"out", "other"}, setup)
end

test.case("ctx: name, task, options (read-only strings), inputs, outputs", function()
    local seen
    local p = test.processor({process = function(_, ctx) seen = ctx end},
        {["a.b"] = "x", n = 5}, {"in"}, {"out"}, {name = "agg", task = 3})
    p:send{timestamp = 1}
    test.eq(seen.name, "agg")
    test.eq(seen.task, 3)
    test.eq(seen.options["a.b"], "x")
    test.eq(seen.options.n, "5", "options are strings")
    test.same(seen.inputs, {"in"})
    test.same(seen.outputs, {"out"})
    test.err(function() seen.options.n = "6" end, "read-only")
    local names = {}
    for k in pairs(seen.options) do names[#names + 1] = k end
    table.sort(names)
    test.same(names, {"a.b", "n"}, "pairs() walks the options")
end)

test.case("records: offsets per topic, partition = task, headers in both shapes", function()
    local got = {}
    local p = proc({process = function(r) got[#got + 1] = r end}, nil, {task = 2})
    p:send{key = "k", value = "v", timestamp = 10, headers = {{"h", "1"}}}
    p:send{topic = "in2", timestamp = 11}
    p:send{timestamp = 12}
    test.same(got[1], {topic = "in", partition = 2, offset = 0, timestamp = 10, key = "k", value = "v",
                       headers = {{"h", "1", name = "h", value = "1"}}})
    test.eq(got[2].topic, "in2")
    test.eq(got[2].offset, 0)
    test.eq(got[3].offset, 1)
    test.eq(got[2].key, nil)
end)

test.case("stream_time: -1 before any record, the max timestamp including the current record", function()
    local times = {}
    local p = proc({process = function(_, ctx) times[#times + 1] = ctx.stream_time end})
    test.eq(p.ctx.stream_time, -1)
    p:send{timestamp = 100}
    p:send{timestamp = 50}
    p:send{timestamp = 150}
    test.same(times, {100, 100, 150})
end)

test.case("state: get/put/delete, put(nil) deletes, strings only", function()
    local p = proc({process = function(r, ctx)
        if r.value == "put" then
            ctx.state:put("a", "1")
            ctx.state:put("b", "2")
            test.eq(ctx.state:get("a"), "1", "a call sees its own writes")
        elseif r.value == "del" then
            ctx.state:put("a", nil)
            ctx.state:delete("b")
            test.eq(ctx.state:get("a"), nil)
        else
            ctx.state:put("n", 5)
        end
    end})
    test.ok(p:send{timestamp = 1, value = "put"})
    test.same(p.state, {a = "1", b = "2"})
    test.ok(p:send{timestamp = 2, value = "del"})
    test.same(p.state, {})
    local ok, err = p:send{timestamp = 3, value = "bad"}
    test.eq(ok, false)
    test.ok(err:find("state value must be a string", 1, true), err)
end)

test.case("state: scan in byte order by prefix, with a limit, as of the call", function()
    local p = proc({process = function(r, ctx)
        if r.value == "fill" then
            for _, k in ipairs({"w/b", "w/a", "x/a", "w/\0", "w/ab", "w/\255", "w"}) do ctx.state:put(k, k) end
            return
        end
        ctx.state:put("w/aa", "new") -- not committed yet: still seen by this call's scans
        ctx.state:delete("w/b")
        local keys = {}
        for k, v in ctx.state:scan("w/") do
            test.eq(v, k == "w/aa" and "new" or k)
            keys[#keys + 1] = k
            ctx.state:put("w/c", "during") -- made while iterating: not seen by this loop
        end
        test.same(keys, {"w/\0", "w/a", "w/aa", "w/ab", "w/\255"})
        local two = {}
        for k in ctx.state:scan("w/", 2) do two[#two + 1] = k end
        test.same(two, {"w/\0", "w/a"})
        local all = 0
        for _ in ctx.state:scan("") do all = all + 1 end
        test.eq(all, 8)
    end})
    p:send{timestamp = 1, value = "fill"}
    test.ok(p:send{timestamp = 2})
    test.same(p.errors, {})
end)

test.case("emit: outputs only, key/value strings or nil, headers as list or map, partition", function()
    local p = proc({process = function(r, ctx)
        if r.value == "ok" then
            ctx:emit("out", "k", "v")
            ctx:emit("other", nil, nil, {{"a", "1"}, {name = "b", value = "2"}}, 4)
            ctx:emit("out", "k", "v", {z = "1", a = "2"})
        elseif r.value == "topic" then
            ctx:emit("nope", "k", "v")
        else
            ctx:emit("out", 5, "v")
        end
    end})
    test.ok(p:send{timestamp = 1, value = "ok"})
    test.same(p:take(), {
        {topic = "out", key = "k", value = "v", timestamp = 1},
        {topic = "other", headers = {{"a", "1"}, {"b", "2"}}, partition = 4, timestamp = 1},
        {topic = "out", key = "k", value = "v", headers = {{"a", "2"}, {"z", "1"}}, timestamp = 1},
    })
    local _, err = p:send{timestamp = 2, value = "topic"}
    test.ok(err:find("'nope' is not an output", 1, true), err)
    _, err = p:send{timestamp = 3, value = "key"}
    test.ok(err:find("key must be a string", 1, true), err)
end)

test.case("take(topic) leaves the other topics' records", function()
    local p = proc({process = function(_, ctx)
        ctx:emit("out", "1", nil)
        ctx:emit("other", "2", nil)
        ctx:emit("out", "3", nil)
    end})
    p:send{timestamp = 1}
    test.eq(#p:take("out"), 2)
    test.same(p:take(), {{topic = "other", key = "2", timestamp = 1}})
    test.same(p:take(), {})
    test.eq(#p.emitted, 3)
end)

test.case("a failed call: its state, emits and timers are discarded, the record goes to the DLQ", function()
    local p = proc({
        process = function(r, ctx)
            ctx.state:put("k", r.value)
            ctx:emit("out", "k", r.value)
            ctx:schedule("t", 100)
            if r.value == "boom" then error("boom!") end
        end,
        on_timer = function() end,
    })
    test.ok(p:send{timestamp = 1, value = "one"})
    test.eq(#p:timers(), 1)
    p:call(function(ctx) ctx:cancel("t") end)
    local ok, err = p:send{timestamp = 2, value = "boom"}
    test.eq(ok, false)
    test.ok(err:find("boom!", 1, true), err)
    test.same(p.state, {k = "one"})
    test.eq(#p:take(), 1)
    test.same(p:timers(), {}, "the failed call's schedule is gone")
    test.eq(#p.dlq, 1)
    test.eq(p.dlq[1].record.value, "boom")
    test.eq(p.dlq[1].record.offset, 1)
    test.eq(p.stream_time, 2, "the record was read: stream time moved")
end)

test.case("event timers fire after the record that makes them due, in (at, name) order", function()
    local log = {}
    local p = proc({
        process = function(r, ctx)
            log[#log + 1] = "record " .. r.timestamp
            if r.value == "plan" then
                ctx:schedule("b", 20)
                ctx:schedule("a", 20, "event", "pa")
                ctx:schedule("c", 10)
                ctx:schedule("z", 5)
                ctx:schedule("z", 30) -- scheduling again moves it
                ctx:schedule("w", 1, "wall")
            end
        end,
        on_timer = function(t, ctx)
            log[#log + 1] = t.name .. "@" .. t.at .. " st=" .. ctx.stream_time .. (t.payload and " " .. t.payload or "")
            if t.name == "c" then ctx:schedule("d", 15) end -- already due: fires in this round
        end,
    })
    p:send{timestamp = 1, value = "plan"}
    p:send{timestamp = 9}
    p:send{timestamp = 25}
    p:send{timestamp = 26}
    test.same(log, {"record 1", "record 9", "record 25", "c@10 st=25", "d@15 st=25", "a@20 st=25 pa",
                    "b@20 st=25", "record 26"})
    test.same(p:timers(), {{name = "z", kind = "event", at = 30}, {name = "w", kind = "wall", at = 1}})
    test.same(p.fired[3], {name = "a", kind = "event", at = 20, payload = "pa"})
end)

test.case("a late record does not move stream time back, and fires nothing", function()
    local fired = 0
    local p = proc({process = function(r, ctx) if r.value == "s" then ctx:schedule("t", 50) end end,
                    on_timer = function() fired = fired + 1 end})
    p:send{timestamp = 100, value = "s"}
    test.eq(fired, 1, "due at once: fires after this record")
    p:call(function(ctx) ctx:schedule("t", 60) end)
    test.eq(fired, 1, "p:call does not fire timers")
    p:send{timestamp = 10}
    test.eq(p.stream_time, 100)
    test.eq(fired, 2, "a due timer fires after the next record, late or not")
end)

test.case("cancel, and event/wall timers of one name are two timers", function()
    local p = proc({process = function(r, ctx)
        if r.value == "s" then
            ctx:schedule("t", 10)
            ctx:schedule("t", 10, "wall")
        else
            ctx:cancel("t")
        end
    end, on_timer = function() end})
    p:send{timestamp = 1, value = "s"}
    test.eq(#p:timers(), 2)
    p:send{timestamp = 2}
    test.same(p:timers(), {{name = "t", kind = "wall", at = 10}})
end)

test.case("wall timers fire as the wall clock passes them, in (at, name) order", function()
    local log = {}
    local p = proc({process = function(_, ctx)
        test.eq(ctx:now(), 1000)
        ctx:schedule("b", 1500, "wall", "x")
        ctx:schedule("a", 1500, "wall")
        ctx:schedule("c", 1200, "wall")
    end, on_timer = function(t, ctx)
        log[#log + 1] = t.name .. " " .. t.kind .. " now=" .. ctx:now()
    end}, nil, {wall = 1000})
    p:send{timestamp = 999999}
    test.same(log, {}, "stream time does not fire wall timers")
    p:advance_wall(199)
    test.same(log, {})
    p:advance_wall(1)
    test.same(log, {"c wall now=1200"})
    p:advance_wall(1000)
    test.same(log, {"c wall now=1200", "a wall now=2200", "b wall now=2200"})
end)

test.case("a failed on_timer: its changes are discarded and the timer is gone", function()
    local p = proc({process = function(_, ctx) ctx:schedule("t", 5) end,
                    on_timer = function(_, ctx)
                        ctx.state:put("x", "1")
                        ctx:emit("out", nil, "x")
                        error("timer broke")
                    end})
    p:send{timestamp = 10}
    test.same(p.state, {})
    test.same(p:take(), {})
    test.same(p:timers(), {})
    test.eq(#p.errors, 1)
    test.ok(p.errors[1]:find("timer broke", 1, true))
    test.eq(#p.dlq, 1, "the timer is dead-lettered")
    test.same(p.dlq[1].timer, {name = "t", kind = "event", at = 5})
    test.ok(p.dlq[1].error:find("timer broke", 1, true))
end)

test.case("emitted records carry the runtime's timestamps", function()
    local p = proc({process = function(r, ctx)
        ctx:emit("out", "record", nil)
        if r.value == "s" then
            ctx:schedule("e", 7)
            ctx:schedule("w", 2000, "wall")
        end
    end, on_timer = function(t, ctx) ctx:emit("out", t.name, nil) end}, nil, {wall = 1000})
    p:send{timestamp = 5, value = "s"}
    p:send{timestamp = 3}
    p:send{timestamp = 9}
    p:advance_wall(1500)
    local stamps = {}
    for _, e in ipairs(p:take()) do stamps[#stamps + 1] = e.key .. "@" .. e.timestamp end
    test.same(stamps, {"record@5", "record@3", "record@9", "e@7", "w@2500"},
        "the input record's, the event timer's at, the wall clock")
end)

test.case("at most 10000 timers fire after one record; the rest after the next", function()
    local n = 0
    local p = proc({process = function(r, ctx)
        if r.value == "s" then for i = 1, 10005 do ctx:schedule(("t%05d"):format(i), 1) end end
    end, on_timer = function() n = n + 1 end})
    p:send{timestamp = 0, value = "s"}
    p:send{timestamp = 1}
    test.eq(n, 10000)
    p:send{timestamp = 1}
    test.eq(n, 10005)
end)

test.case("the C side's limits: 1024-byte keys and timer names; scan limit <= 0 is no limit", function()
    local p = proc({process = function() end})
    local ok, err = p:call(function(ctx) ctx.state:put(("k"):rep(1025), "v") end)
    test.eq(ok, false)
    test.ok(err:find("state key of 1025 bytes: at most 1024", 1, true), err)
    test.ok(p:call(function(ctx) ctx.state:put(("k"):rep(1024), "v") end))
    ok, err = p:call(function(ctx) ctx:schedule(("t"):rep(1025), 1) end)
    test.ok(err:find("timer name of 1025 bytes", 1, true), err)
    test.ok(p:call(function(ctx)
        ctx.state:put("a", "1")
        local n = 0
        for _ in ctx.state:scan("", 0) do n = n + 1 end
        test.eq(n, 2)
        n = 0
        for _ in ctx.state:scan() do n = n + 1 end
        test.eq(n, 2, "no prefix: all")
    end))
end)

test.case("ctx powers outside a call are an error", function()
    local p = proc({process = function() end})
    test.err(function() p.ctx.state:get("k") end, "outside a process or on_timer call")
    test.err(function() p.ctx:emit("out", nil, nil) end, "outside")
end)

test.case("schedule and cancel check their arguments", function()
    local p = proc({process = function() end})
    local function bad(fn, text)
        local ok, err = p:call(fn)
        test.eq(ok, false)
        test.ok(err:find(text, 1, true), err)
    end
    bad(function(ctx) ctx:schedule("t", 1.5) end, "at must be an integer")
    bad(function(ctx) ctx:schedule("t", 1, "cron") end, "kind must be")
    bad(function(ctx) ctx:schedule("t", 1, "event", 7) end, "payload must be a string")
    bad(function(ctx) ctx:cancel(nil) end, "name must be a string")
end)
