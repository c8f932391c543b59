-- tests/lua/test_windowed_aggregate.lua: processors/windowed_aggregate.lua.

local cjson = require("cjson")
local SCRIPT = "processors/windowed_aggregate.lua"

local function agg(options, outputs)
    return test.processor(SCRIPT, options, {"clicks"}, outputs or {"counts"}, {name = "clicks-per-minute"})
end

local function results(p, topic)
    local out = {}
    for _, e in ipairs(p:take(topic)) do out[#out + 1] = e.key .. " " .. e.value end
    return out
end

test.case("tumbling count per record key", function()
    local p = agg{["window.size.ms"] = 60000}
    p:send{key = "home", value = "x", timestamp = 1000}
    p:send{key = "cart", value = "x", timestamp = 2000}
    p:send{key = "home", value = "x", timestamp = 59999}
    p:send{key = "home", value = "x", timestamp = 60000}
    test.same(results(p), {
        'cart {"key":"cart","window_start":0,"window_end":60000,"count":1}',
        'home {"key":"home","window_start":0,"window_end":60000,"count":2}',
    })
    p:send{key = "x", value = "x", timestamp = 200000}
    test.same(results(p), {'home {"key":"home","window_start":60000,"window_end":120000,"count":1}'})
    test.same(p.dlq, {})
end)

test.case("sum of value.field, grouped by key.field, with grace", function()
    local p = agg{["window.size.ms"] = "10000", ["window.grace.ms"] = "2000",
                  ["key.field"] = "user", ["value.field"] = "amount"}
    p:send{key = "ignored", value = '{"user": "ann", "amount": 10.25}', timestamp = 1000}
    p:send{value = '{"user": "bob", "amount": 3}', timestamp = 5000}
    p:send{value = '{"user": "ann", "amount": 0.1}', timestamp = 10500}
    p:send{value = '{"user": "ann", "amount": 0.2}', timestamp = 9000} -- within grace
    p:send{value = '{"user": 42, "amount": -1}', timestamp = 9500}
    p:send{value = '{"user": "bob", "amount": 1}', timestamp = 12000} -- closes [0,10000)
    local out = results(p)
    test.same(out, {
        '42 {"key":"42","window_start":0,"window_end":10000,"count":1,"sum":-1}',
        'ann {"key":"ann","window_start":0,"window_end":10000,"count":2,"sum":10.45}',
        'bob {"key":"bob","window_start":0,"window_end":10000,"count":1,"sum":3}',
    })
    p:send{value = '{"user": "ann", "amount": 5}', timestamp = 30000}
    test.same(results(p), {
        'ann {"key":"ann","window_start":10000,"window_end":20000,"count":1,"sum":0.1}',
        'bob {"key":"bob","window_start":10000,"window_end":20000,"count":1,"sum":1}',
    })
end)

test.case("hopping windows: a record in each of its windows", function()
    local p = agg{["window.size.ms"] = 3000, ["window.advance.ms"] = 1000}
    p:send{key = "k", timestamp = 500}
    p:send{key = "k", timestamp = 1500}
    p:send{key = "k", timestamp = 2500}
    p:send{key = "k", timestamp = 9000}
    local counts = {}
    for _, e in ipairs(p:take()) do
        local v = cjson.decode(e.value)
        if v.window_start < 9000 - 3000 then
            counts[#counts + 1] = ("%d-%d:%d"):format(v.window_start, v.window_end, v.count)
        end
    end
    test.same(counts, {"0-3000:3", "1000-4000:2", "2000-5000:1"})
end)

test.case("late records: dropped, or forwarded to late.topic", function()
    local p = agg({["window.size.ms"] = 100, ["late.topic"] = "late"}, {"counts", "late"})
    p:send{key = "a", value = "1", timestamp = 10}
    p:send{key = "a", value = "2", timestamp = 100}
    p:send{key = "a", value = "3", timestamp = 50, headers = {{"trace", "t1"}}}
    test.same(p:take("late"), {{topic = "late", key = "a", value = "3", headers = {{"trace", "t1"}}, timestamp = 50}})
    test.same(results(p, "counts"), {'a {"key":"a","window_start":0,"window_end":100,"count":1}'})
    local q = agg{["window.size.ms"] = 100}
    q:send{key = "a", timestamp = 100}
    q:send{key = "a", timestamp = 50}
    test.same(q:take(), {}, "no late.topic: dropped")
    test.same(q.dlq, {})
end)

test.case("output.topic picks among several outputs; it must be an output", function()
    local p = agg({["window.size.ms"] = 100, ["output.topic"] = "b"}, {"a", "b"})
    p:send{key = "k", timestamp = 1}
    p:send{key = "k", timestamp = 100}
    test.eq(#p:take("b"), 1)
    local bad = agg({["window.size.ms"] = 100, ["output.topic"] = "nope"}, {"a"})
    local ok, err = bad:send{key = "k", timestamp = 1}
    test.eq(ok, false)
    test.ok(err:find("output.topic names 'nope', which is not an output of processor clicks-per-minute", 1, true), err)
    local late = agg({["window.size.ms"] = 100, ["late.topic"] = "nope"}, {"a"})
    _, err = late:send{key = "k", timestamp = 1}
    test.ok(err:find("late.topic names 'nope'", 1, true), err)
end)

test.case("records that cannot be grouped or summed go to the DLQ with a reason", function()
    local p = agg{["window.size.ms"] = 100, ["key.field"] = "user", ["value.field"] = "amount"}
    local function reason(value, key)
        local ok, err = p:send{key = key, value = value, timestamp = 1}
        test.eq(ok, false, value)
        return err
    end
    test.ok(reason("nope"):find("not a JSON object: cannot read key.field 'user'", 1, true))
    test.ok(reason(nil):find("record value is null", 1, true))
    test.ok(reason('{"amount": 1}'):find("field 'user' (key.field) is absent", 1, true))
    test.ok(reason('{"user": null, "amount": 1}'):find("(key.field) is null", 1, true))
    test.ok(reason('{"user": "a"}'):find("field 'amount' (value.field) is absent, not a number", 1, true))
    test.ok(reason('{"user": "a", "amount": "7"}'):find("(value.field) is string, not a number", 1, true))
    test.ok(reason('{"user": "a", "amount": null}'):find("(value.field) is null", 1, true))
    local q = agg{["window.size.ms"] = 100}
    local ok, err = q:send{value = "x", timestamp = 1}
    test.eq(ok, false)
    test.ok(err:find("null key", 1, true), err)
    ok, err = q:send{key = "k", timestamp = -1}
    test.eq(ok, false)
    test.ok(err:find("negative", 1, true), err)
    local r = agg{}
    ok, err = r:send{key = "k", timestamp = 1}
    test.ok(err:find("window.size.ms is not set", 1, true), err)
    test.same(p.state, {})
    test.same(q.state, {})
end)

test.case("sums stay exact in state across many records", function()
    local p = agg{["window.size.ms"] = 1000, ["value.field"] = "v"}
    for i = 1, 1000 do p:send{key = "k", value = '{"v": 0.1}', timestamp = i % 1000} end
    p:send{key = "k", value = '{"v": 0}', timestamp = 5000}
    local v = cjson.decode(p:take()[1].value)
    test.eq(v.count, 1000.0)
    test.eq(v.sum, 100.0, "0.1 summed 1000 times, written with 14 digits")
end)

test.case("a big stream: each result once, late records left out, state empty at the end", function()
    local p = agg{["window.size.ms"] = 1000, ["window.grace.ms"] = 500}
    local want, stream = {}, -1
    for i = 0, 2999 do
        local ts = i * 7 % 5000 + (i // 1000) * 5000 -- disorder, some of it beyond the grace
        local key = "u" .. (i % 13)
        p:send{key = key, timestamp = ts}
        stream = math.max(stream, ts)
        if ts - ts % 1000 + 1500 > stream then -- not late
            local id = key .. "@" .. (ts - ts % 1000)
            want[id] = (want[id] or 0) + 1
        end
    end
    p:send{key = "end", timestamp = 100000}
    local got = {}
    for _, e in ipairs(p:take()) do
        local v = cjson.decode(e.value)
        local id = ("%s@%d"):format(e.key, v.window_start)
        test.eq(got[id], nil, "once: " .. id)
        got[id] = math.tointeger(v.count)
    end
    test.same(got, want)
    local counted = 0
    for _, n in pairs(want) do counted = counted + n end
    test.ok(counted > 1000 and counted < 3000, "some records were late, most were not: " .. counted)
    test.same(p.errors, {})
    test.same(p:keys(), {"agg/00000000000186a0/end"})
end)
