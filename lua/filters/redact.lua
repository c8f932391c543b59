-- filters/redact.lua: a produce filter that masks fields of JSON records: in a value that
-- is a JSON object, each top-level field named in produce.filter.fields is replaced by
-- the string "***", and a header ("redacted", "<the names, comma-separated>") is added.
-- The record's key, timestamp and other headers are kept.
--
-- The value is edited as text, not decoded and re-encoded: key order, spacing, number
-- formatting, escapes and every other field stay byte for byte as the producer wrote
-- them. (Re-encoding with the Debian lua-cjson 2.1.0 would reorder keys, turn [] into
-- {}, and print numbers with 14 significant digits, so 123456789012345678 would come
-- back as 1.2345678901235e+17.)
--
-- A field present more than once has every occurrence masked. A field whose value is
-- already "***" is left as it is and not named in the header, so redacting twice changes
-- nothing. Only top-level fields are masked: "a.b" names a field called "a.b".
-- Nothing to mask (no listed field present, the value null, not JSON, or JSON but not an
-- object): the record is kept unchanged (true).
-- The call fails (an error) when produce.filter.fields is not set or names no field.
--
-- Topic configs read:
--   produce.filter.fields   comma-separated field names; spaces around names are trimmed,
--                           empty items ignored ("password, card ,ssn")

local json = require("cjson.safe").new()
json.decode_invalid_numbers(false) -- NaN, Infinity, 0x10: not JSON

local MASK = '"***"'
local byte, find, gsub, sub = string.byte, string.find, string.gsub, string.sub
local gmatch, match = string.gmatch, string.match
local concat = table.concat

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

-- produce.filter.fields as a list and a set, parsed again only when the config changes.
local cached_spec, cached_list, cached_set
local function fields_of(spec)
    if spec ~= cached_spec then
        local list, set = {}, {}
        for item in gmatch(spec, "[^,]+") do
            local name = match(item, "^%s*(.-)%s*$")
            if name ~= "" and not set[name] then
                list[#list + 1] = name
                set[name] = true
            end
        end
        cached_spec, cached_list, cached_set = spec, list, set
    end
    return cached_list, cached_set
end

function filter(record, config)
    local spec = config["produce.filter.fields"]
    local list, set
    if spec then list, set = fields_of(spec) end
    if not list or #list == 0 then
        error("the topic config produce.filter.fields is not set: it lists the JSON fields to redact")
    end
    local value = record.value
    local obj = decode_object(value)
    if not obj then return true end
    local any = false
    for i = 1, #list do
        if obj[list[i]] ~= nil then
            any = true
            break
        end
    end
    if not any then return true end

    -- Splice the masks into the text.
    local parts, pos, done = {}, 1, {}
    each_member(value, function(key, first, last)
        if set[key] and sub(value, first, last) ~= MASK then
            parts[#parts + 1] = sub(value, pos, first - 1)
            parts[#parts + 1] = MASK
            pos = last + 1
            done[key] = true
        end
    end)
    parts[#parts + 1] = sub(value, pos)
    local names = {}
    for i = 1, #list do
        if done[list[i]] then names[#names + 1] = list[i] end
    end
    if #names == 0 then return true end -- every occurrence was already "***"

    local out = {}
    for k, v in pairs(record) do out[k] = v end
    out.value = concat(parts)
    local headers = {}
    for i, h in ipairs(record.headers or {}) do headers[i] = h end
    local redacted = concat(names, ",")
    headers[#headers + 1] = {"redacted", redacted, name = "redacted", value = redacted}
    out.headers = headers
    return out
end
