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

local jo = require("lib.json_object")
local decode_object, field_text = jo.decode_object, jo.field_text
local murmur2 = runnel.murmur2
local mtype = math.type

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
