-- partitioners/json_field.lua: place records by one field of their JSON value, the way
-- partitioners/murmur2.lua places them by key:
--   (runnel.murmur2(text) & 0x7fffffff) % partition_count
-- where text is the field's value as text:
--   a string   its decoded bytes ("\u00e9" and "é" are the same text), so a record whose
--              field is "abc" lands where a Java producer sending key "abc" would put it;
--   a number   its JSON text exactly as written in the record: 42 -> "42", -7 -> "-7",
--              12345678901234567890 -> "12345678901234567890" (no rounding through
--              doubles). Floats are not normalised: 42.0 hashes "42.0", 4.2e1 hashes
--              "4.2e1" and 1.50 hashes "1.50", so each may land on a different partition
--              than 42 or 1.5. Write a field's numbers the same way (any one JSON
--              serializer does), or partition by a string or integer field;
--   a boolean  "true" or "false".
-- The string "42" and the number 42 land on the same partition.
--
-- The call fails (the record is refused with the message) when partitioner.field is not
-- set, the value is not a JSON object, or the field is absent, null, an object or an
-- array. Only top-level fields are looked up: "a.b" names a field called "a.b".
--
-- Topic configs read:
--   partitioner.field   the name of the top-level JSON field to partition by (required)

local json = require("cjson.safe").new()
json.decode_invalid_numbers(false) -- NaN, Infinity, 0x10: not JSON

local murmur2 = runnel.murmur2
local byte, find, gsub, sub = string.byte, string.find, string.gsub, string.sub
local mtype = math.type

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

-- The text a top-level field stands for, or nil and what the field is instead.
local function field_text(s, obj, name)
    local v = obj[name]
    local t = type(v)
    if t == "string" then return v end
    if t == "number" then return member_text(s, name) end
    if t == "boolean" then return v and "true" or "false" end
    if v == nil then return nil, "absent" end
    if v == json.null then return nil, "null" end
    return nil, "an object or an array"
end

function partition(record, partition_count, config)
    if mtype(partition_count) ~= "integer" or partition_count < 1 then
        error("partition_count must be a positive integer, got " .. tostring(partition_count))
    end
    local field = config["partitioner.field"]
    if field == nil or field == "" then
        error("the topic config partitioner.field is not set: it names the JSON field to partition by")
    end
    local value = record.value
    local obj = decode_object(value)
    if not obj then
        error(("record value is %s: cannot read field '%s' (partitioner.field)")
            :format(value == nil and "null, not a JSON object" or "not a JSON object", field))
    end
    local text, what = field_text(value, obj, field)
    if not text then
        if what == "absent" then
            error(("record value has no field '%s' (partitioner.field)"):format(field))
        end
        error(("record value's field '%s' (partitioner.field) is %s: it must be a string, number or boolean")
            :format(field, what))
    end
    return (murmur2(text) & 0x7fffffff) % partition_count
end
