/* tests/fuzz/fuzz_sasl.c: libFuzzer target for the SASL messages a client controls:
 * PLAIN tokens, SCRAM client-first and client-final messages (RFC 5802 parsing, saslname
 * escapes, base64 of the channel binding and proof), the base64 decoder and the
 * sasl.enabled.mechanisms list.
 *
 *   input = mechanism byte | token 1 [ '\n' token 2 [ '\n' token 3 ... ] ]
 *
 * The lookup knows user "user" (password "pencil", one PBKDF2 iteration, so PLAIN is
 * cheap to check), fails for "err", and knows nobody else. */
#include <stdlib.h>
#include <string.h>

#include "sasl.h"

static rn_scram_credential creds[3];
static int creds_ready;

static int lookup(void *ctx, const char *user, int8_t mechanism, rn_scram_credential *out) {
    (void)ctx;
    if (!strcmp(user, "err")) return -1;
    if (strcmp(user, "user") != 0 || mechanism < 1 || mechanism > 2) return 1;
    *out = creds[mechanism];
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!creds_ready) {
        static const uint8_t salt[] = "fuzz-salt";
        for (int8_t m = 1; m <= 2; m++)
            if (rn_scram_credential_from_password(m, "pencil", 6, salt, sizeof salt - 1, 1, &creds[m]))
                abort();
        creds_ready = 1;
    }
    if (size == 0) return 0;
    static const unsigned mechs[] = {RN_SASL_PLAIN, RN_SASL_SCRAM_SHA_256, RN_SASL_SCRAM_SHA_512};
    rn_sasl *s = rn_sasl_new(mechs[data[0] % 3], lookup, NULL);
    if (!s) return 0;
    const uint8_t *p = data + 1, *end = data + size;
    for (int step = 0; step < 4; step++) {
        const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = (size_t)((nl ? nl : end) - p);
        uint8_t *token = malloc(len ? len : 1); /* exact size: ASan sees any over-read */
        if (!token) break;
        memcpy(token, p, len);
        uint8_t *out = NULL;
        size_t outlen = 0;
        char msg[256];
        enum rn_sasl_step st = rn_sasl_step(s, token, len, &out, &outlen, msg, sizeof msg);
        free(token);
        free(out);
        if (st != RN_SASL_CONTINUE || !nl) break;
        p = nl + 1;
    }
    (void)rn_sasl_user(s);
    rn_sasl_free(s);

    uint8_t buf[256];
    char *copy = malloc(size);
    if (copy) {
        memcpy(copy, data + 1, size - 1);
        (void)rn_base64_decode(copy, size - 1, buf, sizeof buf);
        copy[size - 1] = 0;
        unsigned bits;
        char err[256];
        (void)rn_sasl_mechanisms_parse(copy, &bits, err, sizeof err);
        free(copy);
    }
    return 0;
}
