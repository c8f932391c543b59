-- tests/lua/test_murmur2.lua: runnel.murmur2 against Kafka's own vectors, and
-- partitioners/murmur2.lua placing keys where the Java producer does.

-- Signed 32-bit view of an unsigned constant (librdkafka writes them as hex).
local function signed(u)
    return u >= 0x80000000 and u - 0x100000000 or u
end

test.case("runnel.murmur2 equals Java Utils.murmur2 (Kafka UtilsTest.testMurmur2)", function()
    -- apache/kafka clients/src/test/java/org/apache/kafka/common/utils/UtilsTest.java
    local java = {
        ["21"] = -973932308,
        ["foobar"] = -790332482,
        ["a-little-bit-long-string"] = -985981536,
        ["a-little-bit-longer-string"] = -1486304829,
        ["lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8"] = -58897971,
        ["abc"] = 479470107,
    }
    for key, want in pairs(java) do
        test.eq(runnel.murmur2(key), want, "murmur2(" .. key .. ")")
    end
end)

test.case("runnel.murmur2 equals librdkafka's Java-checked vectors (rdmurmur2.c unittest)", function()
    -- confluentinc/librdkafka src/rdmurmur2.c unittest_murmur2: java_murmur2_results
    local short = "1234"
    local long = "PreAmbleWillBeRemoved,ThePrePartThatIs"
    local cases = {
        {"kafka", 0xd067cf64},
        {"giberish123456789", 0x8f552b0c},
        {short, 0x9fc97b14},
        {short:sub(2), 0xe7c009ca},
        {short:sub(3), 0x873930da},
        {short:sub(4), 0x5a4b5ca1},
        {long, 0x78424f1c},
        {long:sub(2), 0x4a62b377},
        {long:sub(3), 0xe0e4e09e},
        {long:sub(4), 0x62b8b43f},
        {"", 0x106e08d9},
    }
    for _, c in ipairs(cases) do
        test.eq(runnel.murmur2(c[1]), signed(c[2]), "murmur2(" .. test.show(c[1]) .. ")")
    end
end)

test.case("runnel.murmur2 hashes bytes: NUL and UTF-8 included", function()
    test.eq(runnel.murmur2("a\0b"), -19837367)
    test.eq(runnel.murmur2("\xc3\xa9"), 186971271) -- "é"
    test.ok(runnel.murmur2("a\0b") ~= runnel.murmur2("a"))
end)

test.case("runnel.crc32 equals librdkafka's consistent partitioner vectors (0048-partitioner.c)", function()
    test.eq(runnel.crc32("23456"), 0xb1b451d7)
    test.eq(runnel.crc32("this is another string with more length to it perhaps"), 0xb0150df7)
    test.eq(runnel.crc32("hejsan"), 0xd077037e)
    test.eq(runnel.crc32(""), 0)
end)

local m = test.load("partitioners/murmur2.lua")

test.case("placement equals librdkafka's murmur2 partitioner (0048-partitioner.c, from Java Murmur2Cli)", function()
    -- toPositive(murmur2(key)) for each key, as the test lists them
    local cases = {
        {"", 0x106e08d9},
        {"23456", 0x058d780f},
        {"this is another string with more length to it perhaps", 0x4f7703da},
        {"hejsan", 0x5ec19395},
    }
    for _, n in ipairs({7, 17}) do -- the test's part_cnt (quick and full)
        for _, c in ipairs(cases) do
            test.eq(m.partition(test.record{key = c[1]}, n, {}), c[2] % n,
                test.show(c[1]) .. " over " .. n .. " partitions")
        end
    end
end)

test.case("placement of the Java vectors: toPositive(murmur2) % n", function()
    -- expected indices computed by hand from the Java hashes above
    local cases = {
        -- key, toPositive(murmur2(key)), {n=3, 7, 12, 17, 100}
        {"21", 1173551340, {0, 3, 0, 13, 40}},
        {"foobar", 1357151166, {0, 0, 6, 9, 66}},
        {"a-little-bit-long-string", 1161502112, {2, 1, 8, 11, 12}},
        {"a-little-bit-longer-string", 661178819, {2, 0, 11, 12, 19}},
        {"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", 2088585677, {2, 3, 5, 0, 77}},
        {"abc", 479470107, {0, 4, 3, 16, 7}},
    }
    local counts = {3, 7, 12, 17, 100}
    for _, c in ipairs(cases) do
        test.eq(runnel.murmur2(c[1]) & 0x7fffffff, c[2], "toPositive(murmur2(" .. c[1] .. "))")
        for i, n in ipairs(counts) do
            test.eq(m.partition(test.record{key = c[1]}, n, {}), c[3][i], c[1] .. " over " .. n)
            test.eq(m.partition(test.record{key = c[1]}, n, {}), (runnel.murmur2(c[1]) & 0x7fffffff) % n)
        end
        test.eq(m.partition(test.record{key = c[1]}, 1, {}), 0)
    end
end)

test.case("every index is in range and the spread is even", function()
    local n, hits = 12, {}
    for i = 1, 1200 do
        local p = m.partition(test.record{key = "key-" .. i}, n, {})
        test.ok(math.type(p) == "integer" and p >= 0 and p < n, "index " .. tostring(p))
        hits[p] = (hits[p] or 0) + 1
    end
    for p = 0, n - 1 do
        test.ok((hits[p] or 0) > 60, "partition " .. p .. " got " .. tostring(hits[p]) .. " of 1200")
    end
end)

test.case("the empty key is a key: it hashes, it does not fall back", function()
    test.eq(m.partition(test.record{key = "", partition = 1}, 7, {}), 0x106e08d9 % 7)
end)

test.case("a null key keeps the producer's partition, else 0", function()
    test.eq(m.partition(test.record{partition = 5}, 7, {}), 5)
    test.eq(m.partition(test.record{partition = 0}, 7, {}), 0)
    test.eq(m.partition(test.record{partition = 6}, 7, {}), 6)
    test.eq(m.partition(test.record{partition = 7}, 7, {}), 0, "out of range")
    test.eq(m.partition(test.record{partition = -1}, 7, {}), 0, "negative")
    test.eq(m.partition(test.record{}, 7, {}), 0, "unknown")
end)

test.case("a partition count below 1 is an error, not a division by zero", function()
    test.err(m.partition, "partition_count", test.record{key = "k"}, 0, {})
end)

test.case("a key is placed the same way every call and in every fresh environment", function()
    local other = test.load("partitioners/murmur2.lua")
    for _, k in ipairs({"a", "b", "user-42", string.rep("x", 1000)}) do
        test.eq(other.partition(test.record{key = k}, 50, {}), m.partition(test.record{key = k}, 50, {}))
    end
end)
