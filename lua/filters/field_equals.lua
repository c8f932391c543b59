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

local jo = require("lib.json_object")
local decode_object, field_text = jo.decode_object, jo.field_text

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
