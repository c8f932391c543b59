-- tests/lua/test_field_equals.lua: filters/field_equals.lua.

local f = test.load("filters/field_equals.lua")

local function run(value, field, want)
    local config = {["view.filter.field"] = field or "country", ["view.filter.value"] = want or "NO"}
    return f.filter(test.record{value = value, partition = 3, offset = 42}, config)
end

test.case("a matching string field is kept", function()
    test.eq(run('{"country": "NO", "n": 1}'), true)
    test.eq(run(' {"n": [1, {"country": "SE"}], "country":"NO"} '), true)
    test.eq(run('{"country": "\\u004eO"}'), true, "escapes decoded")
    test.eq(run('{"city": "Bodø"}', "city", "Bodø"), true, "UTF-8")
end)

test.case("a different value is dropped", function()
    test.eq(run('{"country": "SE"}'), false)
    test.eq(run('{"country": "no"}'), false, "case-sensitive")
    test.eq(run('{"country": "NO "}'), false, "no trimming")
    test.eq(run('{"country": ""}'), false)
end)

test.case("an absent field is dropped, nested ones do not count", function()
    test.eq(run('{"land": "NO"}'), false)
    test.eq(run('{"address": {"country": "NO"}}'), false)
    test.eq(run('{}'), false)
end)

test.case("values that are not a JSON object are dropped", function()
    for _, v in ipairs({"NO", "", '"NO"', '["NO"]', "null", '{"country": "NO"', '{"country": "NO"} x'}) do
        test.eq(run(v), false, test.show(v))
    end
    test.eq(run(nil), false, "a null value")
end)

test.case("numbers compare by their JSON text as written", function()
    test.eq(run('{"n": 42}', "n", "42"), true)
    test.eq(run('{"n": 42.0}', "n", "42"), false)
    test.eq(run('{"n": 42.0}', "n", "42.0"), true)
    test.eq(run('{"n": -3}', "n", "-3"), true)
    test.eq(run('{"n": 9007199254740993}', "n", "9007199254740993"), true, "exact beyond 2^53")
    test.eq(run('{"n": 9007199254740993}', "n", "9007199254740992"), false, "exact beyond 2^53")
    test.eq(run('{"n": "42"}', "n", "42"), true, "a string of digits too")
end)

test.case("booleans compare as true/false; null, objects and arrays never match", function()
    test.eq(run('{"vip": true}', "vip", "true"), true)
    test.eq(run('{"vip": false}', "vip", "false"), true)
    test.eq(run('{"vip": false}', "vip", "true"), false)
    test.eq(run('{"vip": null}', "vip", "null"), false)
    test.eq(run('{"vip": {}}', "vip", "{}"), false)
    test.eq(run('{"vip": []}', "vip", "[]"), false)
end)

test.case("the empty string is a value to match", function()
    test.eq(run('{"country": ""}', "country", ""), true)
    test.eq(run('{"country": "NO"}', "country", ""), false)
end)

test.case("a duplicated field: the last one counts, as cjson decodes it", function()
    test.eq(run('{"country": "SE", "country": "NO"}'), true)
    test.eq(run('{"n": 1, "n": 2}', "n", "2"), true)
end)

test.case("view.filter.field or view.filter.value not set is an error saying so", function()
    test.err(f.filter, "view.filter.field is not set", test.record{value = "{}"}, {["view.filter.value"] = "x"})
    test.err(f.filter, "view.filter.value is not set", test.record{value = "{}"}, {["view.filter.field"] = "x"})
end)
