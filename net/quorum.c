/* net/quorum.c: this broker's member of the metadata quorum (quorum.h): libraft with its
 * libuv I/O and TCP transport, on a uv loop that runs on a thread of its own.
 *
 * Invariant: libraft and every uv handle are touched only on the quorum thread; other
 * threads reach it through the inbox, a mutex-guarded list drained by one uv_async. A
 * request (proposal or standby add) answers its done exactly once: whichever comes first
 * of the commit, a refusal, its timer and the stop sets `answered`; it is freed once raft
 * holds it no more and its timer is closed. */
#include "quorum.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <raft.h>
#include <raft/uv.h>
#include <uv.h>

#include "rnlog.h"

#define QUORUM_TICK_MS 50              /* how often leadership and waiting changes are looked at */
#define QUORUM_SNAPSHOT_THRESHOLD 1024 /* entries applied between two snapshots */
#define QUORUM_SNAPSHOT_TRAILING 128   /* entries kept behind a snapshot for slow followers */
#define QUORUM_MAX_VOTERS 64

enum job_kind { JOB_PROPOSE, JOB_ADD_STANDBY, JOB_POST };

typedef struct job job;
struct job {
    job *next;             /* the inbox */
    job *live_prev, *live_next; /* q->live: begun, not yet freed */
    rn_quorum *q;
    enum job_kind kind;
    uint8_t *entry; /* JOB_PROPOSE: the caller's entry, copied */
    size_t len;
    int32_t id; /* JOB_ADD_STANDBY */
    char address[280];
    bool assigning; /* JOB_ADD_STANDBY: raft_add is done, raft_assign(STANDBY) is next */
    int timeout_ms;
    rn_quorum_done done;
    void (*fn)(void *ctx); /* JOB_POST */
    void *ctx;
    union {
        struct raft_apply apply;
        struct raft_change change;
    } req;
    uv_timer_t timer;
    bool answered, in_raft, timer_open, waiting; /* waiting: a change to retry (CANTCHANGE) */
};

/* The result of the entry being applied: the fsm's apply hands it to the proposer's
 * callback, which libraft calls right after the apply, before the next entry. */
typedef struct {
    rn_err err;
    char msg[256];
} apply_result;

struct rn_quorum {
    int32_t node_id;
    rn_metadata *md;
    void (*applied)(void *ctx, uint64_t index);
    void (*leadership)(void *ctx, bool leader);
    void *ctx;

    pthread_t thread;
    uv_loop_t loop;
    uv_async_t wake;
    uv_timer_t tick;
    struct raft_uv_transport transport;
    struct raft_io io;
    struct raft_fsm fsm;
    struct raft raft;
    struct raft_barrier barrier; /* a new leader's first entry: it has applied everything */
    bool barrier_in_flight;
    bool ready;           /* reported leader: its barrier was applied in ready_term */
    raft_term ready_term;
    bool closing;
    apply_result result;
    job *live;

    pthread_mutex_t lock; /* guards the inbox and inbox_closed */
    job *inbox, **inbox_tail;
    bool stopping, inbox_closed;

    _Atomic int32_t leader; /* -1: none known */
    atomic_bool is_leader;
};

/* ---- raft errors ------------------------------------------------------------------ */

static const struct {
    int raft;
    rn_err err;
    const char *msg;
} raft_errors[] = {
    {RAFT_NOTLEADER, RN_KAFKA_NOT_CONTROLLER, "this broker is not the active controller"},
    {RAFT_LEADERSHIPLOST, RN_KAFKA_NOT_CONTROLLER,
     "this broker lost the controller leadership before the entry was committed"},
    {RAFT_SHUTDOWN, RN_KAFKA_NOT_CONTROLLER, "the metadata quorum member is shutting down"},
    {RAFT_CANCELED, RN_KAFKA_NOT_CONTROLLER, "the metadata quorum member is shutting down"},
    {RAFT_NOMEM, RN_ERR_NOMEM, "out of memory"},
    {RAFT_TOOBIG, RN_KAFKA_MESSAGE_TOO_LARGE, "the metadata entry is too large"},
    {RAFT_DUPLICATEADDRESS, RN_KAFKA_INVALID_REQUEST,
     "another quorum member already has this Raft address"},
};

static void fail_raft(rn_err *err, const char **msg, int rv) {
    for (size_t i = 0; i < sizeof raft_errors / sizeof raft_errors[0]; i++)
        if (raft_errors[i].raft == rv) {
            *err = raft_errors[i].err;
            *msg = raft_errors[i].msg;
            return;
        }
    *err = RN_ERR_INTERNAL;
    *msg = raft_strerror(rv);
}

/* ---- the log entry ---------------------------------------------------------------- */

/* libraft 0.15 writes an entry padded to 8 bytes but reads a segment back as if it were
 * not: an entry whose length is not a multiple of 8 makes its Raft files unreadable. So
 * the metadata entry travels framed, its length first:
 *
 *   +-----------------+---------------------------+-------------+
 *   | length: u64 BE  | entry (length bytes)      | 0..7 zeros  |
 *   +-----------------+---------------------------+-------------+
 *   |<------------ a multiple of 8 bytes, from raft_malloc ---->|
 */
#define FRAME_HEADER 8

static int frame_entry(const uint8_t *entry, size_t len, struct raft_buffer *buf) {
    size_t framed = (FRAME_HEADER + len + 7) & ~(size_t)7;
    uint8_t *p = raft_calloc(1, framed);
    if (!p) return RAFT_NOMEM;
    for (int i = 0; i < FRAME_HEADER; i++) p[i] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
    memcpy(p + FRAME_HEADER, entry, len);
    buf->base = p;
    buf->len = framed;
    return 0;
}

/* The entry inside a frame; false when the frame is malformed. */
static bool unframe_entry(const struct raft_buffer *buf, const uint8_t **entry, size_t *len) {
    const uint8_t *p = buf->base;
    if (buf->len < FRAME_HEADER) return false;
    uint64_t n = 0;
    for (int i = 0; i < FRAME_HEADER; i++) n = n << 8 | p[i];
    if (n > buf->len - FRAME_HEADER) return false;
    *entry = p + FRAME_HEADER;
    *len = (size_t)n;
    return true;
}

/* ---- requests --------------------------------------------------------------------- */

static void job_free(job *j) {
    rn_quorum *q = j->q;
    if (j->live_prev) j->live_prev->live_next = j->live_next;
    else if (q->live == j) q->live = j->live_next;
    if (j->live_next) j->live_next->live_prev = j->live_prev;
    free(j->entry);
    free(j);
}

static void job_release(job *j) {
    if (!j->in_raft && !j->timer_open && !j->waiting) job_free(j);
}

static void timer_closed(uv_handle_t *h) {
    job *j = h->data;
    j->timer_open = false;
    job_release(j);
}

static void job_answer(job *j, rn_err err, const char *msg) {
    if (j->answered) return;
    j->answered = true;
    if (j->timer_open && !uv_is_closing((uv_handle_t *)&j->timer))
        uv_close((uv_handle_t *)&j->timer, timer_closed);
    j->done(j->ctx, err, msg ? msg : "");
}

static void job_fail(job *j, int rv) {
    rn_err err;
    const char *msg;
    fail_raft(&err, &msg, rv);
    if (err == RN_ERR_INTERNAL)
        rn_log_error("quorum: node %d: a metadata change failed: %s (%s)", j->q->node_id, msg,
                     raft_errmsg(&j->q->raft));
    job_answer(j, err, msg);
}

static void apply_done(struct raft_apply *req, int status, void *result) {
    job *j = req->data;
    j->in_raft = false;
    if (status == 0) {
        const apply_result *r = result;
        job_answer(j, r->err, r->msg);
    } else {
        job_fail(j, status);
    }
    job_release(j);
}

static void change_done(struct raft_change *req, int status);

static const struct raft_server *config_member(struct raft *r, int32_t id) {
    for (unsigned i = 0; i < r->configuration.n; i++)
        if (r->configuration.servers[i].id == (raft_id)id) return &r->configuration.servers[i];
    return NULL;
}

/* Hand the request to raft (again, for a change that waited). */
static void job_submit(job *j) {
    rn_quorum *q = j->q;
    int rv;
    if (j->answered) return;
    if (q->closing || raft_state(&q->raft) != RAFT_LEADER) {
        job_fail(j, RAFT_NOTLEADER);
        return;
    }
    if (j->kind == JOB_PROPOSE) {
        struct raft_buffer buf;
        if (frame_entry(j->entry, j->len, &buf)) {
            job_fail(j, RAFT_NOMEM);
            return;
        }
        j->req.apply.data = j;
        rv = raft_apply(&q->raft, &j->req.apply, &buf, 1, apply_done);
        if (rv) raft_free(buf.base);
    } else {
        const struct raft_server *s = config_member(&q->raft, j->id);
        j->req.change.data = j;
        if (s && s->role != RAFT_SPARE) {
            job_answer(j, 0, "the node is a quorum member already");
            return;
        }
        j->assigning = s != NULL;
        rv = j->assigning ? raft_assign(&q->raft, &j->req.change, (raft_id)j->id, RAFT_STANDBY,
                                        change_done)
                          : raft_add(&q->raft, &j->req.change, (raft_id)j->id, j->address,
                                     change_done);
    }
    if (rv == 0) j->in_raft = true;
    else if (rv == RAFT_CANTCHANGE) j->waiting = true; /* another change is in flight */
    else job_fail(j, rv);
}

static void change_done(struct raft_change *req, int status) {
    job *j = req->data;
    j->in_raft = false;
    if (status) {
        job_fail(j, status);
    } else if (!j->assigning) {
        rn_log_info("quorum: node %d added at %s, now a standby", j->id, j->address);
        job_submit(j); /* the second step: spare -> standby */
    } else {
        job_answer(j, 0, "");
    }
    job_release(j);
}

static void job_timeout(uv_timer_t *t) {
    job *j = t->data;
    char msg[128];
    snprintf(msg, sizeof msg, "no quorum: the entry was not committed within %d ms",
             j->timeout_ms);
    j->waiting = false;
    /* The entry may still commit later; its done has been answered by then. */
    job_answer(j, RN_KAFKA_REQUEST_TIMED_OUT, msg);
}

static void job_begin(rn_quorum *q, job *j) {
    if (j->kind == JOB_POST) {
        j->fn(j->ctx);
        free(j);
        return;
    }
    j->live_next = q->live;
    if (q->live) q->live->live_prev = j;
    q->live = j;
    if (j->timeout_ms > 0 && uv_timer_init(&q->loop, &j->timer) == 0) {
        j->timer.data = j;
        j->timer_open = true;
        uv_timer_start(&j->timer, job_timeout, (uint64_t)j->timeout_ms, 0);
    }
    job_submit(j);
    job_release(j);
}

/* ---- the state machine: engine/metadata.c ------------------------------------------- */

static int fsm_apply(struct raft_fsm *fsm, const struct raft_buffer *buf, void **result) {
    rn_quorum *q = fsm->data;
    /* libraft applies index last_applied + 1 and only then advances last_applied: the same
     * index on every member. */
    uint64_t index = q->raft.last_applied + 1;
    const uint8_t *entry;
    size_t len;
    q->result.msg[0] = '\0';
    if (unframe_entry(buf, &entry, &len)) {
        q->result.err = rn_md_apply(q->md, index, entry, len, q->result.msg,
                                    sizeof q->result.msg);
    } else {
        q->result.err = RN_KAFKA_CORRUPT_MESSAGE;
        snprintf(q->result.msg, sizeof q->result.msg,
                 "the Raft entry at %llu is not a framed metadata entry",
                 (unsigned long long)index);
    }
    if (q->result.err < 0)
        rn_log_error("quorum: node %d: applying entry %llu failed locally: %s", q->node_id,
                     (unsigned long long)index, rn_err_name(q->result.err));
    *result = &q->result;
    if (q->applied) q->applied(q->ctx, index);
    /* Always 0: a refused entry is refused alike on every member and is consumed. */
    return 0;
}

static int fsm_snapshot(struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *n_bufs) {
    rn_quorum *q = fsm->data;
    size_t len = 0;
    uint8_t *image = rn_md_snapshot(q->md, &len);
    if (!image) return RAFT_NOMEM;
    /* libraft frees what it is given with raft_free. */
    struct raft_buffer *b = raft_malloc(sizeof *b);
    void *base = raft_malloc(len ? len : 1);
    if (!b || !base) {
        raft_free(b);
        raft_free(base);
        free(image);
        return RAFT_NOMEM;
    }
    memcpy(base, image, len);
    free(image);
    b->base = base;
    b->len = len;
    *bufs = b;
    *n_bufs = 1;
    return 0;
}

static int fsm_restore(struct raft_fsm *fsm, struct raft_buffer *buf) {
    rn_quorum *q = fsm->data;
    rn_err err = rn_md_restore(q->md, buf->base, buf->len);
    if (err) {
        rn_log_error("quorum: node %d: a metadata snapshot of %zu bytes does not restore: %s",
                     q->node_id, buf->len, rn_err_name(err));
        return RAFT_CORRUPT; /* libraft keeps and frees the buffer */
    }
    raft_free(buf->base); /* ours on success */
    rn_md_read_lock(q->md);
    uint64_t index = rn_md_applied_index(q->md);
    rn_md_read_unlock(q->md);
    rn_log_info("quorum: node %d restored a metadata snapshot (%zu bytes, applied index %llu)",
                q->node_id, buf->len, (unsigned long long)index);
    if (q->applied) q->applied(q->ctx, index);
    return 0;
}

/* ---- leadership ------------------------------------------------------------------- */

static void report_leadership(rn_quorum *q, bool leader) {
    q->ready = leader;
    atomic_store(&q->is_leader, leader);
    if (q->leadership) q->leadership(q->ctx, leader);
}

static void barrier_done(struct raft_barrier *req, int status) {
    rn_quorum *q = req->data;
    q->barrier_in_flight = false;
    if (status || q->closing || raft_state(&q->raft) != RAFT_LEADER) return; /* next tick */
    q->ready_term = q->raft.current_term;
    atomic_store(&q->leader, q->node_id);
    rn_log_info("quorum: node %d is the leader (term %llu)", q->node_id,
                (unsigned long long)q->raft.current_term);
    report_leadership(q, true);
}

/* Leadership as libraft sees it, every tick. This node is reported leader only once its
 * barrier (its first entry of the term) is applied: by then the image holds every entry
 * committed by earlier leaders. */
static void watch_leadership(rn_quorum *q) {
    bool raft_leads = raft_state(&q->raft) == RAFT_LEADER;
    if (q->ready && (!raft_leads || q->raft.current_term != q->ready_term)) {
        rn_log_info("quorum: node %d is no longer the leader (term %llu)", q->node_id,
                    (unsigned long long)q->raft.current_term);
        report_leadership(q, false);
    }
    if (raft_leads && !q->ready && !q->barrier_in_flight) {
        q->barrier.data = q;
        if (raft_barrier(&q->raft, &q->barrier, barrier_done) == 0) q->barrier_in_flight = true;
    }
    raft_id id = 0;
    const char *address = NULL;
    raft_leader(&q->raft, &id, &address);
    int32_t known = id ? (int32_t)id : -1;
    if (known == q->node_id && !q->ready) known = -1; /* not serving yet */
    int32_t was = atomic_exchange(&q->leader, known);
    if (known != was && known != q->node_id) {
        if (known >= 0)
            rn_log_info("quorum: node %d is the leader (term %llu)", known,
                        (unsigned long long)q->raft.current_term);
        else
            rn_log_info("quorum: node %d knows no leader (term %llu)", q->node_id,
                        (unsigned long long)q->raft.current_term);
    }
}

static void on_tick(uv_timer_t *t) {
    rn_quorum *q = t->data;
    if (q->closing) return;
    watch_leadership(q);
    for (job *j = q->live, *next; j; j = next) {
        next = j->live_next;
        if (!j->waiting) continue;
        j->waiting = false;
        job_submit(j);
        job_release(j);
    }
}

/* ---- the loop --------------------------------------------------------------------- */

static job *inbox_take(rn_quorum *q) {
    pthread_mutex_lock(&q->lock);
    job *all = q->inbox;
    q->inbox = NULL;
    q->inbox_tail = &q->inbox;
    pthread_mutex_unlock(&q->lock);
    return all;
}

static void raft_closed(struct raft *r) {
    rn_quorum *q = r->data;
    raft_uv_close(&q->io);
    raft_uv_tcp_close(&q->transport);
    /* From here on nothing new is taken: the inbox is drained once more and closed. */
    pthread_mutex_lock(&q->lock);
    q->inbox_closed = true;
    pthread_mutex_unlock(&q->lock);
    for (job *j = inbox_take(q), *next; j; j = next) {
        next = j->next;
        job_begin(q, j); /* answered NOT_CONTROLLER: q->closing */
    }
    uv_close((uv_handle_t *)&q->wake, NULL);
}

/* On the loop: refuse what waits, close raft (which fails what it holds) and the tick. */
static void quorum_close(rn_quorum *q) {
    q->closing = true;
    if (q->ready) report_leadership(q, false);
    atomic_store(&q->leader, -1);
    uv_close((uv_handle_t *)&q->tick, NULL);
    raft_close(&q->raft, raft_closed);
    for (job *j = q->live, *next; j; j = next) {
        next = j->live_next;
        j->waiting = false;
        job_fail(j, RAFT_SHUTDOWN);
        job_release(j);
    }
}

static void on_wake(uv_async_t *a) {
    rn_quorum *q = a->data;
    if (q->closing) return;
    for (job *j = inbox_take(q), *next; j; j = next) {
        next = j->next;
        job_begin(q, j);
    }
    pthread_mutex_lock(&q->lock);
    bool stop = q->stopping;
    pthread_mutex_unlock(&q->lock);
    if (stop) quorum_close(q);
}

static void *quorum_main(void *arg) {
    rn_quorum *q = arg;
    /* A peer gone mid-write is EPIPE for libuv, never a signal that ends the process. */
    sigset_t pipe;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe, NULL);
    uv_run(&q->loop, UV_RUN_DEFAULT);
    return NULL;
}

/* Queue a job for the loop. False when the quorum is closed: nothing will run it. */
static bool inbox_put(rn_quorum *q, job *j) {
    pthread_mutex_lock(&q->lock);
    bool open = !q->inbox_closed;
    if (open) {
        *q->inbox_tail = j;
        q->inbox_tail = &j->next;
        uv_async_send(&q->wake);
    }
    pthread_mutex_unlock(&q->lock);
    return open;
}

/* ---- the API ---------------------------------------------------------------------- */

int rn_quorum_parse_voters(const char *voters, int32_t *ids, char (*addresses)[280], int max,
                           char *err, size_t errlen) {
    int n = 0;
    const char *p = voters ? voters : "";
    while (*p == ' ') p++;
    if (!*p) {
        snprintf(err, errlen, "controller.quorum.voters is empty");
        return -1;
    }
    while (*p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char item[320];
        while (len && p[0] == ' ') p++, len--;
        while (len && p[len - 1] == ' ') len--;
        if (len >= sizeof item) {
            snprintf(err, errlen, "controller.quorum.voters: entry %d is too long", n + 1);
            return -1;
        }
        memcpy(item, p, len);
        item[len] = '\0';
        char *at = strchr(item, '@');
        char *idend = NULL;
        errno = 0;
        long id = at ? strtol(item, &idend, 10) : 0;
        if (!at || idend != at || at == item || errno || id <= 0 || id > INT32_MAX) {
            snprintf(err, errlen,
                     "controller.quorum.voters: \"%s\" is not id@host:port with a positive id",
                     item);
            return -1;
        }
        const char *address = at + 1;
        const char *colon = strrchr(address, ':');
        char *portend = NULL;
        long port = colon ? strtol(colon + 1, &portend, 10) : 0;
        if (!colon || colon == address || !colon[1] || *portend || port <= 0 || port > 65535) {
            snprintf(err, errlen, "controller.quorum.voters: \"%s\" has no host:port", item);
            return -1;
        }
        if (strlen(address) >= 280) {
            snprintf(err, errlen, "controller.quorum.voters: the address of %ld is too long", id);
            return -1;
        }
        for (int i = 0; i < n; i++)
            if (ids[i] == (int32_t)id) {
                snprintf(err, errlen, "controller.quorum.voters: node %ld is listed twice", id);
                return -1;
            }
        if (n == max) {
            snprintf(err, errlen, "controller.quorum.voters: more than %d voters", max);
            return -1;
        }
        ids[n] = (int32_t)id;
        snprintf(addresses[n], 280, "%s", address);
        n++;
        if (!end) break;
        p = end + 1;
    }
    return n;
}

static int mkdir_p(const char *dir) {
    char path[4096];
    if (snprintf(path, sizeof path, "%s", dir) >= (int)sizeof path) return ENAMETOOLONG;
    for (char *s = path + 1;; s++) {
        if (*s != '/' && *s) continue;
        char c = *s;
        *s = '\0';
        if (mkdir(path, 0755) && errno != EEXIST) return errno;
        if (!c) return 0;
        *s = c;
    }
}

/* libraft state up to a started raft, on the caller's thread before the loop thread
 * exists. Returns 0, or a sentence in err; on failure everything made here is undone. */
static int quorum_open(rn_quorum *q, const rn_quorum_options *o, char *err, size_t errlen) {
    int32_t ids[QUORUM_MAX_VOTERS];
    char addresses[QUORUM_MAX_VOTERS][280];
    int n = rn_quorum_parse_voters(o->voters, ids, addresses, QUORUM_MAX_VOTERS, err, errlen);
    if (n < 0) return -1;
    const char *address = o->address && *o->address ? o->address : NULL;
    bool voter = false;
    for (int i = 0; i < n; i++)
        if (ids[i] == o->node_id) {
            voter = true;
            if (!address) address = addresses[i];
        }
    if (!address) {
        snprintf(err, errlen, "node %d is not a voter and has no Raft address of its own",
                 o->node_id);
        return -1;
    }
    int e = mkdir_p(o->dir);
    if (e) {
        snprintf(err, errlen, "cannot create the Raft directory %s: %s", o->dir, strerror(e));
        return -1;
    }
    int rv = uv_loop_init(&q->loop);
    if (rv) {
        snprintf(err, errlen, "uv_loop_init: %s", uv_strerror(rv));
        return -1;
    }
    rv = raft_uv_tcp_init(&q->transport, &q->loop);
    if (rv) {
        snprintf(err, errlen, "the Raft transport: %s", raft_strerror(rv));
        goto err_loop;
    }
    rv = raft_uv_init(&q->io, &q->loop, o->dir, &q->transport);
    if (rv) {
        snprintf(err, errlen, "the Raft files in %s: %s", o->dir, q->io.errmsg);
        goto err_transport;
    }
    q->fsm.version = 1;
    q->fsm.data = q;
    q->fsm.apply = fsm_apply;
    q->fsm.snapshot = fsm_snapshot;
    q->fsm.restore = fsm_restore;
    rv = raft_init(&q->raft, &q->io, &q->fsm, (raft_id)o->node_id, address);
    if (rv) {
        snprintf(err, errlen, "raft_init: %s", raft_errmsg(&q->raft));
        goto err_io;
    }
    q->raft.data = q;
    raft_set_election_timeout(&q->raft, o->election_timeout_ms ? o->election_timeout_ms : 1000);
    raft_set_heartbeat_timeout(&q->raft, o->heartbeat_timeout_ms ? o->heartbeat_timeout_ms : 100);
    raft_set_snapshot_threshold(&q->raft, QUORUM_SNAPSHOT_THRESHOLD);
    raft_set_snapshot_trailing(&q->raft, QUORUM_SNAPSHOT_TRAILING);
    raft_set_pre_vote(&q->raft, true); /* a member back from a partition does not depose */
    if (voter) {
        struct raft_configuration conf;
        raft_configuration_init(&conf);
        rv = 0;
        for (int i = 0; i < n && !rv; i++)
            rv = raft_configuration_add(&conf, (raft_id)ids[i], addresses[i], RAFT_VOTER);
        if (!rv) rv = raft_bootstrap(&q->raft, &conf);
        raft_configuration_close(&conf);
        if (rv && rv != RAFT_CANTBOOTSTRAP) { /* CANTBOOTSTRAP: a restart */
            snprintf(err, errlen, "raft_bootstrap: %s", raft_errmsg(&q->raft));
            goto err_raft;
        }
    }
    rv = raft_start(&q->raft);
    if (rv) {
        snprintf(err, errlen, "raft_start at %s: %s", address, raft_errmsg(&q->raft));
        goto err_raft;
    }
    return 0;

err_raft:
    q->raft.data = q;
    raft_close(&q->raft, NULL);
    uv_run(&q->loop, UV_RUN_DEFAULT); /* until raft's handles are closed */
err_io:
    raft_uv_close(&q->io);
err_transport:
    raft_uv_tcp_close(&q->transport);
err_loop:
    uv_run(&q->loop, UV_RUN_DEFAULT);
    uv_loop_close(&q->loop);
    return -1;
}

rn_quorum *rn_quorum_start(const rn_quorum_options *o, char *err, size_t errlen) {
    rn_quorum *q = calloc(1, sizeof *q);
    if (!q) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    q->node_id = o->node_id;
    q->md = o->md;
    q->applied = o->applied;
    q->leadership = o->leadership;
    q->ctx = o->ctx;
    q->inbox_tail = &q->inbox;
    atomic_init(&q->leader, -1);
    atomic_init(&q->is_leader, false);
    pthread_mutex_init(&q->lock, NULL);
    if (quorum_open(q, o, err, errlen)) goto err;
    uv_async_init(&q->loop, &q->wake, on_wake);
    q->wake.data = q;
    uv_timer_init(&q->loop, &q->tick);
    q->tick.data = q;
    uv_timer_start(&q->tick, on_tick, QUORUM_TICK_MS, QUORUM_TICK_MS);
    if (pthread_create(&q->thread, NULL, quorum_main, q)) {
        snprintf(err, errlen, "cannot start the quorum thread");
        quorum_close(q);
        uv_run(&q->loop, UV_RUN_DEFAULT);
        uv_loop_close(&q->loop);
        goto err;
    }
    rn_log_info("quorum: node %d started (Raft files in %s)", q->node_id, o->dir);
    return q;
err:
    pthread_mutex_destroy(&q->lock);
    free(q);
    return NULL;
}

void rn_quorum_stop(rn_quorum *q) {
    if (!q) return;
    pthread_mutex_lock(&q->lock);
    q->stopping = true;
    uv_async_send(&q->wake);
    pthread_mutex_unlock(&q->lock);
    pthread_join(q->thread, NULL);
    if (uv_loop_close(&q->loop))
        rn_log_warn("quorum: node %d: the uv loop still had handles at stop", q->node_id);
    pthread_mutex_destroy(&q->lock);
    rn_log_info("quorum: node %d stopped", q->node_id);
    free(q);
}

int32_t rn_quorum_leader(rn_quorum *q) { return atomic_load(&q->leader); }

bool rn_quorum_is_leader(rn_quorum *q) { return atomic_load(&q->is_leader); }

static job *job_new(rn_quorum *q, enum job_kind kind, int timeout_ms, rn_quorum_done done,
                    void *ctx) {
    job *j = calloc(1, sizeof *j);
    if (!j) return NULL;
    j->q = q;
    j->kind = kind;
    j->timeout_ms = timeout_ms;
    j->done = done;
    j->ctx = ctx;
    return j;
}

/* A request the loop will not see is answered here, on the caller's thread: only after
 * rn_quorum_stop began (or without memory). */
static void job_put(rn_quorum *q, job *j) {
    if (inbox_put(q, j)) return;
    j->done(j->ctx, RN_KAFKA_NOT_CONTROLLER, "the metadata quorum member is shutting down");
    free(j->entry);
    free(j);
}

void rn_quorum_propose(rn_quorum *q, const uint8_t *entry, size_t len, int timeout_ms,
                       rn_quorum_done done, void *ctx) {
    job *j = job_new(q, JOB_PROPOSE, timeout_ms, done, ctx);
    uint8_t *copy = j ? malloc(len ? len : 1) : NULL;
    if (!copy) {
        free(j);
        done(ctx, RN_ERR_NOMEM, "out of memory");
        return;
    }
    memcpy(copy, entry, len);
    j->entry = copy;
    j->len = len;
    job_put(q, j);
}

void rn_quorum_add_standby(rn_quorum *q, int32_t id, const char *address, int timeout_ms,
                           rn_quorum_done done, void *ctx) {
    job *j = job_new(q, JOB_ADD_STANDBY, timeout_ms, done, ctx);
    if (!j) {
        done(ctx, RN_ERR_NOMEM, "out of memory");
        return;
    }
    if (id <= 0 || !address || strlen(address) >= sizeof j->address) {
        free(j);
        done(ctx, RN_KAFKA_INVALID_REQUEST, "a standby needs a positive id and a host:port");
        return;
    }
    j->id = id;
    snprintf(j->address, sizeof j->address, "%s", address);
    job_put(q, j);
}

int rn_quorum_post(rn_quorum *q, void (*fn)(void *ctx), void *ctx) {
    job *j = calloc(1, sizeof *j);
    if (!j) return RN_ERR_NOMEM;
    j->q = q;
    j->kind = JOB_POST;
    j->fn = fn;
    j->ctx = ctx;
    if (inbox_put(q, j)) return 0;
    free(j);
    return RN_ERR_INTERNAL;
}
