-- tests/lua/test_enrich_join.lua: processors/enrich_join.lua.

local SCRIPT = "processors/enrich_join.lua"

local function join(options, inputs, outputs)
    local o = {["join.table"] = "customers"}
    for k, v in pairs(options or {}) do o[k] = v end
    return test.processor(SCRIPT, o, inputs or {"orders", "customers"}, outputs or {"orders-enriched"},
        {name = "enrich"})
end

local function values(p)
    local out = {}
    for _, e in ipairs(p:take()) do out[#out + 1] = e.value end
    return out
end

test.case("stream records get the table's latest value for their key", function()
    local p = join{["enrich.as"] = "customer"}
    p:send{topic = "customers", key = "c7", value = '{"name":"Ann","tier":"silver"}', timestamp = 1}
    p:send{topic = "customers", key = "c7", value = '{"name":"Ann","tier":"gold"}', timestamp = 2}
    test.same(p:take(), {}, "table records emit nothing")
    p:send{topic = "orders", key = "c7", value = '{"order_id":1,"amount":30.50}', timestamp = 3,
           headers = {{"trace", "x"}}}
    test.same(p:take(), {{topic = "orders-enriched", key = "c7", headers = {{"trace", "x"}}, timestamp = 3,
        value = '{"order_id":1,"amount":30.50,"customer":{"name":"Ann","tier":"gold"}}'}})
end)

test.case("no match: the member is null; join.require=true drops the record", function()
    local p = join()
    p:send{key = "c1", value = '{"a":1}', timestamp = 1}
    test.same(values(p), {'{"a":1,"enriched":null}'})
    local q = join{["join.require"] = "true"}
    q:send{key = "c1", value = '{"a":1}', timestamp = 1}
    test.same(q:take(), {})
    q:send{topic = "customers", key = "c1", value = '"vip"', timestamp = 2}
    q:send{key = "c1", value = '{"a":1}', timestamp = 3}
    test.same(values(q), {'{"a":1,"enriched":"vip"}'})
end)

test.case("a null table value deletes the key", function()
    local p = join()
    p:send{topic = "customers", key = "c1", value = "1", timestamp = 1}
    p:send{key = "c1", value = "{}", timestamp = 2}
    p:send{topic = "customers", key = "c1", value = nil, timestamp = 3}
    p:send{key = "c1", value = "{}", timestamp = 4}
    test.same(values(p), {'{"enriched":1}', '{"enriched":null}'})
    test.same(p.state, {})
end)

test.case("the stream value is kept byte for byte; an existing member is replaced", function()
    local p = join()
    p:send{topic = "customers", key = "k", value = '  {"x": [1, 2]}\n', timestamp = 1}
    p:send{key = "k", value = '{ "n": 1.50, "s": "a\\u00e9}", "l": [] }  ', timestamp = 2}
    p:send{key = "k", value = '{"enriched": {"old": true}, "z": 0}', timestamp = 3}
    p:send{key = "k", value = '{"enriched": 1, "enriched": 2}', timestamp = 4}
    p:send{key = "k", value = '{ }', timestamp = 5}
    test.same(values(p), {
        '{ "n": 1.50, "s": "a\\u00e9}", "l": [] ,"enriched":{"x": [1, 2]}}  ',
        '{"enriched": {"x": [1, 2]}, "z": 0}',
        '{"enriched": 1, "enriched": {"x": [1, 2]}}',
        '{ "enriched":{"x": [1, 2]}}',
    })
end)

test.case("a table value that is not JSON goes in as a JSON string", function()
    local p = join()
    p:send{topic = "customers", key = "k", value = 'Ann "the" Admin', timestamp = 1}
    p:send{key = "k", value = '{}', timestamp = 2}
    test.same(values(p), {'{"enriched":"Ann \\"the\\" Admin"}'})
end)

test.case("join.field: the join key is a field of the stream value", function()
    local p = join{["join.field"] = "customer_id"}
    p:send{topic = "customers", key = "c7", value = '{"name":"Ann"}', timestamp = 1}
    p:send{topic = "customers", key = "42", value = '{"name":"Num"}', timestamp = 1}
    p:send{key = "order-1", value = '{"customer_id":"c7"}', timestamp = 2}
    p:send{key = "order-2", value = '{"customer_id":42}', timestamp = 3}
    p:send{key = "order-3", value = '{"other":1}', timestamp = 4}
    local out = p:take()
    test.eq(out[1].key, "order-1", "the stream record's key is kept")
    test.eq(out[1].value, '{"customer_id":"c7","enriched":{"name":"Ann"}}')
    test.eq(out[2].value, '{"customer_id":42,"enriched":{"name":"Num"}}', "a number joins by its text")
    test.eq(out[3].value, '{"other":1,"enriched":null}', "no field: no match")
end)

test.case("several stream inputs share the table", function()
    local p = join(nil, {"orders", "customers", "returns"})
    p:send{topic = "customers", key = "c", value = "1", timestamp = 1}
    p:send{topic = "orders", key = "c", value = "{}", timestamp = 2}
    p:send{topic = "returns", key = "c", value = '{"r":1}', timestamp = 3}
    test.same(values(p), {'{"enriched":1}', '{"r":1,"enriched":1}'})
end)

test.case("errors: bad options, a keyless table record, a stream value that is not an object", function()
    local function first_error(p, rec)
        local ok, err = p:send(rec)
        test.eq(ok, false)
        return err
    end
    local e = first_error(test.processor(SCRIPT, {}, {"a", "b"}, {"o"}), {timestamp = 1})
    test.ok(e:find("join.table is not set", 1, true), e)
    e = first_error(join({["join.table"] = "nope"}), {timestamp = 1})
    test.ok(e:find("join.table names 'nope', which is not an input", 1, true), e)
    e = first_error(join(nil, {"customers"}), {timestamp = 1})
    test.ok(e:find("no stream input", 1, true), e)
    e = first_error(join{["join.require"] = "yes"}, {timestamp = 1})
    test.ok(e:find("join.require must be true or false", 1, true), e)
    e = first_error(join{["output.topic"] = "x"}, {timestamp = 1})
    test.ok(e:find("output.topic names 'x'", 1, true), e)
    local p = join()
    e = first_error(p, {topic = "customers", value = "1", timestamp = 1})
    test.ok(e:find("table record has a null key", 1, true), e)
    e = first_error(p, {key = "k", value = "[1]", timestamp = 1})
    test.ok(e:find("stream record value is not a JSON object: cannot add 'enriched'", 1, true), e)
    e = first_error(p, {key = "k", timestamp = 1})
    test.ok(e:find("stream record value is null", 1, true), e)
    test.eq(#p.dlq, 3)
end)
