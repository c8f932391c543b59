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

local jo = require("lib.json_object")
local decode_object, each_member, field_list = jo.decode_object, jo.each_member, jo.field_list

local MASK = '"***"'
local sub, concat = string.sub, table.concat

-- produce.filter.fields as a list and a set, parsed again only when the config changes.
local cached_spec, cached_list, cached_set
local function fields_of(spec)
    if spec ~= cached_spec then cached_spec, cached_list, cached_set = spec, field_list(spec) end
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
