-- tests/lua/test_json_field.lua: partitioners/json_field.lua.

local jf = test.load("partitioners/json_field.lua")
local cfg = {["partitioner.field"] = "user"}

local function place(value, n, config)
    return jf.partition(test.record{value = value}, n or 12, config or cfg)
end

local function expected(text, n)
    return (runnel.murmur2(text) & 0x7fffffff) % n
end

test.case("a string field lands where a record keyed by it would (Java placement)", function()
    test.eq(place('{"user": "user-1", "n": 1}', 12), 8) -- toPositive(murmur2("user-1")) = 1404122828
    test.eq(place('{"user": "user-2"}', 12), 8)          -- 1822501856
    test.eq(place('{"user": "user-2"}', 100), 56)
    local km = test.load("partitioners/murmur2.lua")
    for _, u in ipairs({"a", "bob", "user-77", "é", ""}) do
        for _, n in ipairs({1, 3, 12, 64}) do
            local v = '{"user": "' .. u .. '"}'
            test.eq(place(v, n), km.partition(test.record{key = u}, n, {}), u .. " over " .. n)
        end
    end
end)

test.case("the same field value always goes to the same partition", function()
    local a = place('{"user": "ann", "order": 1, "items": [1, 2]}', 32)
    test.eq(place('{"order": 2, "user": "ann"}', 32), a, "other fields and order do not matter")
    test.eq(place('{ "user" : "ann" }', 32), a, "spacing does not matter")
    test.eq(place('{"user": "\\u0061nn"}', 32), a, "escapes are decoded")
    test.eq(place('{"user":"ann","nested":{"user":"bob"}}', 32), a, "nested fields are not looked at")
    local b = place('{"user": "bob"}', 32)
    local other = test.load("partitioners/json_field.lua")
    test.eq(other.partition(test.record{value = '{"user": "bob"}'}, 32, cfg), b, "a fresh environment agrees")
end)

test.case("numbers hash their JSON text as written", function()
    test.eq(place('{"user": 42}', 100), expected("42", 100))
    test.eq(place('{"user": 42}', 100), place('{"user": "42"}', 100), "42 and \"42\" agree")
    test.eq(place('{"user": -7}', 100), expected("-7", 100))
    test.eq(place('{"user": 0}', 100), expected("0", 100))
    -- larger than 2^53: exact, not rounded through a double
    test.eq(place('{"user": 12345678901234567890}', 1000), expected("12345678901234567890", 1000))
    test.eq(place('{"user": 9007199254740993}', 1000), expected("9007199254740993", 1000))
    -- floats are not normalised (documented)
    test.eq(place('{"user": 42.0}', 1000), expected("42.0", 1000))
    test.eq(place('{"user": 4.2e1}', 1000), expected("4.2e1", 1000))
    test.eq(place('{"user": 1.50}', 1000), expected("1.50", 1000))
    test.eq(place('{"user": -0.5E-3, "x": 1}', 1000), expected("-0.5E-3", 1000))
end)

test.case("the number text is found among awkward neighbours", function()
    local v = '{"a": "x\\"}, \\"user\\": 1", "b": [{"user": 5}, "]"], "c": {"d": "}"},\n\t"user"  :\r\n 77 ,"z":null}'
    test.eq(place(v, 1000), expected("77", 1000))
    test.eq(place('{"user":77}', 1000), expected("77", 1000))
    test.eq(place('{"us\\u0065r": 77}', 1000), expected("77", 1000), "an escaped key")
    -- a duplicate field: the last one counts, as cjson decodes it
    test.eq(place('{"user": 1, "user": 77}', 1000), expected("77", 1000))
end)

test.case("booleans hash true/false", function()
    test.eq(place('{"user": true}', 100), expected("true", 100))
    test.eq(place('{"user": false}', 100), expected("false", 100))
end)

test.case("a missing field is an error naming it", function()
    local e = test.err(place, "no field 'user'", '{"customer": "ann"}')
    test.ok(e:find("partitioner.field", 1, true), e)
    test.ok(e:find("partitioners/json_field.lua:", 1, true), "the error says where: " .. e)
    test.err(place, "no field 'user'", '{}')
    test.err(place, "no field 'user'", '{"nested": {"user": "ann"}}')
end)

test.case("null, object and array fields are errors naming the field", function()
    test.err(place, "field 'user' (partitioner.field) is null", '{"user": null}')
    test.err(place, "field 'user' (partitioner.field) is an object or an array", '{"user": {"id": 1}}')
    test.err(place, "field 'user' (partitioner.field) is an object or an array", '{"user": [1]}')
end)

test.case("a value that is not a JSON object is an error", function()
    for _, v in ipairs({"not json", "[1, 2]", '"user"', "42", "{", '{"user": "a"} trailing',
                        '{"user": NaN}', '{"user": 0x10}', ""}) do
        test.err(place, "not a JSON object", v)
    end
    test.err(place, "record value is null", nil)
end)

test.case("partitioner.field not set is an error saying so", function()
    test.err(place, "partitioner.field is not set", '{"user": "a"}', 12, {})
    test.err(place, "partitioner.field is not set", '{"user": "a"}', 12, {["partitioner.field"] = ""})
end)

test.case("a field name is taken as it is: dots and spaces are part of it", function()
    test.eq(place('{"a.b": "x", "a": {"b": "y"}}', 100, {["partitioner.field"] = "a.b"}), expected("x", 100))
    test.eq(place('{"my field": "x"}', 100, {["partitioner.field"] = "my field"}), expected("x", 100))
end)

test.case("cost: a 64 KiB value is well inside a million instructions", function()
    local parts = {}
    for i = 1, 1500 do parts[#parts + 1] = ('"f%d": {"s": "a,b}", "n": [%d, 2]}'):format(i, i) end
    local v = "{" .. table.concat(parts, ", ") .. ', "user": 12345}'
    test.ok(#v > 40000, "size " .. #v)
    local cost = test.cost(place, v, 10)
    test.eq(place(v, 10), expected("12345", 10))
    test.ok(cost < 1000000, "cost " .. cost)
end)

test.case("randomised: a top-level number is found among nested look-alikes and tricky strings", function()
    math.randomseed(7)
    local fe = test.load("filters/field_equals.lua")
    local function ws() return ({"", " ", "\n", "\t", "  "})[math.random(5)] end
    local function str()
        local p = {'"'}
        for _ = 1, math.random(0, 4) do
            p[#p + 1] = ({"user", "{", "}", "[", "]", '\\"', "\\\\", ",", ":", '\\"user\\": 1'})[math.random(10)]
        end
        return table.concat(p) .. '"'
    end
    local numbers = {"0", "-1", "42", "42.0", "4.2e1", "1E+2", "-0.000125", "12345678901234567890"}
    for i = 1, 300 do
        local members = {}
        for _ = 1, math.random(0, 6) do
            local nested = ({str(), '{"user":' .. numbers[math.random(#numbers)] .. "}",
                             "[" .. str() .. ',{"user":[1,"]"]}]', "null", "-3"})[math.random(5)]
            members[#members + 1] = ws() .. ({'"a"', '"b"', '"us er"', '"User"'})[math.random(4)] .. ws() .. ":" .. ws() .. nested
        end
        local n = numbers[math.random(#numbers)]
        table.insert(members, math.random(#members + 1), ws() .. '"user"' .. ws() .. ":" .. ws() .. n .. ws())
        local v = "{" .. table.concat(members, ",") .. "}"
        test.eq(place(v, 997), expected(n, 997), "case " .. i .. ": " .. v)
        test.eq(fe.filter(test.record{value = v}, {["view.filter.field"] = "user", ["view.filter.value"] = n}), true,
            "field_equals case " .. i .. ": " .. v)
    end
end)
