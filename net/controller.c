/* net/controller.c: the active controller's duties, on the quorum leader only: broker
 * liveness (heartbeats seen, fencing the silent, unfencing the returned), registering
 * brokers (and adding a newcomer to the quorum as a standby), finishing partition
 * reassignments once their new replicas are in sync, and creating __consumer_offsets.
 *
 * Invariant: the controller decides, the image records. Every verdict is a record
 * proposed through the quorum; nothing here is cluster truth, so a new controller
 * starts from the image and a fresh grace period for every broker. At most one proposal
 * of each kind is in flight (its flag), so a slow quorum is not flooded. */
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "cluster_internal.h"
#include "rnlog.h"

int64_t rn_cluster_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The heartbeat slot of broker id (created at `now` when new). hb_lock held. */
static rn_heartbeat_seen *seen_slot(rn_cluster *c, int32_t id, int64_t now) {
    for (int i = 0; i < c->nseen; i++)
        if (c->seen[i].id == id) return &c->seen[i];
    if (c->nseen == RN_CLUSTER_MAX_BROKERS) return NULL;
    rn_heartbeat_seen *s = &c->seen[c->nseen++];
    *s = (rn_heartbeat_seen){.id = id, .last_heartbeat_ms = now};
    return s;
}

void rn_controller_reset(rn_cluster *c, int64_t now) {
    pthread_mutex_lock(&c->hb_lock);
    for (int i = 0; i < c->nseen; i++) {
        c->seen[i].last_heartbeat_ms = now;
        c->seen[i].fence_proposed = c->seen[i].unfence_proposed = false;
    }
    pthread_mutex_unlock(&c->hb_lock);
    c->offsets_topic_proposed = false;
    c->reassign_proposed = false;
    c->controller_since_ms = now;
    rn_log_info("controller: node %d is the active controller", c->o.node_id);
}

/* ---- proposals with an in-flight flag ------------------------------------------------ */

typedef struct {
    rn_cluster *c;
    bool *flag;        /* cleared when done (under hb_lock) */
    const char *what;  /* static, for the log */
} flagged_proposal;

static void flagged_done(void *ctx, rn_err err, const char *msg) {
    flagged_proposal *fp = ctx;
    if (err)
        rn_log_warn("controller: %s not recorded: %s%s%s", fp->what, rn_err_name(err),
                    msg && *msg ? ": " : "", msg ? msg : "");
    pthread_mutex_lock(&fp->c->hb_lock);
    *fp->flag = false;
    pthread_mutex_unlock(&fp->c->hb_lock);
    free(fp);
}

/* Propose with *flag set until done; false (nothing proposed) if *flag was set. */
static bool propose_flagged(rn_cluster *c, const rn_md_record *recs, int n, bool *flag,
                            const char *what) {
    pthread_mutex_lock(&c->hb_lock);
    bool busy = *flag;
    if (!busy) *flag = true;
    pthread_mutex_unlock(&c->hb_lock);
    if (busy) return false;
    flagged_proposal *fp = malloc(sizeof *fp);
    if (!fp) {
        pthread_mutex_lock(&c->hb_lock);
        *flag = false;
        pthread_mutex_unlock(&c->hb_lock);
        return false;
    }
    *fp = (flagged_proposal){c, flag, what};
    rn_cluster_propose(c, recs, n, 5000, flagged_done, fp);
    return true;
}

/* ---- broker registration and heartbeats (RPCs served on the controller) -------------- */

typedef struct {
    rn_cluster *c;
    int32_t id;
    char host[256], raft_host[256];
    int port, raft_port;
    int64_t *broker_epoch;
    rn_cluster_done done;
    void *ctx;
} registration;

static void registration_recorded(void *ctx, rn_err err, const char *msg) {
    registration *r = ctx;
    if (!err) {
        rn_md_read_lock(r->c->md);
        const rn_md_broker *b = rn_md_broker(r->c->md, r->id);
        *r->broker_epoch = b ? b->epoch : -1;
        rn_md_read_unlock(r->c->md);
        rn_log_info("controller: broker %d registered at %s:%d (epoch %lld)", r->id, r->host,
                    r->port, (long long)*r->broker_epoch);
    }
    r->done(r->ctx, err, msg);
    free(r);
}

/* A broker that registers again was restarted: whatever it led or followed in memory is
 * gone, so it is fenced and unfenced in one entry. Its leaderships move to in-sync
 * replicas at a new epoch, and it rejoins ISRs only after catching up, as a newcomer. */
static void registration_propose(registration *r) {
    rn_md_record recs[2];
    int n = 0;
    rn_md_read_lock(r->c->md);
    const rn_md_broker *b = rn_md_broker(r->c->md, r->id);
    if (b && !b->fenced) recs[n++] = (rn_md_record){.type = RN_MD_FENCE_BROKER, .broker_id = r->id};
    rn_md_read_unlock(r->c->md);
    recs[n++] = (rn_md_record){.type = RN_MD_REGISTER_BROKER,
                               .broker_id = r->id,
                               .host = r->host,
                               .port = r->port,
                               .raft_host = r->raft_host,
                               .raft_port = r->raft_port};
    rn_cluster_propose(r->c, recs, n, 5000, registration_recorded, r);
}

static void registration_standby_added(void *ctx, rn_err err, const char *msg) {
    registration *r = ctx;
    if (err) {
        r->done(r->ctx, err, msg);
        free(r);
        return;
    }
    registration_propose(r);
}

void rn_cluster_register_broker(rn_cluster *c, int32_t id, const char *host, int port,
                                const char *raft_host, int raft_port, int64_t *broker_epoch,
                                rn_cluster_done done, void *ctx) {
    if (!rn_cluster_is_controller(c)) {
        done(ctx, RN_KAFKA_NOT_CONTROLLER, "this broker is not the active controller");
        return;
    }
    registration *r = calloc(1, sizeof *r);
    if (!r) {
        done(ctx, RN_ERR_NOMEM, "out of memory");
        return;
    }
    *r = (registration){.c = c, .id = id, .port = port, .raft_port = raft_port,
                        .broker_epoch = broker_epoch, .done = done, .ctx = ctx};
    snprintf(r->host, sizeof r->host, "%s", host ? host : "");
    snprintf(r->raft_host, sizeof r->raft_host, "%s", raft_host ? raft_host : "");
    int64_t now = rn_cluster_now_ms();
    pthread_mutex_lock(&c->hb_lock);
    rn_heartbeat_seen *s = seen_slot(c, id, now);
    if (s) {
        s->last_heartbeat_ms = now;
        s->metadata_offset = 0; /* a restarted broker follows the image again from scratch */
    }
    pthread_mutex_unlock(&c->hb_lock);

    /* A broker with a Raft address that is not a voter joins the quorum as a standby, so
     * it receives the metadata log; a voter is a member already. */
    bool voter = false;
    int32_t ids[RN_CLUSTER_MAX_BROKERS];
    char (*addrs)[280] = malloc(sizeof(char[280]) * RN_CLUSTER_MAX_BROKERS);
    char perr[128];
    int nv = addrs ? rn_quorum_parse_voters(c->o.voters, ids, addrs, RN_CLUSTER_MAX_BROKERS,
                                            perr, sizeof perr)
                   : -1;
    for (int i = 0; i < nv; i++) voter |= ids[i] == id;
    free(addrs);
    if (!voter && raft_port > 0) {
        char address[300];
        snprintf(address, sizeof address, "%s:%d", r->raft_host, raft_port);
        rn_quorum_add_standby(c->q, id, address, 5000, registration_standby_added, r);
        return;
    }
    registration_propose(r);
}

typedef struct {
    rn_cluster *c;
    int32_t id;
} unfence_ctx;

static void unfence_done(void *ctx, rn_err err, const char *msg) {
    unfence_ctx *u = ctx;
    if (err)
        rn_log_warn("controller: unfencing broker %d not recorded: %s%s%s", u->id,
                    rn_err_name(err), msg && *msg ? ": " : "", msg ? msg : "");
    else
        rn_log_info("controller: broker %d is back (unfenced)", u->id);
    pthread_mutex_lock(&u->c->hb_lock);
    rn_heartbeat_seen *s = seen_slot(u->c, u->id, rn_cluster_now_ms());
    if (s) s->unfence_proposed = false;
    pthread_mutex_unlock(&u->c->hb_lock);
    free(u);
}

rn_err rn_cluster_broker_heartbeat(rn_cluster *c, int32_t id, int64_t broker_epoch,
                                   int64_t metadata_offset, bool want_fence, bool *is_fenced) {
    *is_fenced = true;
    if (!rn_cluster_is_controller(c)) return RN_KAFKA_NOT_CONTROLLER;
    rn_md_read_lock(c->md);
    const rn_md_broker *b = rn_md_broker(c->md, id);
    rn_err err = !b                          ? RN_KAFKA_BROKER_NOT_AVAILABLE
                 : b->epoch != broker_epoch ? RN_KAFKA_STALE_BROKER_EPOCH
                                            : RN_KAFKA_NONE;
    bool fenced = b && b->fenced;
    rn_md_read_unlock(c->md);
    if (err) return err;
    *is_fenced = fenced;
    int64_t now = rn_cluster_now_ms();
    bool unfence = false;
    pthread_mutex_lock(&c->hb_lock);
    rn_heartbeat_seen *s = seen_slot(c, id, now);
    if (s) {
        s->last_heartbeat_ms = now;
        if (metadata_offset > 0) s->metadata_offset = (uint64_t)metadata_offset;
        if (fenced && !want_fence && !s->unfence_proposed) unfence = s->unfence_proposed = true;
    }
    pthread_mutex_unlock(&c->hb_lock);
    if (unfence) {
        unfence_ctx *u = malloc(sizeof *u);
        if (!u) return RN_KAFKA_NONE;
        *u = (unfence_ctx){c, id};
        rn_md_record rec = {.type = RN_MD_UNFENCE_BROKER, .broker_id = id};
        rn_cluster_propose(c, &rec, 1, 5000, unfence_done, u);
    }
    return RN_KAFKA_NONE;
}

uint64_t rn_cluster_applied_index(rn_cluster *c) {
    rn_md_read_lock(c->md);
    uint64_t index = rn_md_applied_index(c->md);
    rn_md_read_unlock(c->md);
    return index;
}

bool rn_cluster_applied_everywhere(rn_cluster *c, uint64_t index) {
    if (atomic_load(&c->reconciled_index) < index) return false;
    int64_t now = rn_cluster_now_ms();
    bool all = true;
    rn_md_read_lock(c->md);
    int nb;
    const rn_md_broker *bs = rn_md_brokers(c->md, &nb);
    pthread_mutex_lock(&c->hb_lock);
    for (int i = 0; all && i < nb; i++) {
        if (bs[i].fenced || bs[i].id == c->o.node_id) continue;
        rn_heartbeat_seen *s = seen_slot(c, bs[i].id, now);
        all = !s || s->metadata_offset >= index ||
              now - s->last_heartbeat_ms > 2 * c->o.heartbeat_interval_ms;
    }
    pthread_mutex_unlock(&c->hb_lock);
    rn_md_read_unlock(c->md);
    return all;
}

typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool done;
    rn_err err;
    char msg[256];
} propose_waiter;

static void waiter_done(void *ctx, rn_err err, const char *msg) {
    propose_waiter *pw = ctx;
    pthread_mutex_lock(&pw->lock);
    pw->done = true;
    pw->err = err;
    snprintf(pw->msg, sizeof pw->msg, "%s", msg ? msg : "");
    pthread_cond_signal(&pw->cond);
    pthread_mutex_unlock(&pw->lock);
}

rn_err rn_cluster_propose_wait(rn_cluster *c, const rn_md_record *records, int n, int timeout_ms,
                               char *msg, size_t msglen) {
    propose_waiter pw = {.done = false};
    pthread_mutex_init(&pw.lock, NULL);
    pthread_cond_init(&pw.cond, NULL);
    rn_cluster_propose(c, records, n, timeout_ms, waiter_done, &pw);
    pthread_mutex_lock(&pw.lock);
    while (!pw.done) pthread_cond_wait(&pw.cond, &pw.lock); /* done always runs */
    pthread_mutex_unlock(&pw.lock);
    pthread_cond_destroy(&pw.cond);
    pthread_mutex_destroy(&pw.lock);
    if (msg && msglen) snprintf(msg, msglen, "%s", pw.msg);
    if (pw.err) return pw.err;
    uint64_t index = rn_cluster_applied_index(c);
    for (int64_t until = rn_cluster_now_ms() + 3000;
         !rn_cluster_applied_everywhere(c, index) && rn_cluster_now_ms() < until;)
        nanosleep(&(struct timespec){0, 5 * 1000 * 1000}, NULL);
    return RN_KAFKA_NONE;
}

/* ---- the timer ----------------------------------------------------------------------- */

/* Fence every unfenced broker silent for longer than the session timeout. */
static void fence_silent(rn_cluster *c, int64_t now) {
    int32_t silent[RN_CLUSTER_MAX_BROKERS];
    int nsilent = 0;
    rn_md_read_lock(c->md);
    int nb;
    const rn_md_broker *bs = rn_md_brokers(c->md, &nb);
    pthread_mutex_lock(&c->hb_lock);
    for (int i = 0; i < nb; i++) {
        if (bs[i].fenced || bs[i].id == c->o.node_id) continue; /* the controller is alive */
        rn_heartbeat_seen *s = seen_slot(c, bs[i].id, now);
        if (s && !s->fence_proposed && now - s->last_heartbeat_ms > c->o.session_timeout_ms &&
            nsilent < RN_CLUSTER_MAX_BROKERS)
            silent[nsilent++] = bs[i].id;
    }
    pthread_mutex_unlock(&c->hb_lock);
    rn_md_read_unlock(c->md);
    for (int i = 0; i < nsilent; i++) {
        pthread_mutex_lock(&c->hb_lock);
        rn_heartbeat_seen *s = seen_slot(c, silent[i], now);
        pthread_mutex_unlock(&c->hb_lock);
        if (!s) continue;
        rn_log_warn("controller: broker %d sent no heartbeat for %lld ms: fencing it, its "
                    "partitions move to in-sync replicas",
                    silent[i], (long long)c->o.session_timeout_ms);
        rn_md_record rec = {.type = RN_MD_FENCE_BROKER, .broker_id = silent[i]};
        propose_flagged(c, &rec, 1, &s->fence_proposed, "fencing a silent broker");
    }
}

/* Finish the reassignments whose new replicas are all in sync (KIP-455): the replicas
 * become the target, the ISR shrinks to it, and a removed leader hands over. */
static void finish_reassignments(rn_cluster *c) {
    enum { MAX_FINISH = 64 };
    rn_md_record recs[MAX_FINISH];
    int32_t lists[MAX_FINISH][2][RN_CLUSTER_MAX_BROKERS];
    char *names[MAX_FINISH];
    int n = 0;
    rn_md_read_lock(c->md);
    int nt;
    const rn_md_topic *ts = rn_md_topics(c->md, &nt);
    for (int t = 0; t < nt && n < MAX_FINISH; t++) {
        for (int i = 0; i < ts[t].npart && n < MAX_FINISH; i++) {
            const rn_md_partition *mp = &ts[t].parts[i];
            if (mp->nadding == 0 && mp->nremoving == 0) continue;
            bool ready = true;
            for (int a = 0; a < mp->nadding; a++)
                ready &= rn_md_contains(mp->isr, mp->nisr, mp->adding[a]);
            if (!ready) continue;
            int32_t *target = lists[n][0], *isr = lists[n][1];
            int ntarget = 0, nisr = 0;
            for (int r = 0; r < mp->nreplicas && ntarget < RN_CLUSTER_MAX_BROKERS; r++)
                if (!rn_md_contains(mp->removing, mp->nremoving, mp->replicas[r]))
                    target[ntarget++] = mp->replicas[r];
            for (int r = 0; r < mp->nisr && nisr < RN_CLUSTER_MAX_BROKERS; r++)
                if (rn_md_contains(target, ntarget, mp->isr[r])) isr[nisr++] = mp->isr[r];
            if (ntarget == 0 || nisr == 0) continue; /* nothing in sync to hand over to */
            int32_t leader = mp->leader;
            bool move = !rn_md_contains(target, ntarget, leader);
            if (move) { /* the first target replica in sync leads */
                leader = -1;
                for (int r = 0; r < ntarget && leader < 0; r++)
                    if (rn_md_contains(isr, nisr, target[r])) leader = target[r];
            }
            names[n] = strdup(ts[t].name);
            if (!names[n]) break;
            recs[n] = (rn_md_record){.type = RN_MD_PARTITION_CHANGE,
                                     .topic = names[n],
                                     .partition = mp->index,
                                     .expect_partition_epoch = mp->partition_epoch,
                                     .set_leader = move,
                                     .leader = leader,
                                     .set_isr = true,
                                     .isr = isr,
                                     .nisr = nisr,
                                     .set_replicas = true,
                                     .replicas = target,
                                     .nreplicas_new = ntarget};
            rn_log_info("controller: reassignment of %s-%d done: replicas now %d brokers%s",
                        ts[t].name, mp->index, ntarget, move ? ", leadership moved" : "");
            n++;
        }
    }
    rn_md_read_unlock(c->md);
    if (n > 0) propose_flagged(c, recs, n, &c->reassign_proposed, "finishing reassignments");
    for (int i = 0; i < n; i++) free(names[i]);
}

/* __consumer_offsets, once enough brokers are up to give it its replication factor (the
 * voters, or offsets.topic.replication.factor if fewer). */
static void create_offsets_topic(rn_cluster *c) {
    rn_md_read_lock(c->md);
    bool exists = rn_md_topic(c->md, RN_OFFSETS_TOPIC) != NULL;
    int nb, up = 0;
    const rn_md_broker *bs = rn_md_brokers(c->md, &nb);
    for (int i = 0; i < nb; i++) up += !bs[i].fenced;
    int rf = c->o.offsets_topic_replication_factor;
    if (rf > c->nvoters) rf = c->nvoters;
    int32_t npart = c->o.offsets_topic_partitions;
    int32_t *assign = NULL;
    rn_err err = RN_KAFKA_NONE;
    if (!exists && up >= rf && rf > 0) {
        assign = malloc(sizeof(int32_t) * (size_t)npart * (size_t)rf);
        err = assign ? rn_md_assign_replicas(c->md, 0, npart, rf, assign) : RN_ERR_NOMEM;
    }
    rn_md_read_unlock(c->md);
    if (!assign) return;
    const int32_t **rows = malloc(sizeof *rows * (size_t)npart);
    int *counts = malloc(sizeof *counts * (size_t)npart);
    if (!err && rows && counts) {
        for (int32_t i = 0; i < npart; i++) {
            rows[i] = assign + (size_t)i * (size_t)rf;
            counts[i] = rf;
        }
        rn_md_record rec = {.type = RN_MD_CREATE_TOPIC, .topic = RN_OFFSETS_TOPIC,
                            .npart = npart, .assignments = rows, .nreplicas = counts};
        if (getrandom(rec.topic_id, sizeof rec.topic_id, 0) != (ssize_t)sizeof rec.topic_id)
            rec.topic_id[0] ^= 1; /* never happens for 16 bytes; the id is still unique enough */
        if (propose_flagged(c, &rec, 1, &c->offsets_topic_proposed, "creating __consumer_offsets"))
            rn_log_info("controller: creating %s (%d partitions, replication factor %d)",
                        RN_OFFSETS_TOPIC, npart, rf);
    }
    free(rows);
    free(counts);
    free(assign);
}

/* unclean.leader.election.enable: a partition whose in-sync replicas are all fenced gets
 * the first unfenced replica as leader and sole ISR member. It may lack acknowledged
 * records: that is the trade the setting makes (availability over durability). */
static void elect_unclean(rn_cluster *c) {
    enum { MAX_ELECT = 64 };
    rn_md_record recs[MAX_ELECT];
    int32_t leaders[MAX_ELECT];
    char *names[MAX_ELECT];
    int n = 0;
    rn_md_read_lock(c->md);
    int nt;
    const rn_md_topic *ts = rn_md_topics(c->md, &nt);
    for (int t = 0; t < nt && n < MAX_ELECT; t++)
        for (int i = 0; i < ts[t].npart && n < MAX_ELECT; i++) {
            const rn_md_partition *mp = &ts[t].parts[i];
            if (mp->leader != RN_MD_NO_LEADER) continue;
            int32_t pick = -1;
            for (int r = 0; r < mp->nreplicas && pick < 0; r++) {
                const rn_md_broker *b = rn_md_broker(c->md, mp->replicas[r]);
                if (b && !b->fenced) pick = mp->replicas[r];
            }
            if (pick < 0 || !(names[n] = strdup(ts[t].name))) continue;
            leaders[n] = pick;
            recs[n] = (rn_md_record){.type = RN_MD_PARTITION_CHANGE, .topic = names[n],
                                     .partition = mp->index,
                                     .expect_partition_epoch = mp->partition_epoch,
                                     .set_isr = true, .isr = &leaders[n], .nisr = 1,
                                     .set_leader = true, .leader = pick};
            rn_log_warn("controller: unclean leader election: %s-%d is led by broker %d, which "
                        "was not in sync and may lack acknowledged records",
                        ts[t].name, mp->index, pick);
            n++;
        }
    rn_md_read_unlock(c->md);
    if (n > 0) propose_flagged(c, recs, n, &c->unclean_proposed, "an unclean leader election");
    for (int i = 0; i < n; i++) free(names[i]);
}

/* The first controller gives the cluster its id: the one its own data dir made. */
static void set_cluster_id(rn_cluster *c) {
    rn_md_read_lock(c->md);
    bool set = rn_md_cluster_id(c->md)[0] != 0;
    rn_md_read_unlock(c->md);
    if (set) return;
    rn_md_record rec = {.type = RN_MD_SET_CLUSTER_ID, .topic = rn_engine_cluster_id(c->o.engine)};
    propose_flagged(c, &rec, 1, &c->cluster_id_proposed, "setting the cluster id");
}

void rn_controller_tick(rn_cluster *c, int64_t now) {
    set_cluster_id(c);
    fence_silent(c, now);
    finish_reassignments(c);
    if (c->o.unclean_leader_election) elect_unclean(c);
    create_offsets_topic(c);
}
