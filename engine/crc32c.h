/* engine/crc32c.h: CRC-32C (Castagnoli), as Kafka's RecordBatch v2 uses it.
 * SSE4.2 instruction when the CPU has it (checked once at run time), table fallback. */
#ifndef RN_CRC32C_H
#define RN_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Continue a CRC over len bytes; start with crc = 0. rn_crc32c(0, "123456789", 9) == 0xE3069283. */
uint32_t rn_crc32c(uint32_t crc, const void *buf, size_t len);

/* Same, always with the portable table code (for tests comparing both paths). */
uint32_t rn_crc32c_sw(uint32_t crc, const void *buf, size_t len);

#endif
