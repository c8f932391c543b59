/* net/scram.c: SCRAM key derivation and the server side of an exchange (scram.h).
 * Invariant: an exchange reaches DONE only after the client proved it knows the key
 * whose hash is the stored StoredKey, over this exchange's own nonces; an unknown user
 * runs the same exchange against a made-up salt and fails only at the proof, so the
 * answers do not reveal which users exist. */
#include "scram.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { ST_CLIENT_FIRST, ST_CLIENT_FINAL, ST_DONE, ST_FAILED };

struct rn_scram_server {
    int8_t mechanism;
    int state;
    rn_scram_lookup lookup;
    void *ctx;
    bool known;                 /* false: a made-up credential, the proof cannot match */
    rn_scram_credential cred;
    char user[RN_USER_NAME_MAX + 1];
    char *gs2_header;           /* "n,," or "n,a=...,", as the client sent it */
    size_t gs2_len;
    char *client_first_bare, *server_first, *nonce;
    size_t client_first_bare_len, server_first_len, nonce_len;
};

/* ---- the mechanisms and the math ----------------------------------------------------- */

int8_t rn_scram_mechanism_parse(const char *name, size_t len) {
    if (len == 13 && memcmp(name, "SCRAM-SHA-256", 13) == 0) return RN_SCRAM_SHA_256;
    if (len == 13 && memcmp(name, "SCRAM-SHA-512", 13) == 0) return RN_SCRAM_SHA_512;
    return 0;
}

const char *rn_scram_mechanism_name(int8_t mechanism) {
    return mechanism == RN_SCRAM_SHA_256   ? "SCRAM-SHA-256"
           : mechanism == RN_SCRAM_SHA_512 ? "SCRAM-SHA-512"
                                           : "UNKNOWN";
}

size_t rn_scram_key_len(int8_t mechanism) {
    return mechanism == RN_SCRAM_SHA_256 ? 32 : mechanism == RN_SCRAM_SHA_512 ? 64 : 0;
}

static const EVP_MD *md_of(int8_t mechanism) {
    return mechanism == RN_SCRAM_SHA_256 ? EVP_sha256() : EVP_sha512();
}

static int hmac(int8_t mechanism, const uint8_t *key, size_t klen, const void *data, size_t n,
                uint8_t *out) {
    unsigned int ol = 0;
    return HMAC(md_of(mechanism), key, (int)klen, data, n, out, &ol) ? 0 : -1;
}

static int digest(int8_t mechanism, const uint8_t *data, size_t n, uint8_t *out) {
    unsigned int ol = 0;
    return EVP_Digest(data, n, out, &ol, md_of(mechanism), NULL) == 1 ? 0 : -1;
}

int rn_scram_credential_from_salted(int8_t mechanism, const uint8_t *salted, size_t salted_len,
                                    const uint8_t *salt, size_t salt_len, int32_t iterations,
                                    rn_scram_credential *out) {
    size_t kl = rn_scram_key_len(mechanism);
    if (!kl || salted_len != kl || salt_len > RN_SCRAM_SALT_MAX) return -1;
    memset(out, 0, sizeof *out);
    out->mechanism = mechanism;
    out->iterations = iterations;
    out->salt_len = (uint8_t)salt_len;
    out->key_len = (uint8_t)kl;
    if (salt_len) memcpy(out->salt, salt, salt_len);
    uint8_t client_key[RN_SCRAM_KEY_MAX];
    int rc = hmac(mechanism, salted, kl, "Client Key", 10, client_key) ||
             digest(mechanism, client_key, kl, out->stored_key) ||
             hmac(mechanism, salted, kl, "Server Key", 10, out->server_key);
    OPENSSL_cleanse(client_key, sizeof client_key);
    return rc ? -1 : 0;
}

int rn_scram_credential_from_password(int8_t mechanism, const char *password, size_t len,
                                      const uint8_t *salt, size_t salt_len, int32_t iterations,
                                      rn_scram_credential *out) {
    size_t kl = rn_scram_key_len(mechanism);
    if (!kl || iterations < 1 || len > 1 << 20) return -1;
    uint8_t salted[RN_SCRAM_KEY_MAX];
    if (PKCS5_PBKDF2_HMAC(password, (int)len, salt, (int)salt_len, iterations, md_of(mechanism),
                          (int)kl, salted) != 1)
        return -1;
    int rc = rn_scram_credential_from_salted(mechanism, salted, kl, salt, salt_len, iterations, out);
    OPENSSL_cleanse(salted, sizeof salted);
    return rc;
}

int rn_scram_credential_new(int8_t mechanism, const char *password, size_t len,
                            int32_t iterations, rn_scram_credential *out) {
    uint8_t salt[32];
    if (RAND_bytes(salt, sizeof salt) != 1) return -1;
    return rn_scram_credential_from_password(mechanism, password, len, salt, sizeof salt,
                                             iterations, out);
}

bool rn_scram_password_matches(const rn_scram_credential *cred, const char *password, size_t len) {
    rn_scram_credential derived;
    if (rn_scram_credential_from_password(cred->mechanism, password, len, cred->salt,
                                          cred->salt_len, cred->iterations, &derived) != 0)
        return false;
    bool ok = derived.key_len == cred->key_len &&
              CRYPTO_memcmp(derived.stored_key, cred->stored_key, cred->key_len) == 0;
    OPENSSL_cleanse(&derived, sizeof derived);
    return ok;
}

/* ---- base64 -------------------------------------------------------------------------- */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t rn_base64_encode(const uint8_t *in, size_t n, char *out) {
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < n) v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < n) v |= in[i + 2];
        out[o++] = b64[(v >> 18) & 63];
        out[o++] = b64[(v >> 12) & 63];
        out[o++] = i + 1 < n ? b64[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? b64[v & 63] : '=';
    }
    out[o] = 0;
    return o;
}

static int b64_value(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

int rn_base64_decode(const char *in, size_t n, uint8_t *out, size_t cap) {
    if (n % 4) return -1;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 4) {
        bool last = i + 4 == n;
        int pad = last ? (in[i + 3] == '=') + (in[i + 2] == '=' && in[i + 3] == '=') : 0;
        uint32_t v = 0;
        for (int j = 0; j < 4; j++) {
            int d = j >= 4 - pad ? 0 : b64_value(in[i + j]);
            if (d < 0) return -1;
            v = (v << 6) | (uint32_t)d;
        }
        size_t bytes = 3 - (size_t)pad;
        if (o + bytes > cap) return -1;
        for (size_t j = 0; j < bytes; j++) out[o++] = (uint8_t)(v >> (16 - 8 * j));
    }
    return (int)o;
}

/* ---- the exchange -------------------------------------------------------------------- */

rn_scram_server *rn_scram_server_new(int8_t mechanism, rn_scram_lookup lookup, void *ctx) {
    if (!rn_scram_key_len(mechanism)) return NULL;
    rn_scram_server *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->mechanism = mechanism;
    s->lookup = lookup;
    s->ctx = ctx;
    return s;
}

void rn_scram_server_free(rn_scram_server *s) {
    if (!s) return;
    free(s->gs2_header);
    free(s->client_first_bare);
    free(s->server_first);
    free(s->nonce);
    OPENSSL_cleanse(&s->cred, sizeof s->cred);
    free(s);
}

const char *rn_scram_server_user(const rn_scram_server *s) { return s->user; }

static enum rn_scram_step fail(rn_scram_server *s, char *msg, size_t msglen, const char *why) {
    s->state = ST_FAILED;
    snprintf(msg, msglen, "%s", why);
    return RN_SCRAM_FAILED;
}

static char *dup_n(const uint8_t *p, size_t n) {
    char *d = malloc(n + 1);
    if (!d) return NULL;
    memcpy(d, p, n);
    d[n] = 0;
    return d;
}

/* The bytes up to the next ',' (or the end) from *p; advances past them. */
static size_t field(const uint8_t **p, const uint8_t *end) {
    const uint8_t *s = *p;
    while (*p < end && **p != ',') (*p)++;
    return (size_t)(*p - s);
}

/* saslname: "=2C" is ',' and "=3D" is '='; any other '=' or a NUL is malformed. */
static int saslname_decode(const uint8_t *in, size_t n, char *out, size_t cap) {
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = in[i];
        if (c == '=') {
            if (i + 2 >= n) return -1;
            if (in[i + 1] == '2' && in[i + 2] == 'C') c = ',';
            else if (in[i + 1] == '3' && in[i + 2] == 'D') c = '=';
            else return -1;
            i += 2;
        }
        if (c == 0 || o + 1 >= cap) return -1;
        out[o++] = (char)c;
    }
    out[o] = 0;
    return (int)o;
}

/* A made-up but stable salt for a user that does not exist, so that asking twice gives
 * the same answer as for a real user. */
static uint8_t fake_secret[32];
static pthread_once_t fake_once = PTHREAD_ONCE_INIT;
static void fake_init(void) {
    if (RAND_bytes(fake_secret, sizeof fake_secret) != 1) memset(fake_secret, 0x5a, sizeof fake_secret);
}

static int fake_credential(rn_scram_server *s) {
    pthread_once(&fake_once, fake_init);
    rn_scram_credential *c = &s->cred;
    memset(c, 0, sizeof *c);
    c->mechanism = s->mechanism;
    c->iterations = RN_SCRAM_MIN_ITERATIONS;
    c->salt_len = 32;
    c->key_len = (uint8_t)rn_scram_key_len(s->mechanism);
    if (hmac(RN_SCRAM_SHA_256, fake_secret, sizeof fake_secret, s->user, strlen(s->user), c->salt))
        return -1;
    return RAND_bytes(c->stored_key, c->key_len) == 1 ? 0 : -1;
}

static enum rn_scram_step client_first(rn_scram_server *s, const uint8_t *in, size_t len,
                                       uint8_t **out, size_t *outlen, char *msg, size_t msglen) {
    const uint8_t *p = in, *end = in + len;
    /* gs2-header: the channel-binding flag, then an optional authzid. */
    if (p == end || (*p != 'n' && *p != 'y')) {
        if (p < end && *p == 'p')
            return fail(s, msg, msglen, "SCRAM: channel binding is not supported");
        return fail(s, msg, msglen, "SCRAM: invalid client-first message (gs2 header)");
    }
    p++;
    if (p == end || *p++ != ',') return fail(s, msg, msglen, "SCRAM: invalid client-first message");
    char authzid[RN_USER_NAME_MAX + 1] = "";
    if (end - p >= 2 && p[0] == 'a' && p[1] == '=') {
        p += 2;
        const uint8_t *a = p;
        size_t n = field(&p, end);
        if (saslname_decode(a, n, authzid, sizeof authzid) < 0)
            return fail(s, msg, msglen, "SCRAM: invalid authorization id");
    }
    if (p == end || *p++ != ',') return fail(s, msg, msglen, "SCRAM: invalid client-first message");
    size_t gs2_len = (size_t)(p - in);
    const uint8_t *bare = p;
    /* client-first-message-bare: n=user,r=nonce[,extensions] */
    if (end - p < 2 || p[0] != 'n' || p[1] != '=')
        return fail(s, msg, msglen, "SCRAM: invalid client-first message (no user name)");
    p += 2;
    const uint8_t *u = p;
    size_t ul = field(&p, end);
    if (ul == 0 || saslname_decode(u, ul, s->user, sizeof s->user) < 0)
        return fail(s, msg, msglen, "SCRAM: invalid user name");
    if (end - p < 3 || p[0] != ',' || p[1] != 'r' || p[2] != '=')
        return fail(s, msg, msglen, "SCRAM: invalid client-first message (no nonce)");
    p += 3;
    const uint8_t *cn = p;
    size_t cnl = field(&p, end);
    if (cnl == 0) return fail(s, msg, msglen, "SCRAM: empty client nonce");
    for (size_t i = 0; i < cnl; i++)
        if (cn[i] < 0x21 || cn[i] > 0x7e) return fail(s, msg, msglen, "SCRAM: invalid client nonce");
    while (p < end) { /* ,key=value extensions (Kafka's tokenauth) */
        p++;
        const uint8_t *e = p;
        size_t el = field(&p, end);
        if (el == 14 && memcmp(e, "tokenauth=true", 14) == 0)
            return fail(s, msg, msglen, "SCRAM: delegation tokens are not supported");
    }
    if (authzid[0] && strcmp(authzid, s->user) != 0)
        return fail(s, msg, msglen,
                    "Authentication failed: Client requested an authorization id that is "
                    "different from username");
    int found = s->lookup ? s->lookup(s->ctx, s->user, s->mechanism, &s->cred) : 1;
    if (found < 0) return fail(s, msg, msglen, "Authentication failed: credentials unavailable");
    s->known = found == 0 && s->cred.key_len == rn_scram_key_len(s->mechanism);
    if (!s->known && fake_credential(s) != 0)
        return fail(s, msg, msglen, "Authentication failed: internal error");

    uint8_t rnd[18];
    char snonce[32], salt64[4 * ((RN_SCRAM_SALT_MAX + 2) / 3) + 1];
    if (RAND_bytes(rnd, sizeof rnd) != 1) return fail(s, msg, msglen, "Authentication failed: internal error");
    rn_base64_encode(rnd, sizeof rnd, snonce);
    rn_base64_encode(s->cred.salt, s->cred.salt_len, salt64);
    s->gs2_header = dup_n(in, gs2_len);
    s->gs2_len = gs2_len;
    s->client_first_bare_len = (size_t)(end - bare);
    s->client_first_bare = dup_n(bare, s->client_first_bare_len);
    s->nonce_len = cnl + strlen(snonce);
    s->nonce = malloc(s->nonce_len + 1);
    size_t sfl = 2 + s->nonce_len + 3 + strlen(salt64) + 3 + 12;
    s->server_first = malloc(sfl + 1);
    if (!s->gs2_header || !s->client_first_bare || !s->nonce || !s->server_first)
        return fail(s, msg, msglen, "Authentication failed: out of memory");
    memcpy(s->nonce, cn, cnl);
    memcpy(s->nonce + cnl, snonce, strlen(snonce) + 1);
    int n = snprintf(s->server_first, sfl + 1, "r=%s,s=%s,i=%d", s->nonce, salt64,
                     (int)s->cred.iterations);
    s->server_first_len = (size_t)n;
    *out = (uint8_t *)dup_n((const uint8_t *)s->server_first, s->server_first_len);
    if (!*out) return fail(s, msg, msglen, "Authentication failed: out of memory");
    *outlen = s->server_first_len;
    s->state = ST_CLIENT_FINAL;
    return RN_SCRAM_CONTINUE;
}

static enum rn_scram_step client_final(rn_scram_server *s, const uint8_t *in, size_t len,
                                       uint8_t **out, size_t *outlen, char *msg, size_t msglen) {
    /* The proof is the last attribute; everything before ",p=" is signed. */
    size_t cut = len;
    for (size_t i = len; i >= 3; i--)
        if (in[i - 3] == ',' && in[i - 2] == 'p' && in[i - 1] == '=') {
            cut = i - 3;
            break;
        }
    if (cut == len) return fail(s, msg, msglen, "SCRAM: invalid client-final message (no proof)");
    const uint8_t *p = in, *end = in + cut;
    if (end - p < 2 || p[0] != 'c' || p[1] != '=')
        return fail(s, msg, msglen, "SCRAM: invalid client-final message (no channel binding)");
    p += 2;
    const uint8_t *cb = p;
    size_t cbl = field(&p, end);
    uint8_t cbind[RN_USER_NAME_MAX * 3 + 16];
    int cbn = rn_base64_decode((const char *)cb, cbl, cbind, sizeof cbind);
    if (cbn < 0 || (size_t)cbn != s->gs2_len || memcmp(cbind, s->gs2_header, s->gs2_len) != 0)
        return fail(s, msg, msglen, "SCRAM: channel binding does not match the gs2 header");
    if (end - p < 3 || p[0] != ',' || p[1] != 'r' || p[2] != '=')
        return fail(s, msg, msglen, "SCRAM: invalid client-final message (no nonce)");
    p += 3;
    const uint8_t *nn = p;
    size_t nnl = field(&p, end);
    /* Kafka checks that the nonce ENDS with the server-first one: librdkafka before 2.2
     * sends its client nonce twice (cnonce + cnonce snonce), and must keep working. */
    if (nnl < s->nonce_len || memcmp(nn + nnl - s->nonce_len, s->nonce, s->nonce_len) != 0)
        return fail(s, msg, msglen, "SCRAM: the nonce does not match");
    size_t kl = s->cred.key_len;
    uint8_t proof[RN_SCRAM_KEY_MAX + 3];
    int pl = rn_base64_decode((const char *)in + cut + 3, len - cut - 3, proof, sizeof proof);
    if (pl < 0 || (size_t)pl != kl) return fail(s, msg, msglen, "SCRAM: invalid client proof");

    /* AuthMessage = client-first-bare "," server-first "," client-final-without-proof */
    size_t aml = s->client_first_bare_len + 1 + s->server_first_len + 1 + cut;
    uint8_t *am = malloc(aml);
    if (!am) return fail(s, msg, msglen, "Authentication failed: out of memory");
    size_t o = 0;
    memcpy(am + o, s->client_first_bare, s->client_first_bare_len);
    o += s->client_first_bare_len;
    am[o++] = ',';
    memcpy(am + o, s->server_first, s->server_first_len);
    o += s->server_first_len;
    am[o++] = ',';
    memcpy(am + o, in, cut);
    uint8_t sig[RN_SCRAM_KEY_MAX], client_key[RN_SCRAM_KEY_MAX], stored[RN_SCRAM_KEY_MAX];
    int rc = hmac(s->mechanism, s->cred.stored_key, kl, am, aml, sig);
    for (size_t i = 0; i < kl; i++) client_key[i] = proof[i] ^ sig[i];
    rc = rc || digest(s->mechanism, client_key, kl, stored);
    bool ok = !rc && s->known && CRYPTO_memcmp(stored, s->cred.stored_key, kl) == 0;
    rc = rc || hmac(s->mechanism, s->cred.server_key, kl, am, aml, sig);
    free(am);
    OPENSSL_cleanse(client_key, sizeof client_key);
    if (!ok) {
        char why[160];
        snprintf(why, sizeof why,
                 "Authentication failed during authentication due to invalid credentials with "
                 "SASL mechanism %s",
                 rn_scram_mechanism_name(s->mechanism));
        return fail(s, msg, msglen, why);
    }
    char v[4 * ((RN_SCRAM_KEY_MAX + 2) / 3) + 3];
    memcpy(v, "v=", 2);
    size_t vl = 2 + rn_base64_encode(sig, kl, v + 2);
    *out = (uint8_t *)dup_n((const uint8_t *)v, vl);
    if (!*out) return fail(s, msg, msglen, "Authentication failed: out of memory");
    *outlen = vl;
    s->state = ST_DONE;
    return RN_SCRAM_DONE;
}

enum rn_scram_step rn_scram_server_step(rn_scram_server *s, const uint8_t *in, size_t len,
                                        uint8_t **out, size_t *outlen, char *msg, size_t msglen) {
    *out = NULL;
    *outlen = 0;
    switch (s->state) {
    case ST_CLIENT_FIRST: return client_first(s, in, len, out, outlen, msg, msglen);
    case ST_CLIENT_FINAL: return client_final(s, in, len, out, outlen, msg, msglen);
    default: return fail(s, msg, msglen, "SCRAM: the exchange is already over");
    }
}
