-- tests/lua/test_require_json_fields.lua: filters/require_json_fields.lua.

local f = test.load("filters/require_json_fields.lua")
local cfg = {["produce.filter.fields"] = "id, user ,ts"}

local function run(value, config)
    return f.filter(test.record{value = value, key = "k"}, config or cfg)
end

test.case("a record with every field is kept", function()
    test.eq(run('{"id": 1, "user": "ann", "ts": 1700000000000}'), true)
    test.eq(run('{"ts": 0, "extra": [1], "user": {}, "id": "x"}'), true, "extra fields, any types")
    test.eq(run('{"id": null, "user": false, "ts": ""}'), true, "present means the key is there")
    test.eq(run(' \n{"id":1,"user":2,"ts":3}\n'), true, "whitespace around the object")
end)

test.case("a missing field is rejected with a reason naming it", function()
    local ok, why = run('{"id": 1, "ts": 2}')
    test.eq(ok, nil)
    test.eq(why, "value is missing required field 'user'")
    ok, why = run('{"user": "ann"}')
    test.eq(ok, nil)
    test.eq(why, "value is missing required fields 'id', 'ts'")
    ok, why = run('{"nested": {"id": 1, "user": 2, "ts": 3}}')
    test.eq(why, "value is missing required fields 'id', 'user', 'ts'", "only top-level fields count")
    ok, why = run('{"ID": 1, "user": 2, "ts": 3}')
    test.eq(why, "value is missing required field 'id'", "names are case-sensitive")
end)

test.case("a value that is not a JSON object is rejected", function()
    for _, v in ipairs({"hello", "", "[1,2,3]", "[]", '"id"', "42", "null", "{", '{"id":1,"user":2,"ts":3',
                        '{"id":1,"user":2,"ts":3} {}', '{"id": NaN, "user": 1, "ts": 1}'}) do
        local ok, why = run(v)
        test.eq(ok, nil, test.show(v))
        test.eq(why, "value is not a JSON object", test.show(v))
    end
    local ok, why = run(nil)
    test.eq(ok, nil, "a null value")
    test.eq(why, "value is not a JSON object")
end)

test.case("the field list: spaces trimmed, empty items ignored, one field fine", function()
    test.eq(run('{"a b": 1, "c": 2}', {["produce.filter.fields"] = " a b , ,c,"}), true)
    local _, why = run('{"c": 2}', {["produce.filter.fields"] = " a b , ,c,"})
    test.eq(why, "value is missing required field 'a b'")
    test.eq(run('{"only": 1}', {["produce.filter.fields"] = "only"}), true)
end)

test.case("a changed config is read again (not stuck in the cache)", function()
    test.eq(run('{"a": 1}', {["produce.filter.fields"] = "a"}), true)
    local _, why = run('{"a": 1}', {["produce.filter.fields"] = "a,b"})
    test.eq(why, "value is missing required field 'b'")
    test.eq(run('{"a": 1}', {["produce.filter.fields"] = "a"}), true)
end)

test.case("produce.filter.fields not set is an error saying so", function()
    test.err(run, "produce.filter.fields is not set", '{"a": 1}', {})
    test.err(run, "produce.filter.fields is not set", '{"a": 1}', {["produce.filter.fields"] = " , "})
end)

test.case("the record itself is not changed", function()
    local r = test.record{value = '{"id": 1, "user": 2, "ts": 3}', key = "k", headers = {{"h", "v"}}}
    test.eq(f.filter(r, cfg), true)
    test.same(r, test.record{value = '{"id": 1, "user": 2, "ts": 3}', key = "k", headers = {{"h", "v"}}})
end)
