-- tests/lua/test_router.lua: processors/router.lua.

local SCRIPT = "processors/router.lua"
local OUTPUTS = {"nordic", "us", "audit", "other"}

local function router(options, outputs)
    return test.processor(SCRIPT, options, {"orders"}, outputs or OUTPUTS, {name = "route-orders"})
end

local function where(p)
    local out = {}
    for _, e in ipairs(p:take()) do out[#out + 1] = e.topic .. " " .. tostring(e.key) .. " " .. tostring(e.value) end
    return out
end

test.case("route.field: by a JSON field, unchanged records, default for the rest", function()
    local p = router{["route.field"] = "country", ["route.NO"] = "nordic", ["route.SE"] = "nordic",
                     ["route.US"] = "us, audit", ["route.default"] = "other"}
    p:send{key = "1", value = '{"country":"NO"}', timestamp = 1, headers = {{"h", "v"}}}
    test.same(p:take(), {{topic = "nordic", key = "1", value = '{"country":"NO"}', headers = {{"h", "v"}},
                          timestamp = 1}})
    p:send{key = "2", value = '{"country":"SE"}', timestamp = 2}
    p:send{key = "3", value = '{"country":"US"}', timestamp = 3}
    p:send{key = "4", value = '{"country":"DK"}', timestamp = 4}
    p:send{key = "5", value = '{"country":null}', timestamp = 5}
    p:send{key = "6", value = 'not json', timestamp = 6}
    p:send{key = "7", value = nil, timestamp = 7}
    test.same(where(p), {
        'nordic 2 {"country":"SE"}',
        'us 3 {"country":"US"}', 'audit 3 {"country":"US"}',
        'other 4 {"country":"DK"}',
        'other 5 {"country":null}',
        'other 6 not json',
        'other 7 nil',
    })
end)

test.case("numbers and booleans route by their text", function()
    local p = router{["route.field"] = "prio", ["route.1"] = "us", ["route.true"] = "audit",
                     ["route.default"] = "other"}
    p:send{value = '{"prio": 1}', timestamp = 1}
    p:send{value = '{"prio": "1"}', timestamp = 2}
    p:send{value = '{"prio": 1.0}', timestamp = 3}
    p:send{value = '{"prio": true}', timestamp = 4}
    test.same(where(p), {'us nil {"prio": 1}', 'us nil {"prio": "1"}', 'other nil {"prio": 1.0}',
                         'audit nil {"prio": true}'})
end)

test.case("no route and no route.default: an error (DLQ) by default, or dropped", function()
    local p = router{["route.field"] = "country", ["route.NO"] = "nordic"}
    local ok, err = p:send{value = '{"country":"DK"}', timestamp = 1}
    test.eq(ok, false)
    test.ok(err:find('no route for field \'country\' "DK": set route.DK or route.default', 1, true), err)
    ok, err = p:send{value = '{}', timestamp = 2}
    test.ok(err:find("no route: the record has no field 'country'", 1, true), err)
    test.eq(#p.dlq, 2)
    local q = router{["route.field"] = "country", ["route.NO"] = "nordic", ["route.unmatched"] = "drop"}
    test.ok(q:send{value = '{"country":"DK"}', timestamp = 1})
    test.same(q:take(), {})
end)

test.case("the option names themselves are never routes", function()
    local p = router{["route.field"] = "c", ["route.default"] = "other", ["route.unmatched"] = "drop"}
    for _, v in ipairs({"field", "default", "unmatched", "key", "header"}) do
        p:send{value = '{"c":"' .. v .. '"}', timestamp = 1}
    end
    test.eq(#p:take("other"), 5)
    test.same(p:take(), {})
end)

test.case("route.header: the last header of that name", function()
    local p = router{["route.header"] = "region", ["route.eu"] = "nordic", ["route.us"] = "us",
                     ["route.default"] = "other"}
    p:send{value = "a", timestamp = 1, headers = {{"region", "us"}, {"region", "eu"}}}
    p:send{value = "b", timestamp = 2, headers = {{"region", "us"}}}
    p:send{value = "c", timestamp = 3, headers = {{"x", "eu"}}}
    p:send{value = "d", timestamp = 4, headers = {{"region", nil}}}
    test.same(where(p), {"nordic nil a", "us nil b", "other nil c", "other nil d"})
end)

test.case("route.key: by the record key", function()
    local p = router{["route.key"] = "true", ["route.a.b"] = "us", ["route.default"] = "other"}
    p:send{key = "a.b", value = "1", timestamp = 1}
    p:send{key = "a", value = "2", timestamp = 2}
    p:send{value = "3", timestamp = 3}
    test.same(where(p), {"us a.b 1", "other a 2", "other nil 3"})
end)

test.case("output.key.field re-keys: a repartition by a field", function()
    local p = router({["route.field"] = "item", ["route.default"] = "orders-by-item",
                      ["output.key.field"] = "item"}, {"orders-by-item"})
    p:send{key = "c7", value = '{"order_id":1,"item":"mouse"}', timestamp = 1}
    p:send{key = "c8", value = '{"order_id":2,"item":7}', timestamp = 2}
    test.same(where(p), {'orders-by-item mouse {"order_id":1,"item":"mouse"}', 'orders-by-item 7 {"order_id":2,"item":7}'})
    local ok, err = p:send{key = "c9", value = '{"order_id":3}', timestamp = 3}
    test.eq(ok, false)
    test.ok(err:find("field 'item' (output.key.field) is absent", 1, true), err)
    local q = router({["route.key"] = "true", ["route.default"] = "other", ["output.key.field"] = "id"}, {"other"})
    _, err = q:send{key = "k", value = "raw", timestamp = 1}
    test.ok(err:find("not a JSON object: cannot read output.key.field 'id'", 1, true), err)
end)

test.case("bad options are errors naming them", function()
    local function err_of(options)
        local _, err = router(options):send{value = '{"c":"x"}', timestamp = 1}
        return err or ""
    end
    test.ok(err_of{}:find("set exactly one of the options route.field, route.header, route.key=true (0 are set)", 1, true))
    test.ok(err_of{["route.field"] = "c", ["route.key"] = "true"}:find("(2 are set)", 1, true))
    test.ok(err_of{["route.key"] = "yes"}:find("route.key must be true or false", 1, true))
    test.ok(err_of{["route.field"] = "c", ["route.unmatched"] = "skip"}:find("route.unmatched must be error or drop", 1, true))
    test.ok(err_of{["route.field"] = "c", ["route.x"] = "elsewhere"}
        :find("route to 'elsewhere', which is not an output of processor route-orders", 1, true))
end)

test.case("many distinct routing values: a route lookup cache that stays bounded", function()
    local p = router{["route.key"] = "true", ["route.k7"] = "us", ["route.default"] = "other"}
    for i = 1, 3000 do p:send{key = "k" .. i, value = "v", timestamp = i} end
    test.eq(#p:take("us"), 1)
    test.eq(#p:take("other"), 2999)
end)
