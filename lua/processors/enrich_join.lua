-- processors/enrich_join.lua: enriches a stream with a table, joined by key. One input is
-- the table (join.table): the processor keeps the latest value per key of that topic in
-- state, and a record with a null value deletes its key. Every record of the other
-- input(s), the streams, is emitted to output.topic with the table's value for its key
-- added to its JSON value as the member enrich.as. Example, with customers as the table:
--   customers  key "c7": {"name":"Ann","tier":"gold"}
--   orders     key "c7": {"order_id":1,"amount":30}
--   output     key "c7": {"order_id":1,"amount":30,"customer":{"name":"Ann","tier":"gold"}}
--
-- Output records keep the stream record's key and headers. The value is the stream
-- record's text with one member added at the end (or, when the object already has a
-- member of that name, that member's value replaced). The rest stays byte for byte. The
-- table's value goes in as JSON when it is JSON (an object, a string, a number...), else
-- as a JSON string of its bytes. With no table value for the key, the member is null,
-- or, with join.require=true, the stream record is dropped. Table records emit nothing.
--
-- Options:
--   join.table     the input topic that is the table (required, one of the inputs)
--   join.field     join on this top-level field of the stream record's JSON value (its
--                  text: a string decoded, a number as written) instead of the stream
--                  record's key; a stream record without it has no match
--   enrich.as      the name of the added member (default "enriched")
--   join.require   "true": drop stream records with no match; "false" (default): emit
--                  them with the member null
--   output.topic   where joined records go (default: the first output)
--
-- Co-partitioning is required: a task reads partition i of every input, and the table
-- in its state holds only partition i of the table topic. So the inputs must have the
-- same number of partitions, and a join key must land on the same partition number in
-- the table topic and in each stream. Keyed by the same key with the default
-- partitioner, they do. With join.field, place the stream by that field with
-- partitioners/json_field.lua (partitioner.field = the field): a string field lands
-- where a table record keyed by that string lands.
--
-- Order: a stream record sees the table as of the table records of its partition that the
-- task has read before it. The runtime takes the inputs' batches in timestamp order (the
-- input whose next batch starts earliest), so a stream record sees the table as of its
-- own time, whichever topic was written first. A stream record older than its key's
-- table record is emitted without a match (or dropped with join.require=true).
--
-- Errors (the record goes to the dead-letter topic): a table record with a null key, a
-- stream record whose value is not a JSON object.

local jo = require("lib.json_object")
local cjson = require("cjson")

local decode_object, field_text, each_member = jo.decode_object, jo.field_text, jo.each_member
local json = jo.json
local byte, sub, match, find = string.byte, string.sub, string.match, string.find

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
    local tbl = option(o, "join.table")
    if not tbl then error("the option join.table is not set: it names the input that is the table") end
    local found, streams = false, 0
    for _, t in ipairs(ctx.inputs) do
        if t == tbl then found = true else streams = streams + 1 end
    end
    if not found then
        error(("the option join.table names '%s', which is not an input of processor %s"):format(tbl, ctx.name))
    end
    if streams == 0 then error("processor " .. ctx.name .. " has no stream input besides the table " .. tbl) end
    local out = option(o, "output.topic") or ctx.outputs[1]
    local ok = false
    for _, t in ipairs(ctx.outputs) do ok = ok or t == out end
    if not ok then
        error(("the option output.topic names '%s', which is not an output of processor %s"):format(tostring(out), ctx.name))
    end
    local req = option(o, "join.require") or "false"
    if req ~= "true" and req ~= "false" then
        error("the option join.require must be true or false, got " .. req)
    end
    c = {
        table = tbl,
        field = option(o, "join.field"),
        as = option(o, "enrich.as") or "enriched",
        require = req == "true",
        output = out,
    }
    c.as_json = cjson.encode(c.as)
    configs[ctx] = c
    return c
end

-- Table values in state: "j" .. text when the text is JSON, else "s" .. bytes.
local function table_entry(value)
    local v = json.decode(value)
    if v ~= nil then return "j" .. match(value, "^%s*(.-)%s*$") end
    return "s" .. value
end

local function entry_json(entry)
    if entry == nil then return "null" end
    if byte(entry) == 106 then return sub(entry, 2) end -- 'j'
    return cjson.encode(sub(entry, 2))
end

-- The object text s with member name (JSON-encoded as name_json) set to the JSON text v.
local function set_member(s, obj, name, name_json, v)
    if obj[name] ~= nil then
        local first, last
        each_member(s, function(key, f, l)
            if key == name then first, last = f, l end -- the last copy is what decoders keep
        end)
        return sub(s, 1, first - 1) .. v .. sub(s, last + 1)
    end
    local close = find(s, "}%s*$")
    local sep = next(obj) == nil and "" or ","
    return sub(s, 1, close - 1) .. sep .. name_json .. ":" .. v .. sub(s, close)
end

function process(record, ctx)
    local c = config(ctx)
    if record.topic == c.table then
        if record.key == nil then error("table record has a null key: nothing to join it by") end
        local skey = "t/" .. record.key
        if record.value == nil then
            ctx.state:delete(skey)
        else
            ctx.state:put(skey, table_entry(record.value))
        end
        return
    end
    local value = record.value
    local obj = decode_object(value)
    if not obj then
        error(("stream record value is %s: cannot add '%s' to it")
            :format(value == nil and "null" or "not a JSON object", c.as))
    end
    local key = record.key
    if c.field then key = field_text(value, obj, c.field) end
    local entry = key ~= nil and ctx.state:get("t/" .. key) or nil
    if entry == nil and c.require then return end
    ctx:emit(c.output, record.key, set_member(value, obj, c.as, c.as_json, entry_json(entry)), record.headers)
end
