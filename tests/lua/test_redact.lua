-- tests/lua/test_redact.lua: filters/redact.lua.

local json = require("cjson.safe")
local r = test.load("filters/redact.lua")
local cfg = {["produce.filter.fields"] = "password, card"}

local function run(value, config, extra)
    local rec = test.record{value = value, key = "k1", headers = {{"trace", "abc"}}, partition = 2}
    for k, v in pairs(extra or {}) do rec[k] = v end
    return r.filter(rec, config or cfg), rec
end

test.case("listed fields become \"***\", a header names them, the rest is intact", function()
    local v = '{"user":"ann","password":"hunter2","card":"4111 1111 1111 1111","n":3}'
    local out = run(v)
    test.eq(type(out), "table")
    test.eq(out.value, '{"user":"ann","password":"***","card":"***","n":3}')
    test.eq(out.key, "k1")
    test.eq(out.timestamp, 1700000000000)
    test.eq(#out.headers, 2)
    test.same(out.headers[1], {"trace", "abc", name = "trace", value = "abc"})
    test.same(out.headers[2], {"redacted", "password,card", name = "redacted", value = "password,card"})
    local d = json.decode(out.value)
    test.same(d, {user = "ann", password = "***", card = "***", n = 3.0}) -- cjson 2.1.0 decodes numbers as floats
end)

test.case("only the fields present are redacted and named", function()
    local out = run('{"user": "ann", "card": 1234}')
    test.eq(out.value, '{"user": "ann", "card": "***"}')
    test.eq(out.headers[#out.headers][2], "card")
end)

test.case("the header lists names in config order", function()
    local out = run('{"card": 1, "password": 2}')
    test.eq(out.headers[#out.headers].value, "password,card")
end)

test.case("any JSON value is masked: numbers, objects, arrays, null, booleans", function()
    local out = run('{"password": {"a": [1, "}"], "b": {}}, "card": [1, 2, {"x": "]"}], "keep": [1]}')
    test.eq(out.value, '{"password": "***", "card": "***", "keep": [1]}')
    out = run('{"password": null, "card": true}')
    test.eq(out.value, '{"password": "***", "card": "***"}')
    out = run('{"password": -1.5e10}')
    test.eq(out.value, '{"password": "***"}')
end)

test.case("everything else stays byte for byte: order, spacing, numbers, escapes, []", function()
    local v = '{ "z" : 123456789012345678 ,\n "password"\t:\t"p\\"w\\\\" , "a":[],"e":{},' ..
              '"s":"caf\\u00e9 \\/ \\n","f":1.50, "card" :"x" }'
    local out = run(v)
    test.eq(out.value, '{ "z" : 123456789012345678 ,\n "password"\t:\t"***" , "a":[],"e":{},' ..
                       '"s":"caf\\u00e9 \\/ \\n","f":1.50, "card" :"***" }')
    test.ok(json.decode(out.value), "still JSON")
end)

test.case("nested fields with a listed name are left alone", function()
    local out = run('{"user": {"password": "inner"}, "password": "outer"}')
    test.eq(out.value, '{"user": {"password": "inner"}, "password": "***"}')
    test.eq(run('{"user": {"password": "inner"}}'), true)
end)

test.case("an escaped key is matched by its decoded name", function()
    local out = run('{"pass\\u0077ord": "x"}')
    test.eq(out.value, '{"pass\\u0077ord": "***"}')
    test.eq(out.headers[#out.headers].value, "password")
end)

test.case("a duplicated field has every occurrence masked", function()
    local out = run('{"password": "first", "x": 1, "password": "second"}')
    test.eq(out.value, '{"password": "***", "x": 1, "password": "***"}')
    out = run('{"password": "leak", "password": "***"}')
    test.eq(out.value, '{"password": "***", "password": "***"}', "a masked last copy hides no earlier one")
    test.eq(out.headers[#out.headers].value, "password")
end)

test.case("nothing to redact: true, the record untouched", function()
    local res, rec = run('{"user": "ann"}')
    test.eq(res, true)
    test.eq(rec.value, '{"user": "ann"}')
    test.eq(#rec.headers, 1)
    test.eq(run('{}'), true)
end)

test.case("redacting twice changes nothing", function()
    local out = run('{"password": "***", "card": "***"}')
    test.eq(out, true)
    local once = run('{"password": "p", "card": "c"}')
    test.eq(run(once.value), true)
end)

test.case("values that are not a JSON object are kept as they are", function()
    for _, v in ipairs({"password=hunter2", "", '["password"]', '"password"', "7", "null",
                        '{"password": "x"', '{"password": NaN}'}) do
        test.eq(run(v), true, test.show(v))
    end
    test.eq(run(nil), true, "a null value")
end)

test.case("the input record is not modified", function()
    local out, rec = run('{"password": "x"}')
    test.eq(rec.value, '{"password": "x"}')
    test.eq(#rec.headers, 1)
    test.ok(out ~= rec and out.headers ~= rec.headers)
end)

test.case("a null key and other record fields pass through", function()
    local out = run('{"password": "x"}', nil, {key = false})
    out = r.filter(test.record{value = '{"password": "x"}', timestamp = 5}, cfg)
    test.eq(out.key, nil)
    test.eq(out.timestamp, 5)
    test.eq(out.topic, "orders")
    test.same(out.headers, {{"redacted", "password", name = "redacted", value = "password"}})
end)

test.case("produce.filter.fields not set is an error saying so", function()
    test.err(run, "produce.filter.fields is not set", '{"a": 1}', {})
    test.err(run, "produce.filter.fields is not set", '{"a": 1}', {["produce.filter.fields"] = ","})
end)

test.case("a changed config is read again", function()
    test.eq(run('{"a": 1, "b": 2}', {["produce.filter.fields"] = "a"}).value, '{"a": "***", "b": 2}')
    test.eq(run('{"a": 1, "b": 2}', {["produce.filter.fields"] = "b"}).value, '{"a": 1, "b": "***"}')
end)

test.case("cost: a 64 KiB value is well inside a million instructions", function()
    local parts = {}
    for i = 1, 1500 do parts[#parts + 1] = ('"f%d": {"s": "a,b}", "n": [%d, 2]}'):format(i, i) end
    local v = '{"password": "x", ' .. table.concat(parts, ", ") .. ', "card": "y"}'
    test.ok(#v > 40000, "size " .. #v)
    local out
    local cost = test.cost(function() out = run(v) end)
    test.eq(#out.value, #v - 2 + 6) -- two 3-byte strings became "***"
    test.ok(cost < 1000000, "cost " .. cost)
end)

-- Random JSON objects whose strings hold brackets, quotes, backslashes and \u escapes.
local function gen(depth, keys)
    local function ws() return ({"", " ", "\n", "\t ", ""})[math.random(5)] end
    local function str()
        local p = {'"'}
        for _ = 1, math.random(0, 5) do
            p[#p + 1] = ({"a", "{", "}", "[", "]", '\\"', "\\\\", "\\u00e9", ",", ":", "\\/"})[math.random(11)]
        end
        p[#p + 1] = '"'
        return table.concat(p)
    end
    local value
    local function object(d, pool)
        local m = {}
        for _ = 1, math.random(0, 5) do
            m[#m + 1] = ws() .. '"' .. pool[math.random(#pool)] .. '"' .. ws() .. ":" .. ws() .. value(d + 1)
        end
        return "{" .. table.concat(m, ",") .. ws() .. "}"
    end
    function value(d)
        local k = math.random(1, d > 3 and 3 or 5)
        if k == 1 then return str() end
        if k == 2 then
            return ({"0", "-12", "3.25", "1e3", "123456789012345678", "true", "false", "null"})[math.random(8)]
        end
        if k == 3 then return str() end
        if k == 4 then
            local a = {}
            for _ = 1, math.random(0, 4) do a[#a + 1] = ws() .. value(d + 1) end
            return "[" .. table.concat(a, ",") .. ws() .. "]"
        end
        return object(d, {"password", "card", "x", "y{", "z\\\"]"})
    end
    return ws() .. object(depth, keys) .. ws()
end

test.case("randomised: the decoded result is the original with exactly the listed fields masked", function()
    math.randomseed(20240611)
    local keys = {"password", "card", "user", "x", "pass\\u0077ord", "a}", "b\\\"["}
    local changed = 0
    for i = 1, 400 do
        local v = gen(0, keys)
        local orig = json.decode(v)
        test.ok(type(orig) == "table", "generated JSON " .. i .. ": " .. v)
        local out = r.filter(test.record{value = v}, cfg)
        local want, names = {}, {}
        for k, x in pairs(orig) do want[k] = x end
        for _, name in ipairs({"password", "card"}) do
            if orig[name] ~= nil then
                want[name] = "***"
                names[#names + 1] = name
            end
        end
        if #names == 0 then
            test.eq(out, true, "case " .. i .. ": " .. v)
        else
            changed = changed + 1
            test.eq(type(out), "table", "case " .. i .. ": " .. v)
            test.same(json.decode(out.value), want, "case " .. i .. ": " .. v)
            test.eq(out.headers[#out.headers].value, table.concat(names, ","), "case " .. i)
            -- outside the masks not a byte moved: the pieces between them are the
            -- original's, in order, the first at its start and the last at its end
            local pieces = {}
            for piece in (out.value .. '"***"'):gmatch('(.-)"%*%*%*"') do pieces[#pieces + 1] = piece end
            test.eq(v:sub(1, #pieces[1]), pieces[1], "case " .. i .. " start")
            local pos = #pieces[1] + 1
            for k = 2, #pieces do
                local a, b = v:find(pieces[k], pos + 1, true)
                test.ok(a, "case " .. i .. " piece " .. k)
                pos = b + 1
            end
            test.ok(pieces[#pieces] == "" or v:sub(-#pieces[#pieces]) == pieces[#pieces], "case " .. i .. " end")
        end
    end
    test.ok(changed > 100 and changed < 400, "changed " .. changed .. " of 400")
end)

test.case("nested values with brackets and escapes inside strings are skipped whole", function()
    local out = run('{"a": ["x\\\\", "]", {"b": "}\\""}], "password": 1, "c": "{[\\"]}", "card": [[]]}')
    test.eq(out.value, '{"a": ["x\\\\", "]", {"b": "}\\""}], "password": "***", "c": "{[\\"]}", "card": "***"}')
    out = run('{"a": {"password": "]}"}, "password": {"card": "{"}}')
    test.eq(out.value, '{"a": {"password": "]}"}, "password": "***"}')
end)
