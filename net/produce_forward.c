/* net/produce_forward.c: hooked batches sent on to the brokers that lead their partitions
 * (see produce_forward.h).
 *
 * Invariant: an rn_produce_forward is freed exactly once, when it is released and none of
 * its sends is in flight; a peer callback finds its send (and the send its forward) alive
 * because in_flight counts it. The per-thread peer cache only grows, and is freed by the
 * thread's exit (a pthread key destructor, which runs before the main thread frees the
 * network thread's event_base). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "peer.h"
#include "produce_forward.h"
#include "rnlog.h"

#define API_PRODUCE 0
#define FORWARD_VERSION 7       /* the last non-flexible Produce */
#define FORWARD_MARGIN_MS 5000  /* the peer's wait beyond the leader's own timeout_ms */
#define BROKER_CLIENT_PREFIX "runnel-broker-" /* what net/peer.c sends as client id */

typedef struct {
    int32_t index;
    uint8_t *records; /* malloc'd: the partition's batches, concatenated in order */
    size_t len;
} fwd_partition;

/* One Produce request: an owner's batches for one leader. */
typedef struct {
    rn_produce_forward *f;
    const void *owner;
    char *topic;
    int32_t leader;
    char host[256];
    int port;
    fwd_partition *parts;
    int nparts;
    bool started, answered;
    rn_err err;
} fwd_send;

struct rn_produce_forward {
    struct event_base *base;
    rn_cluster *cluster;
    int16_t acks;
    int32_t timeout_ms;
    fwd_send **sends;
    int nsends, cap;
    int in_flight;
    bool released;
    void (*done)(void *ctx);
    void *ctx;
};

/* ---- the per-thread peer cache ---------------------------------------------------- */

typedef struct {
    struct event_base *base;
    int32_t leader;
    char host[256];
    int port;
    rn_peer *peer;
} cached_peer;

typedef struct {
    cached_peer *v;
    int n, cap;
} peer_cache;

static pthread_key_t cache_key;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;
static bool cache_key_ok;

/* At the network thread's exit: its loop has stopped and every client connection is
 * closed (their requests released), so failing the peers' pending sends frees them. */
static void cache_free(void *arg) {
    peer_cache *pc = arg;
    for (int i = 0; i < pc->n; i++) rn_peer_free(pc->v[i].peer);
    free(pc->v);
    free(pc);
}

static void cache_key_create(void) { cache_key_ok = pthread_key_create(&cache_key, cache_free) == 0; }

static void peer_free_later(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    rn_peer_free(arg);
}

/* This thread's peer for leader at host:port on base, made on first use. A leader whose
 * endpoint changed gets a new peer; the old one is freed on the next loop turn (freeing
 * it here would fail other requests' sends inside this one's handler). NULL: no memory. */
static rn_peer *cached_peer_get(struct event_base *base, int32_t node_id, int32_t leader,
                                const char *host, int port) {
    pthread_once(&cache_once, cache_key_create);
    if (!cache_key_ok) return NULL;
    peer_cache *pc = pthread_getspecific(cache_key);
    if (!pc) {
        pc = calloc(1, sizeof *pc);
        if (!pc || pthread_setspecific(cache_key, pc) != 0) {
            free(pc);
            return NULL;
        }
    }
    cached_peer *e = NULL;
    for (int i = 0; i < pc->n && !e; i++)
        if (pc->v[i].base == base && pc->v[i].leader == leader) e = &pc->v[i];
    if (e && e->port == port && strcmp(e->host, host) == 0) return e->peer;
    rn_peer *peer = rn_peer_new(base, node_id, host, port);
    if (!peer) return NULL;
    if (e) {
        struct timeval now = {0, 0};
        if (event_base_once(base, -1, EV_TIMEOUT, peer_free_later, e->peer, &now) != 0)
            rn_log_warn("produce forward: cannot free the old peer of broker %d", (int)leader);
    } else {
        if (pc->n == pc->cap) {
            int cap = pc->cap ? pc->cap * 2 : 4;
            cached_peer *nv = realloc(pc->v, (size_t)cap * sizeof *nv);
            if (!nv) {
                rn_peer_free(peer);
                return NULL;
            }
            pc->v = nv;
            pc->cap = cap;
        }
        e = &pc->v[pc->n++];
    }
    *e = (cached_peer){.base = base, .leader = leader, .port = port, .peer = peer};
    snprintf(e->host, sizeof e->host, "%s", host);
    return peer;
}

/* ---- a request's forwards ---------------------------------------------------------- */

rn_produce_forward *rn_produce_forward_new(struct event_base *base, rn_cluster *c, int16_t acks,
                                           int32_t timeout_ms) {
    rn_produce_forward *f = calloc(1, sizeof *f);
    if (!f) return NULL;
    *f = (rn_produce_forward){.base = base, .cluster = c, .acks = acks == 0 ? 1 : acks,
                              .timeout_ms = timeout_ms};
    return f;
}

static void send_free(fwd_send *s) {
    for (int i = 0; i < s->nparts; i++) free(s->parts[i].records);
    free(s->parts);
    free(s->topic);
    free(s);
}

static void forward_free(rn_produce_forward *f) {
    for (int i = 0; i < f->nsends; i++) send_free(f->sends[i]);
    free(f->sends);
    free(f);
}

/* Append batch to s's record set for its partition (a new entry for a new partition). */
static rn_err send_add_batch(fwd_send *s, const rn_hooked_batch *b) {
    fwd_partition *p = NULL;
    for (int i = 0; i < s->nparts && !p; i++)
        if (s->parts[i].index == b->partition) p = &s->parts[i];
    if (!p) {
        fwd_partition *np = realloc(s->parts, (size_t)(s->nparts + 1) * sizeof *np);
        if (!np) return RN_ERR_NOMEM;
        s->parts = np;
        p = &s->parts[s->nparts++];
        *p = (fwd_partition){.index = b->partition};
    }
    uint8_t *nr = realloc(p->records, p->len + b->len);
    if (!nr) return RN_ERR_NOMEM;
    memcpy(nr + p->len, b->batch, b->len);
    p->records = nr;
    p->len += b->len;
    return RN_KAFKA_NONE;
}

/* The send for (owner, leader), made when new. NULL: no memory. */
static fwd_send *send_for(rn_produce_forward *f, const void *owner, const char *topic,
                          int32_t leader, const char *host, int port) {
    for (int i = 0; i < f->nsends; i++)
        if (f->sends[i]->owner == owner && f->sends[i]->leader == leader) return f->sends[i];
    if (f->nsends == f->cap) {
        int cap = f->cap ? f->cap * 2 : 4;
        fwd_send **ns = realloc(f->sends, (size_t)cap * sizeof *ns);
        if (!ns) return NULL;
        f->sends = ns;
        f->cap = cap;
    }
    fwd_send *s = calloc(1, sizeof *s);
    char *t = strdup(topic);
    if (!s || !t) {
        free(s);
        free(t);
        return NULL;
    }
    *s = (fwd_send){.f = f, .owner = owner, .topic = t, .leader = leader, .port = port};
    snprintf(s->host, sizeof s->host, "%s", host);
    f->sends[f->nsends++] = s;
    return s;
}

typedef struct {
    int32_t leader;
    char host[256];
    int port;
} leader_addr;

rn_err rn_produce_forward_add(rn_produce_forward *f, const void *owner, const char *topic,
                              const rn_hooked_set *set, const int *which, int n) {
    if (n <= 0) return RN_KAFKA_NONE;
    leader_addr *addr = malloc((size_t)n * sizeof *addr);
    if (!addr) return RN_ERR_NOMEM;
    int32_t self = rn_cluster_node_id(f->cluster);
    int first_new = f->nsends;
    rn_err err = RN_KAFKA_NONE;
    for (int i = 0; i < n && !err; i++) {
        err = rn_cluster_leader_of(f->cluster, topic, set->batches[which[i]].partition,
                                   &addr[i].leader, addr[i].host, &addr[i].port);
        if (!err && addr[i].leader == self) err = RN_KAFKA_NOT_LEADER_OR_FOLLOWER;
    }
    for (int i = 0; i < n && !err; i++) {
        fwd_send *s = send_for(f, owner, topic, addr[i].leader, addr[i].host, addr[i].port);
        err = s ? send_add_batch(s, &set->batches[which[i]]) : RN_ERR_NOMEM;
    }
    if (err) /* all or nothing: this owner's sends are the ones made in this call */
        while (f->nsends > first_new) {
            f->nsends--;
            send_free(f->sends[f->nsends]);
        }
    free(addr);
    return err;
}

void rn_produce_forward_drop(rn_produce_forward *f, const void *owner) {
    int kept = 0;
    for (int i = 0; i < f->nsends; i++) {
        fwd_send *s = f->sends[i];
        if (s->owner == owner && !s->started)
            send_free(s);
        else
            f->sends[kept++] = s;
    }
    f->nsends = kept;
}

/* A Produce v7 response: the first error of any partition, or NETWORK_EXCEPTION when it
 * does not parse or leaves a partition unanswered (retriable: the client tries again). */
static rn_err parse_answer(const fwd_send *s, rn_reader *body) {
    rn_reader *r = body;
    rn_err first = RN_KAFKA_NONE;
    int32_t ntopics, nparts, answered = 0;
    RN_R_ARRAY(r, &ntopics, 6);
    for (int32_t t = 0; t < ntopics; t++) {
        rn_bytes name;
        RN_R_STR(r, &name);
        RN_R_ARRAY(r, &nparts, 30);
        for (int32_t i = 0; i < nparts; i++) {
            int32_t index;
            int16_t error_code;
            int64_t base_offset, log_append_time_ms, log_start_offset;
            RN_R_I32(r, &index);
            RN_R_I16(r, &error_code);
            RN_R_I64(r, &base_offset);
            RN_R_I64(r, &log_append_time_ms);
            RN_R_I64(r, &log_start_offset);
            if (!first && error_code) first = error_code == -1 ? RN_ERR_INTERNAL : error_code;
            answered++;
        }
    }
    int32_t throttle_time_ms;
    RN_R_I32(r, &throttle_time_ms);
    if (answered < s->nparts) {
        rn_log_warn("produce forward to broker %d: %d of %d partitions answered",
                    (int)s->leader, (int)answered, s->nparts);
        return RN_KAFKA_NETWORK_EXCEPTION;
    }
    return first;
err_parse:
    rn_log_warn("produce forward to broker %d: malformed Produce v%d response at byte %zu (%s)",
                (int)s->leader, FORWARD_VERSION, rn_reader_offset(r),
                r->fail_what ? r->fail_what : "?");
    return RN_KAFKA_NETWORK_EXCEPTION;
}

/* One send answered: the last one wakes the request, or frees a released forward. */
static void send_answered(fwd_send *s, rn_err err) {
    rn_produce_forward *f = s->f;
    s->answered = true;
    s->err = err;
    if (err)
        rn_log_info("produce forward of %d partition(s) of %s to broker %d: %s", s->nparts,
                    s->topic, (int)s->leader, rn_err_name(err));
    if (--f->in_flight > 0) return;
    if (f->released)
        forward_free(f);
    else if (f->done)
        f->done(f->ctx); /* may release (and so free) f */
}

static void send_cb(void *ctx, rn_err err, rn_reader *body) {
    fwd_send *s = ctx;
    send_answered(s, err ? err : parse_answer(s, body));
}

/*
 * Produce v7 request body (non-flexible), one topic:
 *   +-----------------------+------+------------+-----------------------------------+
 *   | transactional_id null | acks | timeout_ms | topic_data [1]                    |
 *   | i16 -1                | i16  | i32        |   name, partition_data [index,    |
 *   |                       |      |            |   records (i32 size + batches)]   |
 *   +-----------------------+------+------------+-----------------------------------+
 */
static uint8_t *send_body(const rn_produce_forward *f, const fwd_send *s, size_t *len) {
    size_t total = 64 + strlen(s->topic);
    for (int i = 0; i < s->nparts; i++) total += 8 + s->parts[i].len;
    rn_writer w;
    rn_writer_init(&w, total, false);
    rn_write_string(&w, NULL);
    rn_write_i16(&w, f->acks);
    rn_write_i32(&w, f->timeout_ms);
    rn_write_array_len(&w, 1);
    rn_write_string(&w, s->topic);
    rn_write_array_len(&w, s->nparts);
    for (int i = 0; i < s->nparts; i++) {
        rn_write_i32(&w, s->parts[i].index);
        rn_write_bytes(&w, s->parts[i].records, (int32_t)s->parts[i].len);
    }
    if (w.failed) {
        rn_writer_free(&w);
        return NULL;
    }
    return rn_writer_steal(&w, len);
}

bool rn_produce_forward_start(rn_produce_forward *f, void (*done)(void *ctx), void *ctx) {
    int64_t wait = (int64_t)(f->timeout_ms > 0 ? f->timeout_ms : 0) + FORWARD_MARGIN_MS;
    int timeout = wait > INT32_MAX ? INT32_MAX : (int)wait;
    int32_t self = rn_cluster_node_id(f->cluster);
    f->done = done;
    f->ctx = ctx;
    for (int i = 0; i < f->nsends; i++) {
        fwd_send *s = f->sends[i];
        if (s->started) continue;
        s->started = true;
        size_t len;
        uint8_t *body = send_body(f, s, &len);
        rn_peer *peer = body ? cached_peer_get(f->base, self, s->leader, s->host, s->port) : NULL;
        if (peer && rn_peer_send(peer, API_PRODUCE, FORWARD_VERSION, body, len, timeout, send_cb,
                                 s) == 0) {
            f->in_flight++;
        } else {
            s->answered = true;
            s->err = RN_KAFKA_NETWORK_EXCEPTION;
        }
        free(body);
        /* The bytes are in the peer's buffer now. */
        for (int j = 0; j < s->nparts; j++) {
            free(s->parts[j].records);
            s->parts[j].records = NULL;
        }
    }
    return f->in_flight > 0;
}

rn_err rn_produce_forward_result(const rn_produce_forward *f, const void *owner) {
    if (!f) return RN_KAFKA_NONE;
    for (int i = 0; i < f->nsends; i++) {
        const fwd_send *s = f->sends[i];
        if (s->owner != owner) continue;
        if (!s->answered) return RN_KAFKA_REQUEST_TIMED_OUT;
        if (s->err) return s->err;
    }
    return RN_KAFKA_NONE;
}

void rn_produce_forward_release(rn_produce_forward *f) {
    if (!f) return;
    f->released = true;
    f->done = NULL;
    if (f->in_flight == 0) forward_free(f);
}

/* ---- at the leader ------------------------------------------------------------------ */

bool rn_produce_forward_trusted(const rn_request *req, rn_cluster *c) {
    static const char prefix[] = BROKER_CLIENT_PREFIX;
    const size_t plen = sizeof prefix - 1;
    const rn_bytes *id = &req->client_id;
    if (!c || id->len <= (int32_t)plen || id->len > (int32_t)plen + 10 ||
        memcmp(id->ptr, prefix, plen) != 0)
        return false;
    int64_t node = 0;
    for (int32_t i = (int32_t)plen; i < id->len; i++) {
        if (id->ptr[i] < '0' || id->ptr[i] > '9') return false;
        node = node * 10 + (id->ptr[i] - '0');
    }
    if (node > INT32_MAX) return false;
    /* The connection's address: "host:port" (conn.c), the host being an IP address. */
    const char *peer = req->conn->peer;
    const char *colon = strrchr(peer, ':');
    size_t hlen = colon ? (size_t)(colon - peer) : strlen(peer);
    rn_metadata *md = rn_cluster_metadata(c);
    rn_md_read_lock(md);
    const rn_md_broker *b = rn_md_broker_get(md, (int32_t)node);
    bool ok = b && strlen(b->host) == hlen && memcmp(b->host, peer, hlen) == 0;
    rn_md_read_unlock(md);
    static atomic_bool warned;
    if (!ok && !atomic_exchange(&warned, true))
        rn_log_warn("%s names itself broker %lld but is not that broker's registered host: its "
                    "Produce runs the topics' hooks as any client's would (warned once)",
                    peer, (long long)node);
    return ok;
}
