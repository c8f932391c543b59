/* net/scram.h: SCRAM-SHA-256 and SCRAM-SHA-512 (RFC 5802, RFC 7677): the key derivation
 * (salted, iterated PBKDF2 over OpenSSL's libcrypto) and the server side of one
 * exchange. The server holds only salt, iterations, StoredKey and ServerKey
 * (rn_scram_credential, engine/users.h); a password exists here only long enough to
 * derive them (bootstrap users, PLAIN).
 *
 *   client-first   n,[a=authzid],n=user,r=cnonce[,ext]
 *   server-first   r=cnonce+snonce,s=base64(salt),i=iterations
 *   client-final   c=base64(gs2 header),r=cnonce+snonce[,ext],p=base64(ClientProof)
 *   server-final   v=base64(ServerSignature)
 *
 * Messages are parsed from bytes that need not be NUL-terminated or valid UTF-8; every
 * malformed message fails the exchange with a sentence, never crashes. */
#ifndef RN_SCRAM_H
#define RN_SCRAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "users.h"

#define RN_SCRAM_MIN_ITERATIONS 4096  /* Kafka's bounds for stored credentials */
#define RN_SCRAM_MAX_ITERATIONS 16384

/* "SCRAM-SHA-256" -> RN_SCRAM_SHA_256 ...; 0 for anything else. */
int8_t rn_scram_mechanism_parse(const char *name, size_t len);
const char *rn_scram_mechanism_name(int8_t mechanism);
/* The hash length of a mechanism (32, 64), 0 if unknown. */
size_t rn_scram_key_len(int8_t mechanism);

/* StoredKey and ServerKey from SaltedPassword (what AlterUserScramCredentials sends).
 * -1 when the mechanism is unknown, a length is out of range, or libcrypto fails. */
int rn_scram_credential_from_salted(int8_t mechanism, const uint8_t *salted, size_t salted_len,
                                    const uint8_t *salt, size_t salt_len, int32_t iterations,
                                    rn_scram_credential *out);
/* The same from a password: SaltedPassword = PBKDF2(password, salt, iterations). */
int rn_scram_credential_from_password(int8_t mechanism, const char *password, size_t len,
                                      const uint8_t *salt, size_t salt_len, int32_t iterations,
                                      rn_scram_credential *out);
/* A fresh random salt and the credential of password: 0 or -1. */
int rn_scram_credential_new(int8_t mechanism, const char *password, size_t len,
                            int32_t iterations, rn_scram_credential *out);
/* Whether password derives cred's StoredKey (constant-time compare). */
bool rn_scram_password_matches(const rn_scram_credential *cred, const char *password, size_t len);

/* Where the server finds a user's credential: 0 found, 1 no such user, -1 error. */
typedef int (*rn_scram_lookup)(void *ctx, const char *user, int8_t mechanism,
                               rn_scram_credential *out);

typedef struct rn_scram_server rn_scram_server;
enum rn_scram_step { RN_SCRAM_CONTINUE, RN_SCRAM_DONE, RN_SCRAM_FAILED };

/* A server exchange for mechanism; NULL when out of memory. Free with
 * rn_scram_server_free. */
rn_scram_server *rn_scram_server_new(int8_t mechanism, rn_scram_lookup lookup, void *ctx);
void rn_scram_server_free(rn_scram_server *s);
/* Take the client's next message; *out (malloc'd, caller frees; may be NULL when
 * failed) is the server's answer. FAILED leaves a sentence for the client in msg. */
enum rn_scram_step rn_scram_server_step(rn_scram_server *s, const uint8_t *in, size_t len,
                                        uint8_t **out, size_t *outlen, char *msg, size_t msglen);
/* The authenticated user name once DONE (NUL-terminated, owned by s). */
const char *rn_scram_server_user(const rn_scram_server *s);

/* Base64 (RFC 4648, padded) helpers, exported for the tests and the fuzzer. encode
 * writes 4*ceil(n/3) chars and a NUL; decode returns the byte count or -1 on anything
 * that is not strict padded base64 or does not fit in cap. */
size_t rn_base64_encode(const uint8_t *in, size_t n, char *out);
int rn_base64_decode(const char *in, size_t n, uint8_t *out, size_t cap);

#endif
