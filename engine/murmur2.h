/* engine/murmur2.h: Kafka's default key hash (Utils.murmur2), the one place it lives: the
 * `runnel` Lua module and the processors' output placement both use it. */
#ifndef RN_MURMUR2_H
#define RN_MURMUR2_H

#include <stddef.h>
#include <stdint.h>

/* Kafka's Utils.murmur2 (seed 0x9747b28c), as a signed 32-bit integer like Java's int. */
int32_t rn_murmur2(const uint8_t *data, size_t len);

/* Where the Java producer puts a keyed record: toPositive(murmur2(key)) % count. */
static inline int32_t rn_murmur2_partition(const uint8_t *key, size_t len, int32_t count) {
    return (int32_t)(((uint32_t)rn_murmur2(key, len) & 0x7fffffffu) % (uint32_t)count);
}

#endif
