-- filters/require_json_fields.lua: a produce filter that accepts only records whose value
-- is a JSON object holding every field named in produce.filter.fields. Other records are
-- rejected with a reason the producer sees:
--   "value is not a JSON object" (also for a null value, an array, a bare string...)
--   "value is missing required field 'b'"  /  "... missing required fields 'a', 'c'"
-- A field counts as present when its key is there, whatever its value (null included).
-- Only top-level fields are checked: "a.b" names a field called "a.b".
-- The call fails (an error, the record is not written) when produce.filter.fields is not
-- set or names no field.
--
-- Topic configs read:
--   produce.filter.fields   comma-separated field names; spaces around names are trimmed,
--                           empty items ignored ("id, user ,ts")

local jo = require("lib.json_object")
local decode_object, field_list = jo.decode_object, jo.field_list
local concat = table.concat

-- produce.filter.fields as a list, parsed again only when the config changes.
local cached_spec, cached_fields
local function fields_of(spec)
    if spec ~= cached_spec then cached_spec, cached_fields = spec, field_list(spec) end
    return cached_fields
end

function filter(record, config)
    local spec = config["produce.filter.fields"]
    local fields = spec and fields_of(spec)
    if not fields or #fields == 0 then
        error("the topic config produce.filter.fields is not set: it lists the JSON fields every record must have")
    end
    local obj = decode_object(record.value)
    if not obj then
        return nil, "value is not a JSON object"
    end
    local missing
    for i = 1, #fields do
        local name = fields[i]
        if obj[name] == nil then
            missing = missing or {}
            missing[#missing + 1] = "'" .. name .. "'"
        end
    end
    if missing then
        return nil, ("value is missing required field%s %s"):format(#missing > 1 and "s" or "", concat(missing, ", "))
    end
    return true
end
