-- processors/windowed_aggregate.lua: a windowed count (and sum) per key, for real-time
-- analytics such as clicks per page per minute or revenue per customer per hour. Windows
-- are in event time (record timestamps), tumbling or hopping, aligned to the epoch, with
-- a grace period for records that arrive out of order (see runnel/window.lua).
--
-- When a window closes (stream time >= window end + grace), the processor emits one
-- record per key seen in that window, keyed by the group key, to output.topic:
--   {"key":"<group key>","window_start":<ms>,"window_end":<ms>,"count":<n>,"sum":<x>}
-- window_end is exclusive: the window holds window_start <= timestamp < window_end.
-- "sum" is there only when value.field is set. It is the sum of that field, written as
-- an integer when it is whole, else with 14 significant digits. Keys are emitted in byte
-- order, windows in time order. Each result is emitted once, when its window closes,
-- never before (there are no early or updated results). A result's timestamp is the
-- window's close time (window_end + grace), the time of its timer.
--
-- Options:
--   window.size.ms     window length in ms (required)
--   window.advance.ms  hopping windows: a new window starts every advance ms (at most
--                      window.size.ms, at most 1000 windows per record); absent: tumbling
--   window.grace.ms    how long after a window's end its records are still taken, in ms
--                      of stream time (default 0)
--   key.field          group by this top-level JSON field of the value (its text: a
--                      string decoded, a number as written); absent: by the record key
--   value.field        sum this top-level JSON field of the value, which must be a number;
--                      absent: count only
--   output.topic       where results go (default: the first output)
--   late.topic         optional, an output: records too late for every one of their
--                      windows are forwarded there unchanged (key, value, headers);
--                      absent: they are dropped. A hopping record late for only some of
--                      its windows is counted in the others and not forwarded.
--
-- A record is an error (it goes to the processor's dead-letter topic with the reason)
-- when it can't be grouped or summed: a null key (grouping by key), a value that is not
-- a JSON object (when a field is needed), a key.field that is absent, null, an object or
-- an array, a value.field that is not a number, a negative timestamp.
--
-- Tasks: one per input partition, each with its own windows. Records of one key must
-- be in one partition (the usual keyed topic) for one result per key and window. With
-- several inputs, the runtime takes their batches in timestamp order (the input whose
-- next batch starts earliest), so stream time moves with all of them; records within a
-- batch can still be out of order, which the grace covers.

local window = require("runnel.window")
local json = require("runnel.json")
local jo = require("lib.json_object")

local decode_object, field_text = jo.decode_object, jo.field_text
local format, match, tointeger = string.format, string.match, math.tointeger

local ORDER = {"key", "window_start", "window_end", "count", "sum"}

local function option(o, name)
    local v = o[name]
    if v == nil or v == "" then return nil end
    return v
end

local function output(ctx, name, what)
    for _, t in ipairs(ctx.outputs) do
        if t == name then return t end
    end
    error(("the option %s names '%s', which is not an output of processor %s"):format(what, name, ctx.name))
end

local configs = setmetatable({}, {__mode = "k"}) -- per ctx: the options, read once

local function config(ctx)
    local c = configs[ctx]
    if c then return c end
    local o = ctx.options
    local out = option(o, "output.topic")
    if out then
        out = output(ctx, out, "output.topic")
    else
        out = ctx.outputs[1]
        if out == nil then error("processor " .. ctx.name .. " has no output topic") end
    end
    local late = option(o, "late.topic")
    c = {
        window = window.from_options(o, {name = "agg"}),
        key_field = option(o, "key.field"),
        value_field = option(o, "value.field"),
        output = out,
        late = late and output(ctx, late, "late.topic"),
    }
    configs[ctx] = c
    return c
end

-- The aggregate in state: "<count>", or "<count> <sum> <compensation>" (%.17g, exact).
-- The sum is compensated (Neumaier): the result is the sum of the values rounded once,
-- so 0.1 added 1000 times is 100, not 99.999999999999.
local function parse(agg)
    if agg == nil then return 0, 0.0, 0.0 end
    local n, s, c = match(agg, "^(%d+) ?(%S*) ?(%S*)$")
    return tointeger(tonumber(n)), tonumber(s) or 0.0, tonumber(c) or 0.0
end

local function add_value(agg, x)
    local n, s, c = parse(agg)
    local t = s + x
    if math.abs(s) >= math.abs(x) then c = c + ((s - t) + x) else c = c + ((x - t) + s) end
    return format("%d %.17g %.17g", n + 1, t, c)
end

function process(record, ctx)
    local c = config(ctx)
    local value = record.value
    local obj
    if c.key_field or c.value_field then
        obj = decode_object(value)
        if not obj then
            error(("record value is %s: cannot read %s"):format(value == nil and "null" or "not a JSON object",
                c.key_field and "key.field '" .. c.key_field .. "'" or "value.field '" .. c.value_field .. "'"))
        end
    end
    local key = record.key
    if c.key_field then
        local what
        key, what = field_text(value, obj, c.key_field)
        if key == nil then
            error(("record value's field '%s' (key.field) is %s"):format(c.key_field, what))
        end
    elseif key == nil then
        error("record has a null key: it cannot be grouped (set key.field to group by a field of the value)")
    end
    local fold
    if c.value_field then
        local x = obj[c.value_field]
        if type(x) ~= "number" then
            error(("record value's field '%s' (value.field) is %s, not a number"):format(c.value_field,
                x == nil and "absent" or x == jo.null and "null" or type(x)))
        end
        fold = function(agg) return add_value(agg, x) end
    else
        fold = function(agg)
            return format("%d", (tointeger(tonumber(agg)) or 0) + 1)
        end
    end
    local updated, late = c.window:add(ctx, record.timestamp, key, fold)
    if updated == 0 and late > 0 and c.late then
        ctx:emit(c.late, record.key, value, record.headers)
    end
end

function on_timer(timer, ctx)
    local c = config(ctx)
    c.window:on_timer(ctx, timer, function(key, agg, win)
        local n, s, comp = parse(agg)
        ctx:emit(c.output, key, json.object({
            key = key,
            window_start = win.start,
            window_end = win.stop,
            count = n,
            sum = c.value_field and s + comp or nil,
        }, ORDER))
    end)
end
