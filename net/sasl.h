/* net/sasl.h: the SASL mechanisms a listener offers (PLAIN, SCRAM-SHA-256,
 * SCRAM-SHA-512) and one connection's exchange, whatever carries its tokens
 * (SaslAuthenticate requests, or raw frames after a v0 SaslHandshake). PLAIN is checked
 * against the stored SCRAM credential: the broker keeps no passwords for it either. */
#ifndef RN_SASL_H
#define RN_SASL_H

#include <stddef.h>
#include <stdint.h>

#include "scram.h"

/* Mechanism bits, for sasl.enabled.mechanisms. */
#define RN_SASL_PLAIN 1u
#define RN_SASL_SCRAM_SHA_256 2u
#define RN_SASL_SCRAM_SHA_512 4u

/* The bit of a mechanism name (exact, case-sensitive as Kafka's), 0 if unknown. */
unsigned rn_sasl_mechanism_parse(const char *name, size_t len);
const char *rn_sasl_mechanism_name(unsigned mechanism);
/* "SCRAM-SHA-256,PLAIN" into bits: -1 and a sentence for an unknown or empty list. */
int rn_sasl_mechanisms_parse(const char *list, unsigned *out, char *err, size_t errlen);
/* The names of the bits in mask, in a fixed order, into names[] (at most max); count. */
int rn_sasl_mechanism_names(unsigned mask, const char **names, int max);

/* sasl.users=user:password,...: give each user SCRAM-SHA-256 and SCRAM-SHA-512
 * credentials (4096 iterations, fresh salt) unless the stored ones already match the
 * password, so the file stays the truth for the users it names and restarts do not
 * re-salt. Passwords may not contain ','. -1 and a sentence on a malformed list or a
 * storage error. */
int rn_sasl_bootstrap_users(rn_engine *e, const char *list, char *err, size_t errlen);

typedef struct rn_sasl rn_sasl;
enum rn_sasl_step { RN_SASL_CONTINUE, RN_SASL_DONE, RN_SASL_FAILED };

/* An exchange for one mechanism bit; lookup finds credentials (ctx is its argument,
 * kept, not owned). NULL when out of memory or the mechanism is unknown. */
rn_sasl *rn_sasl_new(unsigned mechanism, rn_scram_lookup lookup, void *ctx);
void rn_sasl_free(rn_sasl *s);
/* One client token in; *out (malloc'd, caller frees, may be NULL with *outlen 0) is the
 * server token to send back. FAILED leaves the sentence for the client in msg. */
enum rn_sasl_step rn_sasl_step(rn_sasl *s, const uint8_t *in, size_t len, uint8_t **out,
                               size_t *outlen, char *msg, size_t msglen);
/* The user name the client gave (may be "" before the first token); owned by s. */
const char *rn_sasl_user(const rn_sasl *s);
unsigned rn_sasl_mechanism(const rn_sasl *s);

#endif
