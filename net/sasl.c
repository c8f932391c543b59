/* net/sasl.c: mechanism names and the exchange of one connection: PLAIN here, SCRAM in
 * net/scram.c. Invariant: DONE is returned at most once, only for a proven user, and
 * every step after DONE or FAILED fails. */
#include "sasl.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rnlog.h"

static const struct {
    unsigned bit;
    const char *name;
} mechanisms[] = {
    {RN_SASL_SCRAM_SHA_512, "SCRAM-SHA-512"},
    {RN_SASL_SCRAM_SHA_256, "SCRAM-SHA-256"},
    {RN_SASL_PLAIN, "PLAIN"},
};
#define NMECH (sizeof mechanisms / sizeof mechanisms[0])

struct rn_sasl {
    unsigned mechanism;
    bool over;
    rn_scram_lookup lookup;
    void *ctx;
    rn_scram_server *scram; /* SCRAM mechanisms */
    char user[RN_USER_NAME_MAX + 1];
};

unsigned rn_sasl_mechanism_parse(const char *name, size_t len) {
    for (size_t i = 0; i < NMECH; i++)
        if (strlen(mechanisms[i].name) == len && memcmp(mechanisms[i].name, name, len) == 0)
            return mechanisms[i].bit;
    return 0;
}

const char *rn_sasl_mechanism_name(unsigned mechanism) {
    for (size_t i = 0; i < NMECH; i++)
        if (mechanisms[i].bit == mechanism) return mechanisms[i].name;
    return "?";
}

int rn_sasl_mechanisms_parse(const char *list, unsigned *out, char *err, size_t errlen) {
    *out = 0;
    const char *p = list;
    while (*p) {
        while (*p == ' ' || *p == ',') p++;
        const char *s = p;
        while (*p && *p != ',' && *p != ' ') p++;
        if (p == s) break;
        unsigned bit = rn_sasl_mechanism_parse(s, (size_t)(p - s));
        if (!bit) {
            snprintf(err, errlen,
                     "sasl.enabled.mechanisms: '%.*s' is not one of PLAIN, SCRAM-SHA-256, "
                     "SCRAM-SHA-512",
                     (int)(p - s), s);
            return -1;
        }
        *out |= bit;
    }
    if (!*out) {
        snprintf(err, errlen, "sasl.enabled.mechanisms: no mechanism given");
        return -1;
    }
    return 0;
}

int rn_sasl_mechanism_names(unsigned mask, const char **names, int max) {
    int n = 0;
    for (size_t i = 0; i < NMECH && n < max; i++)
        if (mask & mechanisms[i].bit) names[n++] = mechanisms[i].name;
    return n;
}

int rn_sasl_bootstrap_users(rn_engine *e, const char *list, char *err, size_t errlen) {
    char *copy = strdup(list), *save = NULL;
    if (!copy) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int rc = 0;
    for (char *tok = strtok_r(copy, ",", &save); tok && !rc; tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ') tok++;
        if (!*tok) continue;
        char *colon = strchr(tok, ':');
        if (!colon || colon == tok || !colon[1] ||
            !rn_user_name_valid(tok, (size_t)(colon - tok))) {
            snprintf(err, errlen, "sasl.users: expected user:password, got an entry without one");
            rc = -1;
            break;
        }
        *colon = 0;
        const char *user = tok, *password = colon + 1;
        static const int8_t mechs[] = {RN_SCRAM_SHA_256, RN_SCRAM_SHA_512};
        int changed = 0;
        for (size_t i = 0; i < sizeof mechs && !rc; i++) {
            rn_scram_credential cred;
            rn_err ge = rn_users_get(e, user, mechs[i], &cred);
            if (ge == RN_KAFKA_NONE && rn_scram_password_matches(&cred, password, strlen(password)))
                continue;
            if ((ge != RN_KAFKA_NONE && ge != RN_KAFKA_RESOURCE_NOT_FOUND) ||
                rn_scram_credential_new(mechs[i], password, strlen(password),
                                        RN_SCRAM_MIN_ITERATIONS, &cred) != 0 ||
                rn_users_write(e, NULL, NULL, 0, &user, &cred, 1) != RN_KAFKA_NONE) {
                snprintf(err, errlen, "sasl.users: cannot store the credentials of '%s'", user);
                rc = -1;
            }
            changed++;
        }
        if (!rc && changed)
            rn_log_info("sasl.users: SCRAM credentials of '%s' set", user);
    }
    explicit_bzero(copy, strlen(list));
    free(copy);
    return rc;
}

static int8_t scram_of(unsigned mechanism) {
    return mechanism == RN_SASL_SCRAM_SHA_256   ? RN_SCRAM_SHA_256
           : mechanism == RN_SASL_SCRAM_SHA_512 ? RN_SCRAM_SHA_512
                                                : 0;
}

rn_sasl *rn_sasl_new(unsigned mechanism, rn_scram_lookup lookup, void *ctx) {
    if (mechanism != RN_SASL_PLAIN && !scram_of(mechanism)) return NULL;
    rn_sasl *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->mechanism = mechanism;
    s->lookup = lookup;
    s->ctx = ctx;
    if (scram_of(mechanism) && !(s->scram = rn_scram_server_new(scram_of(mechanism), lookup, ctx))) {
        free(s);
        return NULL;
    }
    return s;
}

void rn_sasl_free(rn_sasl *s) {
    if (!s) return;
    rn_scram_server_free(s->scram);
    free(s);
}

const char *rn_sasl_user(const rn_sasl *s) { return s->user; }
unsigned rn_sasl_mechanism(const rn_sasl *s) { return s->mechanism; }

/* RFC 4616: [authzid] NUL authcid NUL passwd, checked against the stored SCRAM
 * credentials (SHA-256 first): derive with their salt and iterations, compare StoredKey. */
static enum rn_sasl_step plain(rn_sasl *s, const uint8_t *in, size_t len, char *msg, size_t msglen) {
    const uint8_t *z1 = memchr(in, 0, len);
    const uint8_t *z2 = z1 ? memchr(z1 + 1, 0, len - (size_t)(z1 + 1 - in)) : NULL;
    if (!z1 || !z2 || memchr(z2 + 1, 0, len - (size_t)(z2 + 1 - in))) {
        snprintf(msg, msglen, "Invalid SASL/PLAIN response: expected 3 tokens");
        return RN_SASL_FAILED;
    }
    size_t azl = (size_t)(z1 - in), ul = (size_t)(z2 - z1 - 1), pl = len - (size_t)(z2 + 1 - in);
    if (ul == 0 || ul > RN_USER_NAME_MAX) {
        snprintf(msg, msglen, "Authentication failed: username not specified");
        return RN_SASL_FAILED;
    }
    memcpy(s->user, z1 + 1, ul);
    s->user[ul] = 0;
    if (pl == 0) {
        snprintf(msg, msglen, "Authentication failed: password not specified");
        return RN_SASL_FAILED;
    }
    if (azl && (azl != ul || memcmp(in, s->user, ul) != 0)) {
        snprintf(msg, msglen,
                 "Authentication failed: Client requested an authorization id that is different "
                 "from username");
        return RN_SASL_FAILED;
    }
    static const int8_t order[] = {RN_SCRAM_SHA_256, RN_SCRAM_SHA_512};
    for (size_t i = 0; i < sizeof order && s->lookup; i++) {
        rn_scram_credential cred;
        int found = s->lookup(s->ctx, s->user, order[i], &cred);
        if (found < 0) {
            snprintf(msg, msglen, "Authentication failed: credentials unavailable");
            return RN_SASL_FAILED;
        }
        if (found == 0) {
            if (rn_scram_password_matches(&cred, (const char *)z2 + 1, pl)) return RN_SASL_DONE;
            break;
        }
    }
    snprintf(msg, msglen, "Authentication failed: Invalid username or password");
    return RN_SASL_FAILED;
}

enum rn_sasl_step rn_sasl_step(rn_sasl *s, const uint8_t *in, size_t len, uint8_t **out,
                               size_t *outlen, char *msg, size_t msglen) {
    *out = NULL;
    *outlen = 0;
    if (s->over) {
        snprintf(msg, msglen, "SASL: the exchange is already over");
        return RN_SASL_FAILED;
    }
    enum rn_sasl_step r;
    if (s->mechanism == RN_SASL_PLAIN) {
        r = plain(s, in, len, msg, msglen);
    } else {
        enum rn_scram_step st = rn_scram_server_step(s->scram, in, len, out, outlen, msg, msglen);
        snprintf(s->user, sizeof s->user, "%s", rn_scram_server_user(s->scram));
        r = st == RN_SCRAM_CONTINUE ? RN_SASL_CONTINUE : st == RN_SCRAM_DONE ? RN_SASL_DONE : RN_SASL_FAILED;
    }
    if (r != RN_SASL_CONTINUE) s->over = true;
    return r;
}
