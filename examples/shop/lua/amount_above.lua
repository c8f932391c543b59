-- shop/amount_above.lua: a view filter for the shop demo: keeps the records whose JSON
-- value has a numeric top-level field "amount" greater than view.filter.value, drops every
-- other record (not JSON, no amount, amount not a number, amount at or below the value).
-- (filters/field_equals.lua can only test equality.)
--
-- It needs the repo's lua/ folder in plugins.dir (for lib.json_object): run.sh starts the
-- broker with plugins.dir set to a temp copy of lua/ with this folder as shop/.
--
-- Topic configs read:
--   view.filter.value   the threshold, a number (required)
--   view.filter.field   the field to compare (optional, default "amount")

local jo = require("lib.json_object")
local decode_object = jo.decode_object

function filter(record, config)
    local limit = tonumber(config["view.filter.value"])
    if limit == nil then
        error("the topic config view.filter.value is not set to a number: it is the amount to exceed")
    end
    local field = config["view.filter.field"]
    if field == nil or field == "" then field = "amount" end
    local obj = decode_object(record.value)
    if not obj then return false end
    local amount = obj[field]
    if type(amount) ~= "number" then return false end
    return amount > limit
end
