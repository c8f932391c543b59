/* tests/fuzz/fuzz_batch.c: libFuzzer target for record batch parsing: validate a record
 * set as Produce does, then iterate every record (decompressing, capped at 1 MiB) and
 * its headers, as a fetch filter or processor will. */
#include <stddef.h>
#include <stdint.h>

#include "batch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    int count;
    (void)rn_batch_validate_set(data, size, &count);
    size_t pos = 0;
    while (pos < size) {
        rn_batch_header h;
        if (rn_batch_header_parse(data + pos, size - pos, &h)) break;
        size_t len = (size_t)h.batch_length + RN_BATCH_LOG_OVERHEAD;
        rn_batch_records *it;
        if (rn_batch_records_open(data + pos, size - pos, 1 << 20, &it) == 0) {
            rn_record r;
            while (rn_batch_records_next(it, &r) == 1) {
                size_t hp = 0;
                const uint8_t *n, *v;
                int32_t nl, vl;
                while (rn_record_header_next(&r, &hp, &n, &nl, &v, &vl) == 1) {}
            }
            rn_batch_records_close(it);
        }
        if (len > size - pos) break;
        pos += len;
    }
    return 0;
}
