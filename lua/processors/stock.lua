-- processors/stock.lua: stock levels for the shop demo (examples/shop). It reads orders,
-- keeps the stock of each item in state and reserves each order's quantity when there
-- is enough. inventory-service does the same in C, with the stock in memory; here the
-- stock survives restarts, and each order is reserved exactly once.
--
-- Input: orders as the shop writes them,
--   {"order_id":17,"customer_id":"c7","item":"monitor","qty":2,"amount":640.00}
-- (the item is the "item" field, or "sku" when there is no "item"; stock.field names
-- another field). Output, to output.topic, keyed by the item, one record per order:
--   {"order_id":17,"sku":"monitor","qty":2,"left":58,"status":"reserved"}
-- status is "reserved" (left = the stock after taking qty) or "rejected" (not enough:
-- nothing is taken, left = the stock there is). order_id is copied as written.
--
-- Options:
--   stock.initial          the stock of an item before its first order (default 100)
--   stock.initial.<item>   the initial stock of one item, e.g. stock.initial.laptop=25
--   stock.field            the order field that names the item (default: item, else sku)
--   output.topic           where results go (default: the first output)
--
-- Errors (the order goes to the dead-letter topic): a value that is not a JSON object,
-- no order_id (or null), no item, an item that is not a string or number, a qty that
-- is not a whole number above 0.
--
-- Partitioning: state is per task, and a task is one input partition. So every order
-- of one item must be in one partition, or the item gets a separate stock in each
-- partition. The shop's orders topic is placed by customer_id. Re-partition it by
-- item first (processors/router.lua with route.default=orders-by-item and
-- output.key.field=item), or give the input one partition.

local jo = require("lib.json_object")
local json = require("runnel.json")
local decode_object, field_text, member_text = jo.decode_object, jo.field_text, jo.member_text
local tointeger = math.tointeger

local ORDER = {"order_id", "sku", "qty", "left", "status"}

local function option(o, name)
    local v = o[name]
    if v == nil or v == "" then return nil end
    return v
end

local function level_option(o, name, default)
    local v = option(o, name)
    if v == nil then return default end
    local n = tointeger(tonumber(v))
    if n == nil or n < 0 then error(("the option %s must be a whole number >= 0, got %s"):format(name, v)) end
    return n
end

local configs = setmetatable({}, {__mode = "k"})

local function config(ctx)
    local c = configs[ctx]
    if c then return c end
    local o = ctx.options
    local out = option(o, "output.topic") or ctx.outputs[1]
    local ok = false
    for _, t in ipairs(ctx.outputs) do ok = ok or t == out end
    if not ok then
        error(("the option output.topic names '%s', which is not an output of processor %s"):format(tostring(out), ctx.name))
    end
    c = {initial = level_option(o, "stock.initial", 100), field = option(o, "stock.field"), output = out}
    configs[ctx] = c
    return c
end

function process(record, ctx)
    local c = config(ctx)
    local value = record.value
    local order = decode_object(value)
    if not order then error("order value is " .. (value == nil and "null" or "not a JSON object")) end
    if order.order_id == nil or order.order_id == jo.null then error("order has no order_id") end
    local field = c.field or (order.item ~= nil and "item" or "sku")
    local sku, why = field_text(value, order, field)
    if sku == nil or type(order[field]) == "boolean" then
        error(("order's field '%s' (the item) is %s"):format(field, why or "a boolean"))
    end
    local qty = type(order.qty) == "number" and tointeger(order.qty) or nil
    if qty == nil or qty < 1 then error("order's qty must be a whole number above 0, got " .. tostring(order.qty)) end

    local skey = "stock/" .. sku
    local left = tointeger(tonumber(ctx.state:get(skey)))
    if left == nil then left = level_option(ctx.options, "stock.initial." .. sku, c.initial) end
    local status = "rejected"
    if qty <= left then
        left = left - qty
        status = "reserved"
        ctx.state:put(skey, tostring(left))
    end
    ctx:emit(c.output, sku, json.object({
        order_id = json.raw(member_text(value, "order_id")),
        sku = sku,
        qty = qty,
        left = left,
        status = status,
    }, ORDER))
end
