/* net/cluster.c: the broker agent (cluster.h): starts the quorum member, registers and
 * heartbeats to the active controller over the Kafka protocol, and makes the local
 * engine follow the metadata image: every topic exists locally with the image's id,
 * partitions this broker leads are led at the image's leader epoch with its ISR,
 * partitions it follows are fetched from their leader (net/replica_fetcher.c), and the
 * rest are not served. A leader proposes ISR changes (AlterPartition) as its followers
 * fall behind or catch up.
 *
 * Invariant: the local engine never runs ahead of the image. Until this broker has
 * registered and applied the log up to its own registration, it serves no partition
 * (after a restart the image may still be replaying, and an incomplete image must not
 * delete or lead anything). */
#include <event2/event.h>
#include <event2/thread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "api.h"
#include "batch.h"
#include "cluster_internal.h"
#include "codec.h"
#include "rnlog.h"

#define TICK_MS 100
#define ISR_CHECK_MS 500

enum { API_METADATA = 3, API_ALTER_PARTITION = 56, API_ENVELOPE = 58, API_BROKER_REGISTRATION = 62,
       API_BROKER_HEARTBEAT = 63 };

/* ---- accessors ---------------------------------------------------------------------- */

int32_t rn_cluster_node_id(const rn_cluster *c) { return c->o.node_id; }
rn_metadata *rn_cluster_metadata(rn_cluster *c) { return c->md; }

bool rn_cluster_ready(rn_cluster *c, char *why, size_t whylen) {
    if (atomic_load(&c->broker_epoch) < 0) {
        snprintf(why, whylen, "not registered with the controller yet");
        return false;
    }
    if (!atomic_load(&c->caught_up)) {
        snprintf(why, whylen, "following the metadata log up to this broker's registration");
        return false;
    }
    return true;
}
int32_t rn_cluster_controller_id(rn_cluster *c) {
    int32_t leader = rn_quorum_leader(c->q);
    /* No quorum leader known (a majority of voters down, or an election): -1, so clients
     * wait for one and ask Metadata again. Naming this broker instead made librdkafka keep
     * it as the controller after the quorum came back, and CreateTopics answered
     * NOT_CONTROLLER until the client's next periodic refresh (minutes). */
    return leader >= 0 ? leader : c->learned_controller;
}

const char *rn_cluster_not_controller_message(rn_cluster *c, char *buf, size_t len) {
    int32_t leader = rn_quorum_leader(c->q);
    if (leader >= 0)
        snprintf(buf, len, "broker %d is not the active controller; broker %d is", c->o.node_id,
                 leader);
    else
        snprintf(buf, len,
                 "no active controller: the metadata quorum has no leader (a majority of "
                 "controller.quorum.voters %s is not reachable); metadata changes wait for it",
                 c->voters);
    return buf;
}
bool rn_cluster_is_controller(rn_cluster *c) { return rn_quorum_is_leader(c->q); }
const char *rn_cluster_id(rn_cluster *c, char buf[RN_MD_CLUSTER_ID_MAX + 1]) {
    rn_md_read_lock(c->md);
    snprintf(buf, RN_MD_CLUSTER_ID_MAX + 1, "%s", rn_md_cluster_id(c->md));
    rn_md_read_unlock(c->md);
    if (!buf[0]) snprintf(buf, RN_MD_CLUSTER_ID_MAX + 1, "%s", rn_engine_cluster_id(c->o.engine));
    return buf;
}

int32_t rn_cluster_default_replication_factor(const rn_cluster *c) {
    return c->o.default_replication_factor;
}
int32_t rn_cluster_min_insync_replicas(const rn_cluster *c) { return c->o.min_insync_replicas; }

void rn_cluster_propose(rn_cluster *c, const rn_md_record *records, int n, int timeout_ms,
                        rn_cluster_done done, void *ctx) {
    size_t len;
    uint8_t *entry = rn_md_encode(records, n, &len);
    if (!entry) {
        done(ctx, RN_ERR_NOMEM, "out of memory encoding a metadata entry");
        return;
    }
    rn_quorum_propose(c->q, entry, len, timeout_ms, done, ctx);
    free(entry);
}

rn_err rn_cluster_leader_of(rn_cluster *c, const char *topic, int32_t index, int32_t *leader,
                            char host[256], int *port) {
    rn_md_read_lock(c->md);
    const rn_md_partition *mp = rn_md_partition_get(c->md, topic, index);
    rn_err err = RN_KAFKA_UNKNOWN_TOPIC_OR_PARTITION;
    if (mp) {
        const rn_md_broker *b = mp->leader >= 0 ? rn_md_broker(c->md, mp->leader) : NULL;
        err = b ? RN_KAFKA_NONE : RN_KAFKA_LEADER_NOT_AVAILABLE;
        *leader = mp->leader;
        if (b) {
            snprintf(host, 256, "%s", b->host);
            *port = b->port;
        }
    }
    rn_md_read_unlock(c->md);
    return err;
}

rn_err rn_cluster_serve_check(rn_cluster *c, rn_partition *p, const char *topic, int32_t index) {
    if (p) {
        rn_partition_replication rep;
        rn_partition_replication_get(p, &rep);
        if (rep.role == RN_ROLE_LEADER) return RN_KAFKA_NONE;
    }
    rn_md_read_lock(c->md);
    bool known = rn_md_partition_get(c->md, topic, index) != NULL;
    rn_md_read_unlock(c->md);
    return known ? RN_KAFKA_NOT_LEADER_OR_FOLLOWER : RN_KAFKA_UNKNOWN_TOPIC_OR_PARTITION;
}

/* Kafka's partitionFor(groupId): abs(groupId.hashCode()) % partitions, with Java's
 * String.hashCode over UTF-16 units (ASCII group ids: over the bytes). */
static int32_t offsets_partition_for(const char *group, int32_t npart) {
    int32_t h = 0;
    for (const unsigned char *s = (const unsigned char *)group; *s; s++)
        h = (int32_t)(31u * (uint32_t)h + *s);
    int32_t a = h == INT32_MIN ? 0 : (h < 0 ? -h : h);
    return a % npart;
}

rn_err rn_cluster_coordinator_here(rn_cluster *c, const char *group) {
    int32_t node;
    char host[256];
    int port;
    rn_err err = rn_cluster_coordinator_of(c, group, &node, host, &port);
    if (err) return err;
    if (node != c->o.node_id) return RN_KAFKA_NOT_COORDINATOR;
    rn_md_read_lock(c->md);
    const rn_md_topic *t = rn_md_topic(c->md, RN_OFFSETS_TOPIC);
    int32_t index = t ? offsets_partition_for(group, t->npart) : -1;
    rn_md_read_unlock(c->md);
    rn_partition *p = index >= 0 ? rn_engine_partition(c->o.engine, RN_OFFSETS_TOPIC, index, &err) : NULL;
    rn_partition_replication rep;
    if (p) rn_partition_replication_get(p, &rep);
    /* The image names this broker, but the agent has not taken the lead (and loaded the
     * commits) yet: the client retries. */
    return p && rep.role == RN_ROLE_LEADER ? RN_KAFKA_NONE : RN_KAFKA_COORDINATOR_LOAD_IN_PROGRESS;
}

rn_err rn_cluster_coordinator_of(rn_cluster *c, const char *group, int32_t *node,
                                 char host[256], int *port) {
    rn_md_read_lock(c->md);
    const rn_md_topic *t = rn_md_topic(c->md, RN_OFFSETS_TOPIC);
    int32_t index = t && t->npart > 0 ? offsets_partition_for(group, t->npart) : -1;
    rn_md_read_unlock(c->md);
    if (index < 0) return RN_KAFKA_COORDINATOR_NOT_AVAILABLE;
    rn_err err = rn_cluster_leader_of(c, RN_OFFSETS_TOPIC, index, node, host, port);
    return err ? RN_KAFKA_COORDINATOR_NOT_AVAILABLE : RN_KAFKA_NONE;
}

/* The __consumer_offsets partition that holds group's commits and record, when this
 * broker leads it (NULL otherwise: the coordinator moved, or is not loaded yet). */
static rn_partition *offsets_partition_led(rn_cluster *c, const char *group) {
    rn_md_read_lock(c->md);
    const rn_md_topic *t = rn_md_topic(c->md, RN_OFFSETS_TOPIC);
    int32_t index = t && t->npart > 0 ? offsets_partition_for(group, t->npart) : -1;
    rn_md_read_unlock(c->md);
    rn_err err;
    rn_partition *p = index >= 0 ? rn_engine_partition(c->o.engine, RN_OFFSETS_TOPIC, index, &err)
                                 : NULL;
    rn_partition_replication rep;
    if (p) rn_partition_replication_get(p, &rep);
    return p && rep.role == RN_ROLE_LEADER ? p : NULL;
}

/* Append records to p as one batch (cap bounds its size). Not awaited: what they say is
 * durable in this coordinator's store already; this copy is for the next coordinator,
 * and reaches the followers within a fetch. */
static rn_err offsets_append(rn_partition *p, const char *group, const rn_record *recs, int n,
                             size_t cap, int64_t *end) {
    uint8_t *batch = malloc(cap);
    size_t len = batch && n > 0 ? rn_batch_build(batch, cap, 0, recs, n, -1, -1, -1) : 0;
    rn_append_result res;
    rn_err err = len == 0 && n > 0 ? RN_ERR_NOMEM : RN_KAFKA_NONE;
    if (len > 0 && (err = rn_partition_append_nowait(p, batch, len, &res)) == 0 && end)
        *end = res.log_end_offset;
    if (err) rn_log_warn("cluster: group %s: not replicated: %s", group, rn_err_name(err));
    free(batch);
    return err;
}

static int64_t wall_ms(void) {
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

rn_err rn_cluster_replicate_commits(rn_cluster *c, const char *group,
                                    const rn_offset_commit *entries, int n, rn_partition **part,
                                    int64_t *end) {
    *part = NULL;
    rn_partition *p = n > 0 ? offsets_partition_led(c, group) : NULL;
    if (n > 0 && !p) return RN_KAFKA_NOT_COORDINATOR; /* the lead moved since the checks */
    if (!p) return RN_KAFKA_NONE;
    rn_err err = RN_ERR_NOMEM;
    size_t glen = strlen(group), cap = 256;
    for (int i = 0; i < n; i++)
        cap += 64 + glen + strlen(entries[i].topic) +
               (entries[i].metadata ? strlen(entries[i].metadata) : 0);
    rn_record *recs = calloc((size_t)n, sizeof *recs);
    uint8_t *keys = malloc(cap);
    if (!recs || !keys) goto out;
    int64_t ts = wall_ms();
    uint8_t *at = keys;
    int nrec = 0;
    for (int i = 0; i < n; i++) {
        const rn_offset_commit *e = &entries[i];
        if (e->error) continue;
        size_t tlen = strlen(e->topic), mlen = e->metadata ? strlen(e->metadata) : 0;
        uint8_t *key = at;
        *at++ = 'o';
        *at++ = 0;
        memcpy(at, group, glen + 1);
        at += glen + 1;
        memcpy(at, e->topic, tlen + 1);
        at += tlen + 1;
        rn_put_be32(at, (uint32_t)e->partition);
        at += 4;
        uint8_t *value = at;
        for (int b = 7; b >= 0; b--) *at++ = (uint8_t)((uint64_t)e->offset >> (8 * b));
        rn_put_be32(at, (uint32_t)e->leader_epoch);
        at += 4;
        memcpy(at, e->metadata ? e->metadata : "", mlen);
        at += mlen;
        recs[nrec++] = (rn_record){.timestamp = ts, .key = key, .key_len = (int32_t)(value - key),
                                   .value = value, .value_len = (int32_t)(at - value)};
    }
    err = nrec ? offsets_append(p, group, recs, nrec, cap * 2, end) : RN_KAFKA_NONE;
    if (!err && nrec) *part = p;
out:
    free(recs);
    free(keys);
    return err;
}

/* A group record (group_store.h's encoding) or a group's deletion, queued by the
 * coordinator for __consumer_offsets:
 *   key   = "g" 0 | group          value = the record, or null: deleted with its offsets */
typedef struct rn_group_change {
    struct rn_group_change *next;
    uint8_t *record; /* NULL: deleted */
    size_t len;
    char group[];
} rn_group_change;

/* The coordinator's observer: under its lock, so only a copy and a wake-up here. */
static void group_changed(void *ctx, const char *group, const uint8_t *record, size_t len) {
    rn_cluster *c = ctx;
    size_t glen = strlen(group);
    rn_group_change *ch = malloc(sizeof *ch + glen + 1);
    uint8_t *copy = record ? malloc(len ? len : 1) : NULL;
    if (!ch || (record && !copy)) {
        free(ch);
        free(copy);
        rn_log_warn("cluster: group %s: not replicated: out of memory", group);
        return;
    }
    if (record) memcpy(copy, record, len);
    *ch = (rn_group_change){.record = copy, .len = len};
    memcpy(ch->group, group, glen + 1);
    pthread_mutex_lock(&c->queue_lock);
    *c->changes_tail = ch;
    c->changes_tail = &ch->next;
    pthread_mutex_unlock(&c->queue_lock);
    event_active(c->groups_ev, EV_READ, 0);
}

static rn_group_change *take_group_changes(rn_cluster *c) {
    pthread_mutex_lock(&c->queue_lock);
    rn_group_change *all = c->changes;
    c->changes = NULL;
    c->changes_tail = &c->changes;
    pthread_mutex_unlock(&c->queue_lock);
    return all;
}

static void group_changes_cb(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    rn_cluster *c = arg;
    for (rn_group_change *ch = take_group_changes(c), *next; ch; ch = next) {
        next = ch->next;
        rn_partition *p = offsets_partition_led(c, ch->group);
        size_t glen = strlen(ch->group);
        uint8_t *key = malloc(2 + glen);
        if (p && key) {
            key[0] = 'g';
            key[1] = 0;
            memcpy(key + 2, ch->group, glen);
            rn_record rec = {.timestamp = wall_ms(), .key = key, .key_len = (int32_t)(2 + glen),
                             .value = ch->record,
                             .value_len = ch->record ? (int32_t)ch->len : -1};
            offsets_append(p, ch->group, &rec, 1, 2 * (ch->len + glen) + 256, NULL);
        }
        free(key);
        free(ch->record);
        free(ch);
    }
}

/* ---- talking to the controller ------------------------------------------------------- */

/* The controller's Kafka endpoint: this broker, the quorum leader as the image knows it,
 * or the one a bootstrap broker named. */
static bool controller_endpoint(rn_cluster *c, int32_t *id, char host[256], int *port) {
    int32_t leader = rn_quorum_leader(c->q);
    if (leader == c->o.node_id) {
        *id = leader;
        snprintf(host, 256, "%s", c->host);
        *port = c->o.port;
        return true;
    }
    if (leader >= 0) {
        rn_md_read_lock(c->md);
        const rn_md_broker *b = rn_md_broker(c->md, leader);
        if (b) {
            *id = leader;
            snprintf(host, 256, "%s", b->host);
            *port = b->port;
        }
        rn_md_read_unlock(c->md);
        if (b) return true;
    }
    if (c->learned_controller >= 0 && c->learned_port > 0) {
        *id = c->learned_controller;
        snprintf(host, 256, "%s", c->learned_host);
        *port = c->learned_port;
        return true;
    }
    return false;
}

/* A connection to the controller in *slot (made again when the controller moved). */
static rn_peer *peer_to_controller(rn_cluster *c, rn_peer **slot, int32_t *slot_id) {
    int32_t id;
    char host[256];
    int port;
    if (!controller_endpoint(c, &id, host, &port)) return NULL;
    if (*slot && (*slot_id != id || strcmp(rn_peer_host(*slot), host) != 0 ||
                  rn_peer_port(*slot) != port)) {
        rn_peer_free(*slot);
        *slot = NULL;
    }
    if (!*slot) {
        *slot = rn_peer_new(c->base, c->o.node_id, host, port);
        *slot_id = id;
    }
    return *slot;
}

/* The agent's own RPCs (registration, heartbeats, ISR changes). */
static rn_peer *controller_peer(rn_cluster *c) {
    return peer_to_controller(c, &c->controller_peer, &c->controller_peer_id);
}

/* ---- forwarding admin requests to the controller (net/forward.c) ----------------------- */

typedef struct rn_forward_job {
    struct rn_forward_job *next;
    rn_cluster_forwarded done;
    void *ctx;
    size_t len;
    uint8_t body[];
} rn_forward_job;

int rn_cluster_forward(rn_cluster *c, const uint8_t *body, size_t len, rn_cluster_forwarded done,
                       void *ctx) {
    rn_forward_job *j = malloc(sizeof *j + len);
    if (!j) return -1;
    *j = (rn_forward_job){.done = done, .ctx = ctx, .len = len};
    memcpy(j->body, body, len);
    pthread_mutex_lock(&c->queue_lock);
    *c->forwards_tail = j;
    c->forwards_tail = &j->next;
    pthread_mutex_unlock(&c->queue_lock);
    event_active(c->forward_ev, EV_READ, 0);
    return 0;
}

static void forward_answered(void *ctx, rn_err err, rn_reader *r) {
    rn_forward_job *j = ctx;
    rn_bytes data = {0};
    int16_t code = 0;
    if (!err && (rn_read_bytes(r, &data) || rn_read_i16(r, &code) || rn_read_tags(r)))
        err = RN_KAFKA_CORRUPT_MESSAGE;
    if (!err && code) err = (rn_err)code;
    if (!err && (!data.ptr || data.len < 4)) err = RN_KAFKA_CORRUPT_MESSAGE;
    j->done(j->ctx, err, err ? NULL : data.ptr, err ? 0 : (size_t)data.len);
    free(j);
}

static rn_forward_job *take_forwards(rn_cluster *c) {
    pthread_mutex_lock(&c->queue_lock);
    rn_forward_job *j = c->forwards;
    c->forwards = NULL;
    c->forwards_tail = &c->forwards;
    pthread_mutex_unlock(&c->queue_lock);
    return j;
}

static void forwards_fail(rn_cluster *c) {
    for (rn_forward_job *j = take_forwards(c), *next; j; j = next) {
        next = j->next;
        j->done(j->ctx, RN_KAFKA_NOT_CONTROLLER, NULL, 0);
        free(j);
    }
}

/* Envelopes go on a connection of their own: an admin request may take seconds, and the
 * controller answers a connection's requests in order (heartbeats must not wait). */
static void forward_cb(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    rn_cluster *c = arg;
    for (rn_forward_job *j = take_forwards(c), *next; j; j = next) {
        next = j->next;
        rn_peer *p = peer_to_controller(c, &c->forward_peer, &c->forward_peer_id);
        if (!p || rn_peer_send(p, API_ENVELOPE, 0, j->body, j->len, 30000, forward_answered, j) != 0) {
            j->done(j->ctx, RN_KAFKA_NOT_CONTROLLER, NULL, 0);
            free(j);
        }
    }
}

/* Send an encoded request (w is freed here) and mark *in_flight until its answer. */
static void rpc_send(rn_cluster *c, rn_peer *p, int16_t key, int16_t version, rn_writer *w,
                     int timeout_ms, rn_peer_cb answered, bool *in_flight) {
    if (rn_peer_send(p, key, version, w->buf, w->len, timeout_ms, answered, c) == 0)
        *in_flight = true;
    rn_writer_free(w);
}

/* Metadata v1 from a bootstrap broker: who the controller is and where. */
static void bootstrap_answered(void *ctx, rn_err err, rn_reader *r) {
    rn_cluster *c = ctx;
    c->rpc_in_flight = false;
    if (err) return;
    int32_t nbrokers, controller = -1;
    struct {
        int32_t id, port;
        rn_bytes host;
    } found = {-1, 0, {0}};
    if (rn_read_array_len(r, &nbrokers, 10) != 0) return;
    int32_t ids[RN_CLUSTER_MAX_BROKERS];
    rn_bytes hosts[RN_CLUSTER_MAX_BROKERS];
    int32_t ports[RN_CLUSTER_MAX_BROKERS];
    int n = 0;
    for (int32_t i = 0; i < nbrokers; i++) {
        int32_t id, port;
        rn_bytes host, rack;
        if (rn_read_i32(r, &id) || rn_read_string(r, &host) || rn_read_i32(r, &port) ||
            rn_read_string(r, &rack))
            return;
        if (n < RN_CLUSTER_MAX_BROKERS) {
            ids[n] = id;
            hosts[n] = host;
            ports[n++] = port;
        }
    }
    if (rn_read_i32(r, &controller) != 0) return;
    for (int i = 0; i < n; i++)
        if (ids[i] == controller) {
            found.id = ids[i];
            found.port = ports[i];
            found.host = hosts[i];
        }
    if (found.id < 0 || found.host.len < 0 || found.host.len >= 256) return;
    c->learned_controller = found.id;
    memcpy(c->learned_host, found.host.ptr, (size_t)found.host.len);
    c->learned_host[found.host.len] = 0;
    c->learned_port = found.port;
}

static void ask_bootstrap(rn_cluster *c) {
    if (!c->bootstrap[0]) return;
    /* The next host:port of the list, round robin. */
    int count = 1;
    for (const char *s = c->bootstrap; *s; s++) count += *s == ',';
    int pick = c->bootstrap_next++ % count;
    const char *s = c->bootstrap;
    for (int i = 0; i < pick; i++) s = strchr(s, ',') + 1;
    char hostport[300];
    size_t len = strcspn(s, ",");
    if (len >= sizeof hostport) return;
    memcpy(hostport, s, len);
    hostport[len] = 0;
    char *colon = strrchr(hostport, ':');
    if (!colon) return;
    *colon = 0;
    rn_peer_free(c->bootstrap_peer);
    c->bootstrap_peer = rn_peer_new(c->base, c->o.node_id, hostport, atoi(colon + 1));
    if (!c->bootstrap_peer) return;
    rn_writer w;
    rn_writer_init(&w, 16, false);
    rn_write_i32(&w, 0); /* topics: none, only brokers and the controller */
    rpc_send(c, c->bootstrap_peer, API_METADATA, 1, &w, 2000, bootstrap_answered,
             &c->rpc_in_flight);
}

static void registration_answered(void *ctx, rn_err err, rn_reader *r) {
    rn_cluster *c = ctx;
    c->rpc_in_flight = false;
    if (err) return;
    int32_t throttle;
    int16_t code;
    int64_t epoch;
    if (rn_read_i32(r, &throttle) || rn_read_i16(r, &code) || rn_read_i64(r, &epoch)) return;
    if (code) {
        rn_log_warn("cluster: registration refused by the controller: %s",
                    rn_err_name((rn_err)code));
        return;
    }
    atomic_store(&c->broker_epoch, epoch);
    rn_log_info("cluster: registered as broker %d (epoch %lld)", c->o.node_id, (long long)epoch);
}

static void send_registration(rn_cluster *c, rn_peer *p) {
    rn_writer w;
    rn_writer_init(&w, 256, true);
    rn_write_i32(&w, c->o.node_id);
    rn_write_string(&w, "runnel"); /* cluster id: the image's own is later work */
    uint8_t incarnation[16] = {0};
    if (getrandom(incarnation, sizeof incarnation, 0) < 0) incarnation[0] = 1;
    rn_write_uuid(&w, incarnation);
    /* Listeners: the Kafka one, and the Raft address as CONTROLLER. */
    char raft_host[256] = "";
    int raft_port = 0;
    const char *raft = c->raft_listener;
    if (raft && *raft) {
        const char *colon = strrchr(raft, ':');
        if (colon && (size_t)(colon - raft) < sizeof raft_host) {
            memcpy(raft_host, raft, (size_t)(colon - raft));
            raft_host[colon - raft] = 0;
            raft_port = atoi(colon + 1);
        }
    }
    rn_write_array_len(&w, raft_port > 0 ? 2 : 1);
    rn_write_string(&w, "PLAINTEXT");
    rn_write_string(&w, c->host);
    rn_write_i16(&w, (int16_t)(uint16_t)c->o.port);
    rn_write_i16(&w, 0);
    rn_write_tags(&w);
    if (raft_port > 0) {
        rn_write_string(&w, "CONTROLLER");
        rn_write_string(&w, raft_host);
        rn_write_i16(&w, (int16_t)(uint16_t)raft_port);
        rn_write_i16(&w, 0);
        rn_write_tags(&w);
    }
    rn_write_array_len(&w, 0);           /* features */
    rn_write_string_n(&w, NULL, -1);     /* rack */
    rn_write_tags(&w);
    rpc_send(c, p, API_BROKER_REGISTRATION, 0, &w, 6000, registration_answered,
             &c->rpc_in_flight);
}

static void controller_rpcs(rn_cluster *c, int64_t now);

/* The engine follows a newer image than the controller last heard: say so now, not at
 * the next heartbeat, since an admin change is answered once every live broker follows
 * it (rn_cluster_applied_everywhere). */
static void report_progress(rn_cluster *c) {
    if (atomic_load(&c->broker_epoch) < 0 || atomic_load(&c->reconciled_index) <= c->reported_index)
        return;
    c->next_heartbeat_ms = 0;
    controller_rpcs(c, rn_cluster_now_ms());
}

static void heartbeat_answered(void *ctx, rn_err err, rn_reader *r) {
    rn_cluster *c = ctx;
    c->rpc_in_flight = false;
    if (err) return;
    report_progress(c);
    int32_t throttle;
    int16_t code;
    if (rn_read_i32(r, &throttle) || rn_read_i16(r, &code)) return;
    if (code == RN_KAFKA_STALE_BROKER_EPOCH || code == RN_KAFKA_BROKER_NOT_AVAILABLE) {
        rn_log_warn("cluster: the controller does not know this broker's epoch (%s): "
                    "registering again", rn_err_name((rn_err)code));
        atomic_store(&c->broker_epoch, -1);
        atomic_store(&c->caught_up, false);
    }
}

static void send_heartbeat(rn_cluster *c, rn_peer *p) {
    rn_writer w;
    rn_writer_init(&w, 64, true);
    rn_write_i32(&w, c->o.node_id);
    rn_write_i64(&w, atomic_load(&c->broker_epoch));
    c->reported_index = atomic_load(&c->reconciled_index);
    rn_write_i64(&w, (int64_t)c->reported_index); /* current_metadata_offset */
    rn_write_bool(&w, false); /* want_fence */
    rn_write_bool(&w, false); /* want_shut_down */
    rn_write_tags(&w);
    rpc_send(c, p, API_BROKER_HEARTBEAT, 0, &w, 3000, heartbeat_answered, &c->rpc_in_flight);
}

static void controller_rpcs(rn_cluster *c, int64_t now) {
    if (c->rpc_in_flight || now < c->next_heartbeat_ms) return;
    bool registered = atomic_load(&c->broker_epoch) >= 0;
    c->next_heartbeat_ms = now + (registered ? c->o.heartbeat_interval_ms : 250);
    rn_peer *p = controller_peer(c);
    if (!p) {
        ask_bootstrap(c);
        return;
    }
    if (registered)
        send_heartbeat(c, p);
    else
        send_registration(c, p);
}

/* ---- ISR changes (leader side) -------------------------------------------------------- */

static void alter_answered(void *ctx, rn_err err, rn_reader *r) {
    rn_cluster *c = ctx;
    c->alter_in_flight = false;
    if (err) return;
    int32_t throttle;
    int16_t code;
    if (rn_read_i32(r, &throttle) || rn_read_i16(r, &code)) return;
    if (code) rn_log_warn("cluster: AlterPartition refused: %s", rn_err_name((rn_err)code));
}

/* Propose the ISR each led partition should have now, in one AlterPartition. */
static void check_isr(rn_cluster *c, int64_t now) {
    if (c->alter_in_flight || now < c->next_isr_check_ms) return;
    c->next_isr_check_ms = now + ISR_CHECK_MS;
    int64_t epoch = atomic_load(&c->broker_epoch);
    if (epoch < 0) return;
    rn_writer w;
    rn_writer_init(&w, 256, true);
    rn_write_i32(&w, c->o.node_id);
    rn_write_i64(&w, epoch);
    size_t ntopics_at = w.len;
    rn_write_i8(&w, 0); /* compact array count, patched below (kept under 127) */
    int ntopics = 0, nchanges = 0;
    rn_md_read_lock(c->md);
    int nt;
    const rn_md_topic *ts = rn_md_topics(c->md, &nt);
    for (int t = 0; t < nt && ntopics < 126; t++) {
        size_t nparts_at = 0;
        int nparts = 0;
        for (int i = 0; i < ts[t].npart && nparts < 126; i++) {
            const rn_md_partition *mp = &ts[t].parts[i];
            if (mp->leader != c->o.node_id) continue;
            rn_err perr;
            rn_partition *p = rn_engine_partition(c->o.engine, ts[t].name, i, &perr);
            if (!p) continue;
            rn_partition_replication rep;
            rn_partition_replication_get(p, &rep);
            if (rep.role != RN_ROLE_LEADER || rep.leader_epoch != mp->leader_epoch) continue;
            int32_t isr[16];
            int n = rn_partition_isr_proposal(p, now, c->o.replica_lag_time_max_ms, isr);
            if (n <= 0) continue;
            if (nparts == 0) {
                rn_write_string(&w, ts[t].name);
                nparts_at = w.len;
                rn_write_i8(&w, 0);
            }
            rn_write_i32(&w, i);
            rn_write_i32(&w, mp->leader_epoch);
            rn_write_array_len(&w, n);
            for (int k = 0; k < n; k++) rn_write_i32(&w, isr[k]);
            rn_write_i32(&w, mp->partition_epoch);
            rn_write_tags(&w);
            nparts++;
            nchanges++;
            rn_log_info("cluster: %s-%d: proposing an ISR of %d replicas (was %d)", ts[t].name,
                        i, n, mp->nisr);
        }
        if (nparts > 0) {
            w.buf[nparts_at] = (uint8_t)(nparts + 1);
            rn_write_tags(&w);
            ntopics++;
        }
    }
    rn_md_read_unlock(c->md);
    w.buf[ntopics_at] = (uint8_t)(ntopics + 1);
    rn_write_tags(&w);
    rn_peer *p = nchanges ? controller_peer(c) : NULL;
    if (p)
        rpc_send(c, p, API_ALTER_PARTITION, 0, &w, 5000, alter_answered, &c->alter_in_flight);
    else
        rn_writer_free(&w);
}

/* ---- following the image -------------------------------------------------------------- */

/* A replicated commit in __consumer_offsets:
 *   key   = "o" 0 | group | 0 | topic | 0 | partition BE32
 *   value = offset BE64 | leader_epoch BE32 | metadata (rest) */
typedef struct {
    rn_coordinator *coord;
    int64_t loaded, groups;
    int64_t next; /* the offset after the last batch seen */
} offsets_load;

/* A group record: the group as its last coordinator left it (or deleted). */
static void load_group(offsets_load *ol, const rn_record *rec) {
    size_t glen = (size_t)rec->key_len - 2;
    if (memchr(rec->key + 2, 0, glen)) return;
    char *group = strndup((const char *)rec->key + 2, glen);
    if (!group) return;
    rn_err err = rn_coordinator_restore_group(ol->coord, group, rec->value,
                                              rec->value ? (size_t)rec->value_len : 0);
    if (err)
        rn_log_warn("cluster: group %s: its record from %s not loaded: %s", group,
                    RN_OFFSETS_TOPIC, rn_err_name(err));
    else
        ol->groups++;
    free(group);
}

static int offsets_sink(void *ctx, const uint8_t *batch, size_t len) {
    offsets_load *ol = ctx;
    rn_batch_header h;
    if (rn_batch_header_parse(batch, len, &h) != 0) return 1;
    ol->next = h.base_offset + h.last_offset_delta + 1;
    rn_batch_records *it;
    if (rn_batch_records_open(batch, len, RN_BATCH_MAX_DECOMPRESSED, &it) != 0) return 0;
    rn_record rec;
    while (rn_batch_records_next(it, &rec) == 1) {
        if (rec.key_len > 2 && rec.key && rec.key[0] == 'g' && rec.key[1] == 0) {
            load_group(ol, &rec);
            continue;
        }
        if (rec.key_len < 8 || !rec.key || rec.key[0] != 'o' || rec.value_len < 12) continue;
        const char *group = (const char *)rec.key + 2;
        size_t glen = strnlen(group, (size_t)rec.key_len - 2);
        const char *topic = group + glen + 1;
        if ((const uint8_t *)topic + 4 > rec.key + rec.key_len) continue;
        size_t tlen = strnlen(topic, (size_t)(rec.key + rec.key_len - (const uint8_t *)topic));
        const uint8_t *pp = (const uint8_t *)topic + tlen + 1;
        if (pp + 4 != rec.key + rec.key_len) continue;
        char *meta = NULL;
        if (rec.value_len > 12) {
            meta = strndup((const char *)rec.value + 12, (size_t)rec.value_len - 12);
            if (!meta) continue;
        }
        rn_offset_commit oc = {.topic = topic,
                               .partition = (int32_t)rn_be32(pp),
                               .offset = (int64_t)rn_be64(rec.value),
                               .leader_epoch = (int32_t)rn_be32(rec.value + 8),
                               .metadata = meta};
        if (rn_coordinator_restore_commits(ol->coord, group, &oc, 1) == RN_KAFKA_NONE &&
            !oc.error)
            ol->loaded++;
        free(meta);
    }
    rn_batch_records_close(it);
    return 0;
}

/* This broker now leads __consumer_offsets-index: load the commits its log holds, so the
 * groups it coordinates from now on keep what their previous coordinator acknowledged. */
static void load_offsets(rn_cluster *c, rn_partition *p, int32_t index) {
    rn_partition_offsets off;
    if (rn_partition_offsets_get(p, &off) != 0) return;
    offsets_load ol = {rn_engine_coordinator(c->o.engine), 0, 0, off.log_start_offset};
    while (ol.next < off.log_end_offset) {
        int64_t at = ol.next;
        size_t bytes = 0;
        if (rn_partition_read_replica(p, at, 1 << 20, offsets_sink, &ol, NULL, &bytes) != 0 ||
            ol.next <= at)
            break;
    }
    rn_log_info("cluster: %s-%d led here: %lld committed offsets and %lld group records loaded",
                RN_OFFSETS_TOPIC, index, (long long)ol.loaded, (long long)ol.groups);
}

static uint64_t configs_hash(const rn_md_topic *t) {
    uint64_t h = 1469598103934665603ull;
    for (int i = 0; i < t->nconfigs; i++) {
        for (const char *s = t->config_names[i]; *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211ull;
        h = (h ^ '=') * 1099511628211ull;
        for (const char *s = t->config_values[i]; *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211ull;
        h = (h ^ ';') * 1099511628211ull;
    }
    return h;
}

static void follow_topic_configs(rn_cluster *c, const rn_md_topic *t) {
    rn_config_alter *ops = calloc((size_t)t->nconfigs + 1, sizeof *ops);
    if (!ops) return;
    for (int i = 0; i < t->nconfigs; i++)
        ops[i] = (rn_config_alter){t->config_names[i], t->config_values[i], RN_CONFIG_SET};
    char msg[256];
    rn_err err = rn_engine_alter_topic_configs(c->o.engine, t->name, ops, t->nconfigs, false,
                                               false, msg, sizeof msg);
    if (err) rn_log_warn("cluster: %s: configs from the image not applied: %s", t->name, msg);
    free(ops);
}

/* Make the local topic t match the image: same id, partition count, configs. */
static void follow_topic(rn_cluster *c, const rn_md_topic *t, const rn_topic_meta *local) {
    rn_engine *e = c->o.engine;
    char msg[256];
    if (local && memcmp(local->topic_id, t->id, 16) != 0) {
        rn_log_info("cluster: %s was recreated elsewhere: dropping the local copy", t->name);
        rn_engine_delete_topic(e, t->name);
        local = NULL;
    }
    if (!local) {
        rn_config_kv *kv = calloc((size_t)t->nconfigs + 1, sizeof *kv);
        if (!kv) return;
        for (int i = 0; i < t->nconfigs; i++) kv[i] = (rn_config_kv){t->config_names[i], t->config_values[i]};
        rn_err err = rn_engine_create_topic_with_id(e, t->name, t->id, t->npart, kv, t->nconfigs,
                                                    msg, sizeof msg);
        free(kv);
        if (err) {
            rn_log_error("cluster: cannot create %s locally: %s", t->name, msg);
            return;
        }
    } else {
        if (local->partition_count < t->npart &&
            rn_engine_create_partitions(e, t->name, t->npart, false, msg, sizeof msg) != 0)
            rn_log_error("cluster: cannot grow %s locally: %s", t->name, msg);
        follow_topic_configs(c, t);
    }
}

/* Give partition p the role the image says. */
static void follow_partition(rn_cluster *c, const rn_md_topic *t, const rn_md_partition *mp,
                             rn_partition *p) {
    int32_t me = c->o.node_id;
    rn_partition_replication rep;
    rn_partition_replication_get(p, &rep);
    bool replica = rn_md_contains(mp->replicas, mp->nreplicas, me);
    if (mp->leader == me) {
        /* Again on every image change: the same epoch keeps what the leader knows of
         * its followers, and the replicas or ISR may have changed (a reassignment). */
        bool was_leader = rep.role == RN_ROLE_LEADER;
        if (!was_leader) rn_replica_fetcher_unfollow(c->fetcher, p);
        /* Commits first, then the role: a coordinator that leads is one that has loaded
         * (rn_cluster_coordinator_here). */
        if (!was_leader && strcmp(t->name, RN_OFFSETS_TOPIC) == 0) load_offsets(c, p, mp->index);
        rn_err err = rn_partition_become_leader(p, mp->leader_epoch, mp->replicas, mp->nreplicas,
                                                mp->isr, mp->nisr);
        if (err) {
            rn_log_error("cluster: %s-%d: cannot lead at epoch %d: %s", t->name, mp->index,
                         mp->leader_epoch, rn_err_name(err));
            return;
        }
    } else if (replica) {
        if (rep.role == RN_ROLE_FOLLOWER && rep.leader_epoch == mp->leader_epoch &&
            rep.leader == mp->leader)
            return;
        rn_err err = rn_partition_become_follower(p, mp->leader_epoch, mp->leader);
        if (err) {
            rn_log_error("cluster: %s-%d: cannot follow at epoch %d: %s", t->name, mp->index,
                         mp->leader_epoch, rn_err_name(err));
            return;
        }
        const rn_md_broker *b = mp->leader >= 0 ? rn_md_broker(c->md, mp->leader) : NULL;
        if (b)
            rn_replica_fetcher_follow(c->fetcher, p, t->name, mp->index, mp->leader, b->host,
                                      b->port, mp->leader_epoch);
        else
            rn_replica_fetcher_unfollow(c->fetcher, p);
    } else if (rep.role != RN_ROLE_NONE) {
        rn_replica_fetcher_unfollow(c->fetcher, p);
        rn_partition_stop_replica(p);
    }
}

static int meta_by_name(const void *a, const void *b) {
    return strcmp(((const rn_topic_meta *)a)->name, ((const rn_topic_meta *)b)->name);
}

/* The configs hash last applied per topic (agent thread only). */
static uint64_t local_configs_hash(rn_cluster *c, const char *name) {
    for (int i = 0; i < c->nhashes; i++)
        if (strcmp(c->hashes[i].name, name) == 0) return c->hashes[i].hash;
    return 0;
}

static void remember_configs_hash(rn_cluster *c, const char *name, uint64_t h) {
    for (int i = 0; i < c->nhashes; i++)
        if (strcmp(c->hashes[i].name, name) == 0) {
            c->hashes[i].hash = h;
            return;
        }
    if (c->nhashes == c->caphashes) {
        int cap = c->caphashes ? c->caphashes * 2 : 16;
        void *v = realloc(c->hashes, sizeof *c->hashes * (size_t)cap);
        if (!v) return;
        c->hashes = v;
        c->caphashes = cap;
    }
    char *copy = strdup(name);
    if (!copy) return;
    c->hashes[c->nhashes].name = copy;
    c->hashes[c->nhashes++].hash = h;
}

static void auto_create_done(void *ctx, rn_err err, const char *msg) {
    (void)ctx;
    if (err && err != RN_KAFKA_TOPIC_ALREADY_EXISTS)
        rn_log_warn("cluster: auto-creating a topic failed: %s%s%s", rn_err_name(err),
                    msg && *msg ? ": " : "", msg ? msg : "");
}

static void reconcile(rn_cluster *c) {
    int64_t epoch = atomic_load(&c->broker_epoch);
    rn_engine *e = c->o.engine;
    rn_topic_meta *locals = NULL;
    int nlocal = 0;
    if (rn_engine_topics(e, NULL, 0, &locals, &nlocal) != 0) return;
    rn_md_read_lock(c->md);
    /* Caught up: the image holds everything up to this broker's own registration. */
    uint64_t index = rn_md_applied_index(c->md);
    if (epoch < 0 || index < (uint64_t)epoch || rn_md_version(c->md) == c->reconciled_version) {
        if (epoch >= 0 && index >= (uint64_t)epoch) atomic_store(&c->reconciled_index, index);
        rn_md_read_unlock(c->md);
        rn_topic_meta_free(locals, nlocal);
        return;
    }
    c->reconciled_version = rn_md_version(c->md);
    if (rn_cluster_follow_access(c) != 0) c->reconciled_version = 0; /* again at the next tick */
    /* Local topics the image no longer has (deleted while this broker was away). */
    for (int i = 0; i < nlocal; i++) {
        if (rn_md_topic(c->md, locals[i].name)) continue;
        for (int32_t k = 0; k < locals[i].partition_count; k++) {
            rn_err perr;
            rn_partition *p = rn_engine_partition(e, locals[i].name, k, &perr);
            if (p) rn_replica_fetcher_unfollow(c->fetcher, p);
        }
        rn_log_info("cluster: %s is gone from the image: deleting the local copy", locals[i].name);
        rn_engine_delete_topic(e, locals[i].name);
    }
    int nt;
    const rn_md_topic *ts = rn_md_topics(c->md, &nt);
    for (int t = 0; t < nt; t++) {
        rn_topic_meta key = {.name = ts[t].name};
        const rn_topic_meta *local = bsearch(&key, locals, (size_t)nlocal, sizeof *locals,
                                             meta_by_name);
        uint64_t h = configs_hash(&ts[t]);
        bool configs_moved = local && h != local_configs_hash(c, ts[t].name);
        if (!local || memcmp(local->topic_id, ts[t].id, 16) != 0 ||
            local->partition_count < ts[t].npart || configs_moved)
            follow_topic(c, &ts[t], local);
        remember_configs_hash(c, ts[t].name, h);
        /* A view's partitions are its source's (rn_engine_partition says so): they follow
         * the source's assignment, never the view's own. */
        bool view = false;
        for (int k = 0; k < ts[t].nconfigs; k++) view |= strcmp(ts[t].config_names[k], "view.of") == 0;
        for (int32_t i = 0; !view && i < ts[t].npart; i++) {
            rn_err perr;
            rn_partition *p = rn_engine_partition(e, ts[t].name, i, &perr);
            if (p) follow_partition(c, &ts[t], &ts[t].parts[i], p);
        }
    }
    rn_md_read_unlock(c->md);
    rn_topic_meta_free(locals, nlocal);
    atomic_store(&c->reconciled_index, index);
    atomic_store(&c->caught_up, true);
}

/* ---- the agent's thread ---------------------------------------------------------------- */

static void tick_cb(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    rn_cluster *c = arg;
    int64_t now = rn_cluster_now_ms();
    bool leader = rn_quorum_is_leader(c->q);
    if (leader && !c->was_leader) rn_controller_reset(c, now);
    c->was_leader = leader;
    if (leader) rn_controller_tick(c, now);
    controller_rpcs(c, now);
    reconcile(c); /* cheap when nothing changed; catches up after registration */
    check_isr(c, now);
}

static void reconcile_cb(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    reconcile(arg);
    report_progress(arg);
}

static void stop_cb(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    rn_cluster *c = arg;
    event_base_loopbreak(c->base);
}

static void *agent_main(void *arg) {
    rn_cluster *c = arg;
    event_base_dispatch(c->base);
    return NULL;
}

/* On the quorum's thread: wake the agent. */
static void quorum_applied(void *ctx, uint64_t index) {
    (void)index;
    rn_cluster *c = ctx;
    event_active(c->reconcile_ev, EV_READ, 0);
}

static void quorum_leadership(void *ctx, bool leader) {
    rn_cluster *c = ctx;
    atomic_store(&c->is_leader, leader);
}

static char *dup_or_empty(const char *s) { return strdup(s ? s : ""); }

typedef struct {
    rn_cluster *c;
    int32_t partitions;
    char topic[256];
} forwarded_create;

static void forwarded_create_answered(void *ctx, rn_err err, rn_reader *r) {
    (void)ctx;
    (void)r;
    if (err) rn_log_warn("cluster: auto-create not forwarded to the controller: %s", rn_err_name(err));
}

/* On the agent's thread: CreateTopics v4 to the controller, with its default replication. */
static void forward_create(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    forwarded_create *f = arg;
    rn_cluster *c = f->c;
    rn_peer *p = controller_peer(c);
    if (p) {
        rn_writer w;
        rn_writer_init(&w, 64, false);
        rn_write_i32(&w, 1);
        rn_write_string(&w, f->topic);
        rn_write_i32(&w, f->partitions);
        rn_write_i16(&w, -1); /* replication_factor: default.replication.factor */
        rn_write_i32(&w, 0);  /* assignments */
        rn_write_i32(&w, 0);  /* configs */
        rn_write_i32(&w, 5000);
        rn_write_bool(&w, false);
        rn_peer_send(p, 19, 4, w.buf, w.len, 6000, forwarded_create_answered, NULL);
        rn_writer_free(&w);
    }
    free(f);
}

void rn_cluster_auto_create(rn_cluster *c, const char *topic, int32_t partitions) {
    if (partitions < 1) partitions = rn_engine_default_partitions(c->o.engine);
    if (!rn_cluster_is_controller(c)) {
        /* Kafka's brokers forward (KIP-590): a client may ask any broker's Metadata. */
        forwarded_create *f = calloc(1, sizeof *f);
        if (!f || strlen(topic) >= sizeof f->topic) {
            free(f);
            return;
        }
        f->c = c;
        f->partitions = partitions;
        memcpy(f->topic, topic, strlen(topic) + 1);
        struct timeval now = {0, 0};
        if (event_base_once(c->base, -1, EV_TIMEOUT, forward_create, f, &now) != 0) free(f);
        return;
    }
    rn_md_read_lock(c->md);
    int nb, up = 0;
    const rn_md_broker *bs = rn_md_brokers(c->md, &nb);
    for (int i = 0; i < nb; i++) up += !bs[i].fenced;
    int rf = c->o.default_replication_factor < up ? c->o.default_replication_factor : up;
    int32_t *assign = rf > 0 && partitions > 0
                          ? malloc(sizeof(int32_t) * (size_t)partitions * (size_t)rf)
                          : NULL;
    rn_err err = assign ? rn_md_assign_replicas(c->md, 0, partitions, rf, assign) : RN_ERR_NOMEM;
    bool exists = rn_md_topic(c->md, topic) != NULL;
    rn_md_read_unlock(c->md);
    const int32_t **rows = assign ? malloc(sizeof *rows * (size_t)partitions) : NULL;
    int *counts = assign ? malloc(sizeof *counts * (size_t)partitions) : NULL;
    if (!err && !exists && rows && counts) {
        for (int32_t i = 0; i < partitions; i++) {
            rows[i] = assign + (size_t)i * (size_t)rf;
            counts[i] = rf;
        }
        rn_md_record rec = {.type = RN_MD_CREATE_TOPIC, .topic = topic, .npart = partitions,
                            .assignments = rows, .nreplicas = counts};
        if (getrandom(rec.topic_id, sizeof rec.topic_id, 0) != (ssize_t)sizeof rec.topic_id)
            rec.topic_id[0] ^= 1;
        rn_cluster_propose(c, &rec, 1, 5000, auto_create_done, NULL);
    }
    free(rows);
    free(counts);
    free(assign);
}

/* What start made, whatever it got to (the thread, the quorum and the peers are the
 * stop's). */
static void cluster_free(rn_cluster *c) {
    if (c->fetcher) rn_replica_fetcher_free(c->fetcher);
    struct event *evs[] = {c->tick_ev, c->stop_ev, c->reconcile_ev, c->groups_ev, c->forward_ev};
    for (size_t i = 0; i < sizeof evs / sizeof evs[0]; i++)
        if (evs[i]) event_free(evs[i]);
    if (c->base) event_base_free(c->base);
    for (rn_group_change *ch = take_group_changes(c), *next; ch; ch = next) {
        next = ch->next;
        free(ch->record);
        free(ch);
    }
    if (c->md) rn_md_free(c->md);
    for (int i = 0; i < c->nhashes; i++) free(c->hashes[i].name);
    free(c->hashes);
    free(c->voters);
    free(c->bootstrap);
    free(c->raft_listener);
    free(c->raft_dir);
    free(c->host);
    pthread_mutex_destroy(&c->hb_lock);
    pthread_mutex_destroy(&c->queue_lock);
    free(c);
}

rn_cluster *rn_cluster_start(const rn_cluster_options *o, char *err, size_t errlen) {
    rn_cluster *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    c->o = *o;
    c->voters = dup_or_empty(o->voters);
    c->bootstrap = dup_or_empty(o->bootstrap);
    c->raft_listener = dup_or_empty(o->raft_listener);
    c->raft_dir = dup_or_empty(o->raft_dir);
    c->host = dup_or_empty(o->host);
    c->o.voters = c->voters;
    c->o.bootstrap = c->bootstrap;
    c->o.raft_listener = c->raft_listener;
    c->o.raft_dir = c->raft_dir;
    c->o.host = c->host;
    c->learned_controller = -1;
    atomic_init(&c->broker_epoch, -1);
    atomic_init(&c->is_leader, false);
    atomic_init(&c->caught_up, false);
    atomic_init(&c->reconciled_index, 0);
    pthread_mutex_init(&c->hb_lock, NULL);
    pthread_mutex_init(&c->queue_lock, NULL);
    c->changes_tail = &c->changes;
    c->forwards_tail = &c->forwards;

    int32_t ids[RN_CLUSTER_MAX_BROKERS];
    char (*addrs)[280] = calloc(RN_CLUSTER_MAX_BROKERS, 280);
    if (!addrs) goto nomem;
    c->nvoters = rn_quorum_parse_voters(c->voters, ids, addrs, RN_CLUSTER_MAX_BROKERS, err, errlen);
    if (c->nvoters < 0) {
        free(addrs);
        goto fail;
    }
    const char *address = NULL;
    for (int i = 0; i < c->nvoters; i++)
        if (ids[i] == o->node_id) address = addrs[i];
    if (!address && !c->raft_listener[0]) {
        snprintf(err, errlen,
                 "node.id %d is not in controller.quorum.voters and controller.quorum.listener "
                 "is not set (a broker that is not a voter needs its own Raft address)",
                 o->node_id);
        free(addrs);
        goto fail;
    }
    if (!address) address = c->raft_listener;
    if (address != c->raft_listener) {
        free(c->raft_listener);
        c->raft_listener = strdup(address); /* registration announces it as CONTROLLER */
        c->o.raft_listener = c->raft_listener;
    }
    free(addrs);
    if (!c->raft_listener) goto nomem;

    c->md = rn_md_new();
    c->base = event_base_new();
    if (!c->md || !c->base) goto nomem;
    c->reconcile_ev = event_new(c->base, -1, 0, reconcile_cb, c);
    c->stop_ev = event_new(c->base, -1, 0, stop_cb, c);
    c->tick_ev = event_new(c->base, -1, EV_PERSIST, tick_cb, c);
    c->groups_ev = event_new(c->base, -1, 0, group_changes_cb, c);
    c->forward_ev = event_new(c->base, -1, 0, forward_cb, c);
    c->fetcher = rn_replica_fetcher_new(c->base, o->node_id, 500);
    if (!c->reconcile_ev || !c->stop_ev || !c->tick_ev || !c->groups_ev || !c->forward_ev ||
        !c->fetcher)
        goto nomem;
    struct timeval tv = {0, TICK_MS * 1000};
    event_add(c->tick_ev, &tv);

    rn_quorum_options qo = {.node_id = o->node_id,
                            .dir = c->raft_dir,
                            .voters = c->voters,
                            .address = c->raft_listener,
                            .election_timeout_ms = o->election_timeout_ms,
                            .md = c->md,
                            .applied = quorum_applied,
                            .leadership = quorum_leadership,
                            .ctx = c};
    c->q = rn_quorum_start(&qo, err, errlen);
    if (!c->q) goto fail;
    if (pthread_create(&c->thread, NULL, agent_main, c) != 0) {
        rn_quorum_stop(c->q);
        c->q = NULL;
        goto nomem;
    }
    rn_coordinator_observe(rn_engine_coordinator(o->engine), group_changed, c);
    rn_log_info("cluster: node %d in a quorum of %d voters (Raft at %s)", o->node_id, c->nvoters,
                c->raft_listener);
    return c;
nomem:
    snprintf(err, errlen, "out of memory starting the cluster agent");
fail:
    cluster_free(c);
    return NULL;
}

void rn_cluster_stop(rn_cluster *c) {
    if (!c) return;
    rn_coordinator_observe(rn_engine_coordinator(c->o.engine), NULL, NULL);
    /* The quorum first: its callbacks wake the agent's loop, which must still exist. */
    rn_quorum_stop(c->q);
    event_active(c->stop_ev, EV_READ, 0);
    pthread_join(c->thread, NULL);
    rn_peer_free(c->controller_peer);
    rn_peer_free(c->forward_peer); /* answers what it still waits for: NETWORK_EXCEPTION */
    rn_peer_free(c->bootstrap_peer);
    forwards_fail(c); /* jobs queued since */
    cluster_free(c);
}
