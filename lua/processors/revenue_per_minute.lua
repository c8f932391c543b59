-- processors/revenue_per_minute.lua: the shop's revenue per minute (examples/shop), in
-- event time: a tumbling window of 60 s over the orders' timestamps (runnel/window.lua)
-- that counts the orders and sums their "amount".
--
-- When a minute closes (stream time >= its end + grace), it emits to output.topic one
-- record keyed by the window start (decimal text):
--   {"window_start":1700000040000,"window_end":1700000100000,"orders":12,"revenue":3310.50,"partition":2}
-- window_end is exclusive. revenue is exact to the cent: each amount is rounded to cents
-- and the cents are summed as integers, then written with two decimals. partition is
-- the input partition of the task that counted it (see below). A minute with no orders
-- emits nothing. The record's timestamp is the minute's close time (end + grace).
--
-- Options:
--   window.size.ms   the window length (default 60000)
--   window.grace.ms  how late, in ms of stream time, an order may still count for its
--                    minute (default 0)
--   amount.field     the order field to sum (default amount); it must be a number
--   output.topic     where results go (default: the first output)
--
-- Orders later than their minute's end + grace are dropped (not counted). Errors (the
-- order goes to the dead-letter topic): a value that is not a JSON object, an amount
-- that is absent or not a number.
--
-- Tasks: each input partition is a task with its own windows, so with the shop's 6
-- partitions of orders a minute's revenue comes as 6 records (one per partition with
-- orders in that minute), all with the same key (the window start), hence in the same
-- output partition. The minute's total is their sum. For one record per minute, give
-- the input one partition.

local window = require("runnel.window")
local json = require("runnel.json")
local jo = require("lib.json_object")

local decode_object = jo.decode_object
local format, match, floor, tointeger = string.format, string.match, math.floor, math.tointeger

local ORDER = {"window_start", "window_end", "orders", "revenue", "partition"}

local configs = setmetatable({}, {__mode = "k"})

local function config(ctx)
    local c = configs[ctx]
    if c then return c end
    local o = ctx.options
    local out = o["output.topic"]
    if out == nil or out == "" then out = ctx.outputs[1] end
    local ok = false
    for _, t in ipairs(ctx.outputs) do ok = ok or t == out end
    if not ok then
        error(("the option output.topic names '%s', which is not an output of processor %s"):format(tostring(out), ctx.name))
    end
    local field = o["amount.field"]
    c = {
        window = window.from_options(o, {name = "revenue", size_ms = 60000, grace_ms = 0}),
        field = (field == nil or field == "") and "amount" or field,
        output = out,
    }
    configs[ctx] = c
    return c
end

local function cents(amount)
    if amount < 0 then return -floor(-amount * 100 + 0.5) end
    return floor(amount * 100 + 0.5)
end

local function money(c)
    local sign = c < 0 and "-" or ""
    if c < 0 then c = -c end
    return format("%s%d.%02d", sign, c // 100, c % 100)
end

-- The aggregate in state: "<orders> <cents>".
local function parse(agg)
    if agg == nil then return 0, 0 end
    local n, c = match(agg, "^(%d+) (%-?%d+)$")
    return tointeger(tonumber(n)), tointeger(tonumber(c))
end

function process(record, ctx)
    local c = config(ctx)
    local order = decode_object(record.value)
    if not order then error("order value is " .. (record.value == nil and "null" or "not a JSON object")) end
    local amount = order[c.field]
    if type(amount) ~= "number" or amount ~= amount or amount == math.huge or amount == -math.huge then
        error(("order's field '%s' is %s, not a number"):format(c.field,
            amount == nil and "absent" or amount == jo.null and "null" or tostring(amount)))
    end
    local add = tointeger(cents(amount))
    c.window:add(ctx, record.timestamp, "", function(agg)
        local n, sum = parse(agg)
        return format("%d %d", n + 1, sum + add)
    end)
end

function on_timer(timer, ctx)
    local c = config(ctx)
    c.window:on_timer(ctx, timer, function(_, agg, win)
        local n, sum = parse(agg)
        ctx:emit(c.output, tostring(win.start), json.object({
            window_start = win.start,
            window_end = win.stop,
            orders = n,
            revenue = json.raw(money(sum)),
            partition = ctx.task,
        }, ORDER))
    end)
end
