-- lib/json_object.lua: what the shipped scripts know about JSON objects, in one place:
-- decoding a value that must be an object, walking its top-level members in the text as
-- written (so numbers keep their exact text and an edit leaves everything else byte for
-- byte), the text a field stands for, and the comma-separated field lists of topic
-- configs. Scripts get it with require "lib.json_object".

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

-- A comma-separated config value as a list (in order, duplicates dropped) and a set;
-- spaces around names are trimmed and empty items ignored.
local gmatch, match = string.gmatch, string.match
local function field_list(spec)
    local list, set = {}, {}
    for item in gmatch(spec, "[^,]+") do
        local name = match(item, "^%s*(.-)%s*$")
        if name ~= "" and not set[name] then
            list[#list + 1] = name
            set[name] = true
        end
    end
    return list, set
end

return {
    json = json,
    null = json.null,
    decode_object = decode_object,
    each_member = each_member,
    member_text = member_text,
    field_text = field_text,
    field_list = field_list,
}
