-- processors/router.lua: a content router. It sends each record to the output topic(s)
-- chosen by one thing about it: a top-level field of its JSON value, a header, or its
-- key. Records go out unchanged (key, value, headers), unless output.key.field re-keys them.
--
--   route.field=country  route.NO=orders-nordic  route.SE=orders-nordic
--   route.US=orders-us,orders-audit  route.default=orders-other
--
-- Options:
--   route.field       route on this top-level field of the JSON value: a string by its
--                     decoded text, a number by its JSON text as written (42, not 42.0),
--                     a boolean as true/false. A value that is not a JSON object, or a
--                     field that is absent, null, an object or an array, has no match.
--   route.header      route on the value of this header (the last one of that name, as
--                     Kafka's lastHeader); absent or null: no match
--   route.key         "true": route on the record key (a null key: no match)
--                     Set exactly one of route.field, route.header, route.key.
--   route.<value>     the output topic(s) for records whose routing text is <value>,
--                     comma-separated to send a record to several. The values field,
--                     header, key, default and unmatched name the options themselves and
--                     are never routes (a record with such a value has no match).
--   route.default     the topic(s) for records with no match
--   route.unmatched   what happens to records with no match when route.default is not
--                     set: "error" (the default): the record goes to the processor's
--                     dead-letter topic with the error "no route for ..."; "drop": it is
--                     skipped. (An unrouted record is more often a missing route than
--                     noise, so by default it is kept where it can be seen and replayed.)
--   output.key.field  re-key the records sent: the key becomes the text of this top-level
--                     field of the value (as route.field reads it; absent or unusable: an
--                     error). With one route.default and no routes, the router
--                     re-partitions a topic by a field (e.g. orders by item, so that
--                     processors/stock.lua sees each item in one task).
--
-- Every topic named must be one of the processor's outputs: a route to another topic
-- is an error when a record takes it.

local jo = require("lib.json_object")
local decode_object, field_text, field_list = jo.decode_object, jo.field_text, jo.field_list

local RESERVED = {field = true, header = true, key = true, default = true, unmatched = true}

local function option(o, name)
    local v = o[name]
    if v == nil or v == "" then return nil end
    return v
end

local configs = setmetatable({}, {__mode = "k"})

local function config(ctx)
    local c = configs[ctx]
    if c then return c end
    local o = ctx.options
    c = {
        field = option(o, "route.field"),
        header = option(o, "route.header"),
        by_key = option(o, "route.key"),
        key_field = option(o, "output.key.field"),
        unmatched = option(o, "route.unmatched") or "error",
        routes = {}, -- route text -> list of topics (false: none), filled as values are seen
        cached = 0,
        outputs = {},
    }
    if c.by_key ~= nil and c.by_key ~= "true" and c.by_key ~= "false" then
        error("the option route.key must be true or false, got " .. c.by_key)
    end
    c.by_key = c.by_key == "true"
    local n = (c.field and 1 or 0) + (c.header and 1 or 0) + (c.by_key and 1 or 0)
    if n ~= 1 then
        error("set exactly one of the options route.field, route.header, route.key=true (" .. n .. " are set)")
    end
    if c.unmatched ~= "error" and c.unmatched ~= "drop" then
        error("the option route.unmatched must be error or drop, got " .. c.unmatched)
    end
    for _, t in ipairs(ctx.outputs) do c.outputs[t] = true end
    local default = option(o, "route.default")
    c.default = default and field_list(default)
    configs[ctx] = c
    return c
end

local CACHED_ROUTES = 1000 -- route lookups kept per task (routing by key can see many values)

local function targets(c, ctx, text)
    local list = c.routes[text]
    if list == nil then
        local spec = not RESERVED[text] and option(ctx.options, "route." .. text)
        list = spec and field_list(spec) or false
        if list and #list == 0 then list = false end
        if c.cached < CACHED_ROUTES then
            c.routes[text] = list
            c.cached = c.cached + 1
        end
    end
    return list or c.default
end

local function last_header(headers, name)
    local v, found = nil, false
    for _, h in ipairs(headers) do
        if h.name == name then v, found = h.value, true end
    end
    return v, found
end

function process(record, ctx)
    local c = config(ctx)
    local value = record.value
    local obj
    local text
    if c.field then
        obj = decode_object(value)
        if obj then text = field_text(value, obj, c.field) end
    elseif c.header then
        text = last_header(record.headers, c.header)
    else
        text = record.key
    end
    local list = text ~= nil and targets(c, ctx, text) or c.default
    if not list then
        if c.unmatched == "drop" then return end
        local what = c.field and "field '" .. c.field .. "'" or c.header and "header '" .. c.header .. "'" or "key"
        if text == nil then error(("no route: the record has no %s, and route.default is not set"):format(what)) end
        error(("no route for %s %q: set route.%s or route.default"):format(what, text, text))
    end
    local key = record.key
    if c.key_field then
        obj = obj or decode_object(value)
        if not obj then error("record value is not a JSON object: cannot read output.key.field '" .. c.key_field .. "'") end
        local why
        key, why = field_text(value, obj, c.key_field)
        if key == nil then error(("record value's field '%s' (output.key.field) is %s"):format(c.key_field, why)) end
    end
    for _, topic in ipairs(list) do
        if not c.outputs[topic] then
            error(("route to '%s', which is not an output of processor %s"):format(topic, ctx.name))
        end
        ctx:emit(topic, key, value, record.headers)
    end
end
