-- partitioners/murmur2.lua: place keyed records exactly where Kafka's Java producer
-- (and librdkafka's "murmur2"/"murmur2_random" partitioners) would:
--   Utils.toPositive(Utils.murmur2(keyBytes)) % partition_count
-- runnel.murmur2 is the Java murmur2 (seed 0x9747b28c) returning a signed 32-bit int, and
-- toPositive is `& 0x7fffffff` (not math.abs: abs(-2^31) would stay negative in Java).
--
-- A record with a null key keeps the partition its producer chose (record.partition) when
-- that is a valid index, and goes to partition 0 otherwise. The Java client spreads null
-- keys with its sticky partitioner, which a broker cannot reproduce; keeping the
-- producer's choice is the closest thing.
--
-- Topic configs read: none.

local murmur2 = runnel.murmur2
local mtype = math.type

function partition(record, partition_count, config)
    if mtype(partition_count) ~= "integer" or partition_count < 1 then
        error("murmur2: partition_count must be a positive integer, got " .. tostring(partition_count))
    end
    local key = record.key
    if key ~= nil then
        return (murmur2(key) & 0x7fffffff) % partition_count
    end
    local p = record.partition
    if mtype(p) == "integer" and p >= 0 and p < partition_count then
        return p
    end
    return 0
end
