-- tests/lua/test_shop_processors.lua: the shop demo's processors, processors/stock.lua and
-- processors/revenue_per_minute.lua, on orders as examples/shop/order-service.c writes them.

local cjson = require("cjson")

local function order(id, customer, item, qty, amount)
    return ('{"order_id":%d,"customer_id":"%s","item":"%s","qty":%d,"amount":%.2f}')
        :format(id, customer, item, qty, amount)
end

-- ---- stock ------------------------------------------------------------------------------

local function stock(options)
    return test.processor("processors/stock.lua", options or {}, {"orders-by-item"}, {"stock-events"},
        {name = "stock"})
end

local function events(p)
    local out = {}
    for _, e in ipairs(p:take()) do out[#out + 1] = e.key .. " " .. e.value end
    return out
end

test.case("stock: reserves while there is enough, then rejects; keyed by item", function()
    local p = stock{["stock.initial"] = "5"}
    p:send{key = "mouse", value = order(1, "c1", "mouse", 2, 50), timestamp = 1}
    p:send{key = "mouse", value = order(2, "c2", "mouse", 3, 75), timestamp = 2}
    p:send{key = "mouse", value = order(3, "c3", "mouse", 1, 25), timestamp = 3}
    p:send{key = "laptop", value = order(4, "c3", "laptop", 1, 1100), timestamp = 4}
    test.same(events(p), {
        'mouse {"order_id":1,"sku":"mouse","qty":2,"left":3,"status":"reserved"}',
        'mouse {"order_id":2,"sku":"mouse","qty":3,"left":0,"status":"reserved"}',
        'mouse {"order_id":3,"sku":"mouse","qty":1,"left":0,"status":"rejected"}',
        'laptop {"order_id":4,"sku":"laptop","qty":1,"left":4,"status":"reserved"}',
    })
    test.same(p.state, {["stock/mouse"] = "0", ["stock/laptop"] = "4"})
end)

test.case("stock: default 100, per-item initial levels, a rejection takes nothing", function()
    local p = stock{["stock.initial.laptop"] = "2"}
    p:send{value = order(1, "c1", "laptop", 3, 3300), timestamp = 1}
    p:send{value = order(2, "c1", "laptop", 2, 2200), timestamp = 2}
    p:send{value = order(3, "c1", "monitor", 3, 960), timestamp = 3}
    test.same(events(p), {
        'laptop {"order_id":1,"sku":"laptop","qty":3,"left":2,"status":"rejected"}',
        'laptop {"order_id":2,"sku":"laptop","qty":2,"left":0,"status":"reserved"}',
        'monitor {"order_id":3,"sku":"monitor","qty":3,"left":97,"status":"reserved"}',
    })
end)

test.case("stock: sku when there is no item; stock.field; order_id as written", function()
    local p = stock()
    p:send{value = '{"order_id":"o-9","sku":"pen","qty":1}', timestamp = 1}
    p:send{value = '{"order_id":12345678901234567890,"item":"pen","qty":1}', timestamp = 2}
    test.same(events(p), {
        'pen {"order_id":"o-9","sku":"pen","qty":1,"left":99,"status":"reserved"}',
        'pen {"order_id":12345678901234567890,"sku":"pen","qty":1,"left":98,"status":"reserved"}',
    })
    local q = stock{["stock.field"] = "product"}
    q:send{value = '{"order_id":1,"product":"cup","item":"pen","qty":4}', timestamp = 1}
    test.same(events(q), {'cup {"order_id":1,"sku":"cup","qty":4,"left":96,"status":"reserved"}'})
end)

test.case("stock: malformed orders go to the DLQ with a reason, and take nothing", function()
    local p = stock()
    local function reason(value)
        local ok, err = p:send{value = value, timestamp = 1}
        test.eq(ok, false, value)
        return err
    end
    test.ok(reason("order 25: 1 x laptop for c2"):find("order value is not a JSON object", 1, true))
    test.ok(reason(nil):find("order value is null", 1, true))
    test.ok(reason('{"item":"pen","qty":1}'):find("order has no order_id", 1, true))
    test.ok(reason('{"order_id":null,"item":"pen","qty":1}'):find("order has no order_id", 1, true))
    test.ok(reason('{"order_id":1,"qty":1}'):find("field 'sku' (the item) is absent", 1, true))
    test.ok(reason('{"order_id":1,"item":{"a":1},"qty":1}'):find("is an object or an array", 1, true))
    test.ok(reason('{"order_id":1,"item":true,"qty":1}'):find("is a boolean", 1, true))
    test.ok(reason('{"order_id":1,"item":"pen","qty":0}'):find("qty must be a whole number above 0", 1, true))
    test.ok(reason('{"order_id":1,"item":"pen","qty":1.5}'):find("qty must be", 1, true))
    test.ok(reason('{"order_id":1,"item":"pen","qty":"2"}'):find("qty must be", 1, true))
    test.same(p.state, {})
    test.same(p:take(), {})
    local q = stock{["stock.initial"] = "lots"}
    local _, err = q:send{value = order(1, "c", "pen", 1, 1), timestamp = 1}
    test.ok(err:find("stock.initial must be a whole number >= 0, got lots", 1, true), err)
end)

test.case("stock: the shop's inventory levels, over a generated stream", function()
    local initial = {mouse = 400, keyboard = 300, headphones = 250, monitor = 150, laptop = 60} -- inventory-service.c
    local options = {}
    for item, n in pairs(initial) do options["stock.initial." .. item] = tostring(n) end
    local p = stock(options)
    local items = {"mouse", "keyboard", "headphones", "monitor", "laptop"}
    local want = {}
    for item, n in pairs(initial) do want[item] = n end
    local reserved, rejected = 0, 0
    for i = 1, 1000 do
        local item, qty = items[i * 7 % 5 + 1], i % 3 + 1
        p:send{key = item, value = order(i, "c" .. i % 50, item, qty, qty * 10), timestamp = i}
        if want[item] >= qty then
            want[item] = want[item] - qty
            reserved = reserved + 1
        else
            rejected = rejected + 1
        end
    end
    local got = {reserved = 0, rejected = 0}
    for _, e in ipairs(p:take()) do
        local v = cjson.decode(e.value)
        got[v.status] = got[v.status] + 1
    end
    test.eq(got.reserved, reserved)
    test.eq(got.rejected, rejected)
    test.ok(rejected > 0, "the stream runs some items out")
    for item, n in pairs(want) do test.eq(p.state["stock/" .. item], tostring(n), item) end
end)

-- ---- revenue per minute -------------------------------------------------------------------

local function revenue(options, task)
    return test.processor("processors/revenue_per_minute.lua", options or {}, {"orders"}, {"revenue"},
        {name = "revenue", task = task or 0})
end

local T0 = 1700000040000 -- a minute boundary

test.case("revenue: orders and revenue per event-time minute, exact to the cent", function()
    local p = revenue(nil, 2)
    p:send{value = order(1, "c1", "mouse", 1, 25.10), timestamp = T0 + 1000}
    p:send{value = order(2, "c2", "mouse", 2, 50.20), timestamp = T0 + 30000}
    p:send{value = order(3, "c3", "keyboard", 1, 0.29), timestamp = T0 + 59999}
    test.same(p:take(), {})
    p:send{value = order(4, "c4", "laptop", 1, 1100), timestamp = T0 + 60000}
    test.same(p:take(), {{topic = "revenue", key = tostring(T0), timestamp = T0 + 60000,
        value = ('{"window_start":%d,"window_end":%d,"orders":3,"revenue":75.59,"partition":2}'):format(T0, T0 + 60000)}})
    p:send{value = order(5, "c4", "laptop", 1, 1100), timestamp = T0 + 300000}
    local out = p:take()
    test.eq(#out, 1, "a minute with no orders emits nothing")
    test.eq(out[1].value, ('{"window_start":%d,"window_end":%d,"orders":1,"revenue":1100.00,"partition":2}')
        :format(T0 + 60000, T0 + 120000))
end)

test.case("revenue: 0.10 a thousand times is 100.00; refunds subtract", function()
    local p = revenue()
    for i = 1, 1000 do p:send{value = '{"amount":0.10}', timestamp = T0 + i} end
    p:send{value = '{"amount":-0.05}', timestamp = T0 + 2000}
    p:send{value = '{"amount":0}', timestamp = T0 + 60000}
    local v = p:take()[1].value
    test.ok(v:find('"orders":1001,"revenue":99.95,', 1, true), v)
    local q = revenue()
    q:send{value = '{"amount":-12.5}', timestamp = T0}
    q:send{value = '{"amount":0}', timestamp = T0 + 60000}
    local w = q:take()[1].value
    test.ok(w:find('"revenue":-12.50,', 1, true), w)
end)

test.case("revenue: grace and late orders; window.size.ms and amount.field options", function()
    local p = revenue{["window.grace.ms"] = "5000", ["amount.field"] = "total", ["window.size.ms"] = "30000"}
    p:send{value = '{"total":10}', timestamp = T0 + 29000}
    p:send{value = '{"total":1}', timestamp = T0 + 34000}
    p:send{value = '{"total":5}', timestamp = T0 + 29999} -- within grace: counts
    p:send{value = '{"total":1}', timestamp = T0 + 35000} -- closes [T0, T0+30000)
    p:send{value = '{"total":7}', timestamp = T0 + 100} -- late: dropped
    local out = p:take()
    test.eq(#out, 1)
    test.ok(out[1].value:find('"orders":2,"revenue":15.00,', 1, true), out[1].value)
    test.same(p.dlq, {})
end)

test.case("revenue: orders without a numeric amount go to the DLQ", function()
    local p = revenue()
    local ok, err = p:send{value = '{"order_id":75}', timestamp = T0}
    test.eq(ok, false)
    test.ok(err:find("field 'amount' is absent, not a number", 1, true), err)
    _, err = p:send{value = '{"amount":"12"}', timestamp = T0}
    test.ok(err:find("field 'amount' is 12, not a number", 1, true), err)
    _, err = p:send{value = "order 25", timestamp = T0}
    test.ok(err:find("not a JSON object", 1, true), err)
    test.same(p.state, {})
end)

test.case("the shop pipeline: router re-keys by item, stock reads that", function()
    local r = test.processor("processors/router.lua",
        {["route.field"] = "item", ["route.default"] = "orders-by-item", ["output.key.field"] = "item"},
        {"orders"}, {"orders-by-item"})
    local s = stock{["stock.initial"] = "3"}
    for i, item in ipairs({"mouse", "pen", "mouse", "mouse", "pen"}) do
        r:send{key = "c" .. i, value = order(i, "c" .. i, item, 1, 10), timestamp = i}
    end
    for _, e in ipairs(r:take()) do s:send{key = e.key, value = e.value, timestamp = 1} end
    local last = {}
    for _, e in ipairs(s:take()) do last[e.key] = cjson.decode(e.value).left end
    test.eq(last.mouse, 0.0)
    test.eq(last.pen, 1.0)
end)
