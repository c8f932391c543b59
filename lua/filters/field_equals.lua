-- filters/field_equals.lua: a view filter: keeps the records whose JSON value has the
-- top-level field view.filter.field equal to view.filter.value, drops every other record
-- (a value that is null, not JSON, or JSON but not an object included).
--
-- The field's value is compared as text:
--   a string   its decoded bytes ("\u00e9" equals "é");
--   a number   its JSON text exactly as written: 42 matches "42" but not "42.0", and
--              42.0 matches only "42.0" (no rounding through doubles, so large integer
--              ids compare exactly);
--   a boolean  "true" or "false".
-- A field that is absent, null, an object or an array never matches.
-- The call fails (an error) when view.filter.field or view.filter.value is not set;
-- view.filter.value may be the empty string, which matches "".
--
-- Topic configs read:
--   view.filter.field   the name of the top-level JSON field to test (required)
--   view.filter.value   the text it must equal (required)

local json = require("cjson.safe").new()
json.decode_invalid_numbers(false) -- NaN, Infinity, 0x10: not JSON

local byte, find, gsub, sub = string.byte, string.find, string.gsub, string.sub

-- The value decoded, when it is a JSON object; nil when null, not JSON, or other JSON.
local function decode_object(text)
    if type(text) ~= "string" or not find(text, "^%s*{") then return nil end
    local obj = json.decode(text)
    if type(obj) ~= "table" then return nil end
    return obj
end

-- Scanning the object's text (already accepted by cjson) for its top-level members runs
-- on a skeleton of it: the same length, escapes turned into "__" (so strings are
-- "[^"]*"), and, when some string holds a bracket, every string's content blanked.
-- Brackets in the skeleton are then structure only, so Lua's %b{} / %b[] skip a nested
-- value in one call.
local blank_mt = {__index = function(cache, str)
    local b = '"' .. string.rep("_", #str - 2) .. '"'
    cache[str] = b
    return b
end}

local function skeleton(s)
    local t = gsub(s, "\\.", "__")
    local _, brackets = gsub(t, "[{}%[%]]", "")
    local _, outside = gsub(gsub(t, '"[^"]*"', ""), "[{}%[%]]", "")
    if brackets ~= outside then
        t = gsub(t, '"[^"]*"', setmetatable({}, blank_mt))
    end
    return t
end

-- fn(key, first, last) for each member of the object text s, in document order: the key
-- decoded, s:sub(first, last) the value's JSON text.
local function each_member(s, fn)
    local u = skeleton(s)
    local i = find(u, "%S", find(u, "{", 1, true) + 1)
    while byte(u, i) == 34 do -- '"': a key
        local ke = find(u, '"', i + 1, true)
        local key = sub(s, i + 1, ke - 1)
        if find(key, "\\", 1, true) then key = json.decode(sub(s, i, ke)) end
        local first = find(u, "[^%s:]", ke + 1)
        local c, last = byte(u, first)
        if c == 34 then
            last = find(u, '"', first + 1, true)
        elseif c == 123 then
            last = select(2, find(u, "^%b{}", first))
        elseif c == 91 then
            last = select(2, find(u, "^%b[]", first))
        else -- a number, true, false or null
            last = select(2, find(u, "^[^,}%s]+", first))
        end
        fn(key, first, last)
        i = find(u, "[^%s,]", last + 1) -- the next key, or '}'
    end
end

-- The JSON text of the field's value as written (the last one, as cjson decodes
-- duplicates).
local function member_text(s, name)
    local text
    each_member(s, function(key, first, last)
        if key == name then text = sub(s, first, last) end
    end)
    return text
end

-- The text a top-level field stands for, or nil (absent, null, object or array).
local function field_text(s, obj, name)
    local v = obj[name]
    local t = type(v)
    if t == "string" then return v end
    if t == "number" then return member_text(s, name) end
    if t == "boolean" then return v and "true" or "false" end
    return nil
end

function filter(record, config)
    local field, want = config["view.filter.field"], config["view.filter.value"]
    if field == nil or field == "" then
        error("the topic config view.filter.field is not set: it names the JSON field to test")
    end
    if want == nil then
        error("the topic config view.filter.value is not set: it is the text view.filter.field must equal")
    end
    local value = record.value
    local obj = decode_object(value)
    if not obj then return false end
    return field_text(value, obj, field) == want
end
