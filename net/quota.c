/* net/quota.c: client quota rules and the rate of each entity (see quota.h). Invariant:
 * an entity's clock (tat_us) only moves forward, so a burst of requests is throttled by
 * exactly what it sent beyond its rate. */
#include "quota.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conn.h"
#include "rnlog.h"

#define RN_QUOTA_BURST_US 1000000     /* a second of rate may go unthrottled */
#define RN_QUOTA_MAX_THROTTLE_MS 30000
#define RN_QUOTA_BUCKETS 1024

typedef struct {
    char *user;    /* NULL: any user */
    char *client;  /* NULL: any client id */
    int64_t rate[2]; /* bytes/s per rn_quota_kind; 0 unset */
} quota_rule;

typedef struct entity {
    char *key;
    double tat_us; /* theoretical arrival time: when the bytes so far would have been sent */
    struct entity *next;
} entity;

struct rn_quotas {
    quota_rule *rules;
    int nrules;
    int64_t defaults[2];
    pthread_mutex_t lock;
    entity *buckets[RN_QUOTA_BUCKETS];
};

static char *dup_n(const char *s, size_t n) {
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = 0;
    }
    return d;
}

/* "users/U[/clients/C]" or "clients/C" -> the rule's names. */
static int parse_entity(const char *s, size_t n, quota_rule *r) {
    const char *end = s + n;
    if (n > 6 && memcmp(s, "users/", 6) == 0) {
        const char *u = s + 6;
        const char *slash = memchr(u, '/', (size_t)(end - u));
        const char *uend = slash ? slash : end;
        if (uend == u || !(r->user = dup_n(u, (size_t)(uend - u)))) return -1;
        if (!slash) return 0;
        s = slash + 1;
        n = (size_t)(end - s);
    }
    if (n > 8 && memcmp(s, "clients/", 8) == 0)
        return (r->client = dup_n(s + 8, n - 8)) ? 0 : -1;
    return -1;
}

/* "producer_byte_rate=N,consumer_byte_rate=N" */
static int parse_values(const char *s, size_t n, quota_rule *r) {
    char buf[256];
    if (n == 0 || n >= sizeof buf) return -1;
    memcpy(buf, s, n);
    buf[n] = 0;
    char *save = NULL;
    for (char *kv = strtok_r(buf, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(kv, '=');
        if (!eq) return -1;
        *eq = 0;
        char *endp = NULL;
        long long v = strtoll(eq + 1, &endp, 10);
        if (!*(eq + 1) || *endp || v <= 0) return -1;
        if (strcmp(kv, "producer_byte_rate") == 0)
            r->rate[RN_QUOTA_PRODUCE] = v;
        else if (strcmp(kv, "consumer_byte_rate") == 0)
            r->rate[RN_QUOTA_FETCH] = v;
        else
            return -1;
    }
    return 0;
}

rn_quotas *rn_quotas_new(const char *spec, int64_t producer_default, int64_t consumer_default,
                         char *err, size_t errlen) {
    rn_quotas *q = calloc(1, sizeof *q);
    if (!q) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&q->lock, NULL);
    q->defaults[RN_QUOTA_PRODUCE] = producer_default;
    q->defaults[RN_QUOTA_FETCH] = consumer_default;
    for (const char *p = spec ? spec : ""; *p;) {
        while (*p == ' ' || *p == ';') p++;
        if (!*p) break;
        const char *end = strchr(p, ';');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        while (n > 0 && p[n - 1] == ' ') n--;
        const char *colon = memchr(p, ':', n);
        quota_rule r = {0};
        quota_rule *grown = realloc(q->rules, (size_t)(q->nrules + 1) * sizeof *grown);
        if (grown) q->rules = grown;
        if (!grown || !colon || parse_entity(p, (size_t)(colon - p), &r) != 0 ||
            parse_values(colon + 1, n - (size_t)(colon - p) - 1, &r) != 0) {
            free(r.user);
            free(r.client);
            snprintf(err, errlen,
                     "client.quotas: cannot read '%.*s' (expected users/U[/clients/C] or "
                     "clients/C, then ':producer_byte_rate=N,consumer_byte_rate=N')",
                     (int)(n > 200 ? 200 : n), p);
            rn_quotas_free(q);
            return NULL;
        }
        q->rules[q->nrules++] = r;
        p += n;
    }
    return q;
}

void rn_quotas_free(rn_quotas *q) {
    if (!q) return;
    for (int i = 0; i < q->nrules; i++) {
        free(q->rules[i].user);
        free(q->rules[i].client);
    }
    free(q->rules);
    for (int b = 0; b < RN_QUOTA_BUCKETS; b++)
        for (entity *e = q->buckets[b], *next; e; e = next) {
            next = e->next;
            free(e->key);
            free(e);
        }
    pthread_mutex_destroy(&q->lock);
    free(q);
}

static bool same(const char *rule, const char *name) { return rule && strcmp(rule, name) == 0; }

/* The rate that applies and the entity that shares it (into key), or 0. */
static int64_t resolve(const rn_quotas *q, rn_quota_kind kind, const char *user,
                       const char *client, char *key, size_t keylen) {
    static const char *const kinds[] = {"produce", "fetch"};
    for (int pass = 0; pass < 3; pass++)
        for (int i = 0; i < q->nrules; i++) {
            const quota_rule *r = &q->rules[i];
            if (!r->rate[kind]) continue;
            bool match = pass == 0   ? same(r->user, user) && same(r->client, client)
                         : pass == 1 ? same(r->user, user) && !r->client
                                     : !r->user && same(r->client, client);
            if (!match) continue;
            snprintf(key, keylen, "%s users/%s clients/%s", kinds[kind], r->user ? user : "*",
                     r->client ? client : "*");
            return r->rate[kind];
        }
    if (q->defaults[kind] <= 0) return 0;
    snprintf(key, keylen, "%s default clients/%s", kinds[kind], client);
    return q->defaults[kind];
}

static uint32_t hash(const char *s) {
    uint32_t h = 2166136261u;
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

int32_t rn_quotas_record(rn_quotas *q, rn_quota_kind kind, const char *principal,
                         const char *client_id, size_t bytes, int64_t now_us) {
    if (!q) return 0;
    const char *user = strncmp(principal, "User:", 5) == 0 ? principal + 5 : principal;
    char key[768];
    int64_t rate = resolve(q, kind, user, client_id ? client_id : "", key, sizeof key);
    if (rate <= 0) return 0;
    uint32_t b = hash(key) % RN_QUOTA_BUCKETS;
    pthread_mutex_lock(&q->lock);
    entity *e = q->buckets[b];
    while (e && strcmp(e->key, key) != 0) e = e->next;
    if (!e && (e = calloc(1, sizeof *e)) && (e->key = strdup(key))) {
        e->next = q->buckets[b];
        q->buckets[b] = e;
    } else if (e && !e->key) {
        free(e);
        e = NULL;
    }
    double ahead = 0;
    if (e) {
        if (e->tat_us < (double)now_us) e->tat_us = (double)now_us;
        e->tat_us += (double)bytes * 1e6 / (double)rate;
        ahead = e->tat_us - (double)now_us - RN_QUOTA_BURST_US;
    }
    pthread_mutex_unlock(&q->lock);
    if (ahead <= 0) return 0;
    double ms = ahead / 1000;
    return ms > RN_QUOTA_MAX_THROTTLE_MS ? RN_QUOTA_MAX_THROTTLE_MS : (int32_t)ms + 1;
}

int32_t rn_quota_record(rn_request *req, rn_quota_kind kind, size_t bytes) {
    rn_conn *c = req->conn;
    rn_quotas *q = rn_conn_opts(c)->quotas;
    if (!q) return 0;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t now = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
    char client[sizeof c->client_id];
    snprintf(client, sizeof client, "%.*s", req->client_id.len > 0 ? (int)req->client_id.len : 0,
             req->client_id.len > 0 ? (const char *)req->client_id.ptr : "");
    int32_t ms = rn_quotas_record(q, kind, c->principal, client, bytes, now);
    if (ms > 0) {
        rn_log_debug("%s (%s, client %s): over its %s quota, throttled %d ms", c->peer,
                     c->principal, client, kind == RN_QUOTA_PRODUCE ? "produce" : "fetch", ms);
        rn_conn_throttle(c, ms);
    }
    return ms;
}
