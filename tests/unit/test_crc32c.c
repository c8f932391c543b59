/* tests/unit/test_crc32c.c: CRC-32C vectors; hardware and table paths agree. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "crc32c.h"

Test(crc32c, known_vectors) {
    cr_assert_eq(rn_crc32c(0, "123456789", 9), 0xE3069283u);
    cr_assert_eq(rn_crc32c_sw(0, "123456789", 9), 0xE3069283u);
    cr_assert_eq(rn_crc32c(0, "", 0), 0u);
    uint8_t zeros[32] = {0};
    cr_assert_eq(rn_crc32c(0, zeros, 32), 0x8A9136AAu); /* RFC 3720 B.4 */
    uint8_t ones[32];
    memset(ones, 0xff, sizeof ones);
    cr_assert_eq(rn_crc32c(0, ones, 32), 0x62A8AB43u);
}

Test(crc32c, incremental_equals_whole) {
    const char *s = "The quick brown fox jumps over the lazy dog";
    size_t n = strlen(s);
    for (size_t cut = 0; cut <= n; cut++)
        cr_assert_eq(rn_crc32c(rn_crc32c(0, s, cut), s + cut, n - cut), rn_crc32c(0, s, n));
}

Test(crc32c, hardware_and_table_agree_on_every_length_and_alignment) {
    uint8_t *buf = malloc(4096 + 16);
    srand(7);
    for (size_t i = 0; i < 4096 + 16; i++) buf[i] = (uint8_t)rand();
    for (size_t off = 0; off < 16; off++)
        for (size_t len = 0; len < 600; len += 1 + len / 17)
            cr_assert_eq(rn_crc32c(0, buf + off, len), rn_crc32c_sw(0, buf + off, len),
                         "off %zu len %zu", off, len);
    cr_assert_eq(rn_crc32c(0, buf, 4096), rn_crc32c_sw(0, buf, 4096));
    free(buf);
}
