-- runnel/json.lua: JSON objects written with their members in a fixed order, so a
-- processor's output is the same bytes on every run. (cjson.encode of a table follows
-- the table's hash order, which Lua seeds per state: a restarted broker could write the
-- same result with its members in another order.)
--
--   local json = require("runnel.json")
--   json.object({key = "k", count = 3, sum = 1.5}, {"key", "count", "sum"})
--     --> {"key":"k","count":3,"sum":1.5}
--
-- Members are written in the order of the list; a name whose value is nil is left out.
-- Values: strings (escaped by cjson), booleans, json.null, json.raw(text) (JSON text
-- written as is, e.g. a number with its exact digits or a value taken from a record),
-- numbers and tables (by cjson; a nested table's members are in cjson's order).
-- Numbers: integers, and floats with an integral value below 2^53, are written as
-- integers ("3", not "3.0"); other floats with 14 significant digits, as cjson does
-- (0.1 + 0.2 is written 0.3). NaN and infinities are errors: JSON has no such numbers.

local cjson = require("cjson")

local format, concat, mtype = string.format, table.concat, math.type
local encode = cjson.encode

local raw_mt = {}

-- text, written as is: the caller vouches that it is one JSON value.
local function raw(text)
    if type(text) ~= "string" then error("json.raw: expected a string, got " .. type(text), 2) end
    return setmetatable({text = text}, raw_mt)
end

local function number(v)
    if mtype(v) == "integer" then return format("%d", v) end
    if v ~= v or v == math.huge or v == -math.huge then
        error("json: " .. tostring(v) .. " is not a JSON number", 3)
    end
    if v == math.floor(v) and v > -2 ^ 53 and v < 2 ^ 53 then return format("%d", math.tointeger(v)) end
    return format("%.14g", v)
end

local function value(v)
    local t = type(v)
    if t == "number" then return number(v) end
    if t == "table" and getmetatable(v) == raw_mt then return v.text end
    return encode(v)
end

-- The object with the members of t named in order, in that order.
local function object(t, order)
    local parts = {}
    for _, name in ipairs(order) do
        local v = t[name]
        if v ~= nil then parts[#parts + 1] = encode(name) .. ":" .. value(v) end
    end
    return "{" .. concat(parts, ",") .. "}"
end

return {
    object = object,
    value = value,
    raw = raw,
    null = cjson.null,
}
