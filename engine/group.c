/* engine/group.c: the group coordinator's membership state machine (Kafka's classic
 * protocol: JoinGroup, SyncGroup, Heartbeat, LeaveGroup, static membership), its timers
 * and the group registry. Committed offsets are in group_offsets.c.
 *
 * Invariants, all under c->lock:
 * - every waiter attached to a member is answered exactly once: by the rebalance step
 *   that completes it, by an error when its member goes away, or never when cancelled;
 * - a member is awaiting_join only in PreparingRebalance; pending_sync only in
 *   CompletingRebalance or Stable;
 * - groups in Empty or Stable have their record written (what a restart recovers). */
#include "group_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "engine.h"
#include "group_store.h"
#include "rnlog.h"

static const char *const state_names[] = {"Empty", "PreparingRebalance", "CompletingRebalance",
                                          "Stable", "Dead"};

const char *rn_group_state_name(enum rn_group_state s) { return state_names[s]; }

int64_t rn_group_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t rn_group_wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The time deadlines count from: the tick's when inside rn_coordinator_tick (so a test
 * stepping time sees deadlines set during its tick count from that tick), else now. */
static int64_t coordinator_now(const rn_coordinator *c) {
    return c->tick_now ? c->tick_now : rn_group_now_ms();
}

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }
static bool str_eq(const char *a, const char *b) {
    return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

/* ---- registry ---------------------------------------------------------------------- */

static int group_pos(rn_coordinator *c, const char *id, bool *found) {
    int lo = 0, hi = c->ngroups;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        int cmp = strcmp(c->groups[mid]->group_id, id);
        if (cmp == 0) {
            *found = true;
            return mid;
        }
        if (cmp < 0) lo = mid + 1;
        else hi = mid;
    }
    *found = false;
    return lo;
}

rn_group *rn_group_find(rn_coordinator *c, const char *id) {
    bool found;
    int pos = group_pos(c, id, &found);
    return found ? c->groups[pos] : NULL;
}

rn_group *rn_group_get_or_create(rn_coordinator *c, const char *id) {
    bool found;
    int pos = group_pos(c, id, &found);
    if (found) return c->groups[pos];
    if (c->ngroups == c->groups_cap) {
        int cap = c->groups_cap ? c->groups_cap * 2 : 16;
        rn_group **ng = realloc(c->groups, (size_t)cap * sizeof *ng);
        if (!ng) return NULL;
        c->groups = ng;
        c->groups_cap = cap;
    }
    rn_group *g = calloc(1, sizeof *g);
    if (!g || !(g->group_id = strdup(id))) {
        free(g);
        return NULL;
    }
    g->state = RN_GROUP_EMPTY;
    g->state_timestamp = rn_group_wall_ms();
    memmove(c->groups + pos + 1, c->groups + pos, (size_t)(c->ngroups - pos) * sizeof *c->groups);
    c->groups[pos] = g;
    c->ngroups++;
    return g;
}

static void member_free(rn_member *m) {
    if (!m) return;
    free(m->member_id);
    free(m->group_instance_id);
    free(m->client_id);
    free(m->client_host);
    for (int i = 0; i < m->nprotocols; i++) {
        free(m->protocols[i].name);
        free(m->protocols[i].metadata);
    }
    free(m->protocols);
    free(m->assignment);
    free(m);
}

static void group_free(rn_group *g) {
    for (int i = 0; i < g->nmembers; i++) member_free(g->members[i]);
    for (int i = 0; i < g->npending; i++) free(g->pending[i].member_id);
    free(g->members);
    free(g->pending);
    free(g->group_id);
    free(g->protocol_type);
    free(g->protocol_name);
    free(g->leader);
    free(g);
}

void rn_group_remove(rn_coordinator *c, rn_group *g) {
    bool found;
    int pos = group_pos(c, g->group_id, &found);
    if (!found) return;
    memmove(c->groups + pos, c->groups + pos + 1, (size_t)(c->ngroups - pos - 1) * sizeof *c->groups);
    c->ngroups--;
    group_free(g);
}

static void set_state(rn_group *g, enum rn_group_state s) {
    if (g->state != s)
        rn_log_debug("group %s: %s -> %s (generation %d)", g->group_id, state_names[g->state],
                     state_names[s], g->generation_id);
    g->state = s;
    g->state_timestamp = rn_group_wall_ms();
}

/* ---- members ------------------------------------------------------------------------ */

static rn_member *member_find(rn_group *g, const char *member_id) {
    for (int i = 0; i < g->nmembers; i++)
        if (strcmp(g->members[i]->member_id, member_id) == 0) return g->members[i];
    return NULL;
}

static rn_member *static_member_find(rn_group *g, const char *instance_id) {
    if (!instance_id) return NULL;
    for (int i = 0; i < g->nmembers; i++)
        if (str_eq(g->members[i]->group_instance_id, instance_id)) return g->members[i];
    return NULL;
}

static int pending_find(rn_group *g, const char *member_id) {
    for (int i = 0; i < g->npending; i++)
        if (strcmp(g->pending[i].member_id, member_id) == 0) return i;
    return -1;
}

static void pending_remove(rn_group *g, int i) {
    free(g->pending[i].member_id);
    g->pending[i] = g->pending[--g->npending];
}

static const rn_member_protocol *member_protocol(const rn_member *m, const char *name) {
    if (!name) return NULL;
    for (int i = 0; i < m->nprotocols; i++)
        if (strcmp(m->protocols[i].name, name) == 0) return &m->protocols[i];
    return NULL;
}

/* Replace m's protocols with a copy of the request's. */
static rn_err member_set_protocols(rn_member *m, const rn_group_protocol *p, int n) {
    rn_member_protocol *np = calloc((size_t)(n ? n : 1), sizeof *np);
    if (!np) return RN_ERR_NOMEM;
    for (int i = 0; i < n; i++) {
        np[i].name = strdup(p[i].name);
        np[i].metadata = malloc(p[i].metadata_len ? p[i].metadata_len : 1);
        if (!np[i].name || !np[i].metadata) {
            for (int k = 0; k <= i; k++) {
                free(np[k].name);
                free(np[k].metadata);
            }
            free(np);
            return RN_ERR_NOMEM;
        }
        if (p[i].metadata_len) memcpy(np[i].metadata, p[i].metadata, p[i].metadata_len);
        np[i].metadata_len = p[i].metadata_len;
    }
    for (int i = 0; i < m->nprotocols; i++) {
        free(m->protocols[i].name);
        free(m->protocols[i].metadata);
    }
    free(m->protocols);
    m->protocols = np;
    m->nprotocols = n;
    return RN_KAFKA_NONE;
}

/* Whether m's protocols are exactly rq's (names, order and metadata). */
static bool member_matches(const rn_member *m, const rn_join_request *rq) {
    if (m->nprotocols != rq->nprotocols) return false;
    for (int i = 0; i < m->nprotocols; i++) {
        const rn_member_protocol *a = &m->protocols[i];
        const rn_group_protocol *b = &rq->protocols[i];
        if (strcmp(a->name, b->name) != 0 || a->metadata_len != b->metadata_len ||
            (a->metadata_len && memcmp(a->metadata, b->metadata, a->metadata_len) != 0))
            return false;
    }
    return true;
}

static char *make_member_id(const char *client_id) {
    uint8_t r[16];
    if (getrandom(r, sizeof r, 0) != sizeof r) {
        static uint64_t counter;
        uint64_t v = (uint64_t)rn_group_now_ms() ^ ++counter;
        memcpy(r, &v, 8);
        memcpy(r + 8, &v, 8);
    }
    r[6] = (uint8_t)((r[6] & 0x0F) | 0x40); /* a version 4 UUID, as Kafka makes them */
    r[8] = (uint8_t)((r[8] & 0x3F) | 0x80);
    size_t n = strlen(client_id);
    if (n > 200) n = 200;
    char *id = malloc(n + 38);
    if (!id) return NULL;
    snprintf(id, n + 38,
             "%.*s-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", (int)n,
             client_id, r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11],
             r[12], r[13], r[14], r[15]);
    return id;
}

static int32_t group_rebalance_timeout(const rn_group *g) {
    int32_t t = 0;
    for (int i = 0; i < g->nmembers; i++)
        if (g->members[i]->rebalance_timeout_ms > t) t = g->members[i]->rebalance_timeout_ms;
    return t;
}

/* Whether name is supported by every member. */
static bool protocol_is_candidate(const rn_group *g, const char *name) {
    for (int i = 0; i < g->nmembers; i++)
        if (!member_protocol(g->members[i], name)) return false;
    return true;
}

/* Kafka's rule: a new member may join an Empty group with any non-empty protocol type and
 * protocol list; otherwise the type must match and one of its protocols must be one every
 * member supports. */
static bool group_supports(const rn_group *g, const rn_join_request *rq) {
    if (!rq->protocol_type[0] || rq->nprotocols == 0) return false;
    if (g->state == RN_GROUP_EMPTY && g->nmembers == 0) return true;
    if (g->nmembers == 0) return str_eq(g->protocol_type, rq->protocol_type) || !g->protocol_type;
    if (!str_eq(g->protocol_type, rq->protocol_type)) return false;
    for (int i = 0; i < rq->nprotocols; i++)
        if (protocol_is_candidate(g, rq->protocols[i].name)) return true;
    return false;
}

/* Each member votes for its most preferred candidate; most votes wins, ties go to the
 * leader's preference. */
static const char *select_protocol(const rn_group *g) {
    const char *best = NULL;
    int best_votes = 0;
    const rn_member *pref = NULL;
    if (g->leader)
        for (int i = 0; i < g->nmembers; i++)
            if (strcmp(g->members[i]->member_id, g->leader) == 0) pref = g->members[i];
    if (!pref && g->nmembers) pref = g->members[0];
    if (!pref) return NULL;
    for (int p = 0; p < pref->nprotocols; p++) {
        const char *name = pref->protocols[p].name;
        if (!protocol_is_candidate(g, name)) continue;
        int votes = 0;
        for (int i = 0; i < g->nmembers; i++) {
            const rn_member *m = g->members[i];
            for (int k = 0; k < m->nprotocols; k++)
                if (protocol_is_candidate(g, m->protocols[k].name)) {
                    if (strcmp(m->protocols[k].name, name) == 0) votes++;
                    break;
                }
        }
        if (votes > best_votes) {
            best = name;
            best_votes = votes;
        }
    }
    return best;
}

/* ---- answering waiters ---------------------------------------------------------------- */

static void waiter_finish(rn_group_waiter *w) {
    w->completed = true;
    w->member = NULL;
    w->done(w);
}

static void join_answer_error(rn_group_waiter *w, rn_err err, const char *member_id) {
    memset(&w->join, 0, sizeof w->join);
    w->join.error = err;
    w->join.generation_id = -1;
    w->join.member_id = dup_or_null(member_id ? member_id : "");
    waiter_finish(w);
}

static void sync_answer_error(rn_group_waiter *w, rn_err err) {
    memset(&w->sync, 0, sizeof w->sync);
    w->sync.error = err;
    waiter_finish(w);
}

/* Fill a join answer for m from the group as it is now; with_members for the leader. */
static void join_answer(rn_group *g, rn_member *m, rn_group_waiter *w, bool with_members,
                        const char *leader) {
    rn_join_result *r = &w->join;
    memset(r, 0, sizeof *r);
    r->error = RN_KAFKA_NONE;
    r->generation_id = g->generation_id;
    r->protocol_type = dup_or_null(g->protocol_type);
    r->protocol_name = dup_or_null(g->protocol_name);
    r->leader = dup_or_null(leader ? leader : g->leader);
    r->member_id = strdup(m->member_id);
    if (with_members && g->nmembers > 0) {
        r->members = calloc((size_t)g->nmembers, sizeof *r->members);
        if (r->members) {
            r->nmembers = g->nmembers;
            for (int i = 0; i < g->nmembers; i++) {
                const rn_member *o = g->members[i];
                const rn_member_protocol *p = member_protocol(o, g->protocol_name);
                r->members[i].member_id = strdup(o->member_id);
                r->members[i].group_instance_id = dup_or_null(o->group_instance_id);
                size_t n = p ? p->metadata_len : 0;
                r->members[i].metadata = malloc(n ? n : 1);
                if (r->members[i].metadata && n) memcpy(r->members[i].metadata, p->metadata, n);
                r->members[i].metadata_len = r->members[i].metadata ? n : 0;
            }
        }
    }
    if (!r->member_id || (g->protocol_name && !r->protocol_name) ||
        (with_members && g->nmembers > 0 && !r->members)) {
        rn_join_result_free(r);
        r->error = RN_ERR_NOMEM;
        r->generation_id = -1;
    }
    waiter_finish(w);
}

static void member_answer_join(rn_group *g, rn_member *m, bool with_members, const char *leader) {
    rn_group_waiter *w = m->join_waiter;
    if (!w) return;
    m->join_waiter = NULL;
    join_answer(g, m, w, with_members, leader);
}

static void member_answer_sync(rn_group *g, rn_member *m, rn_err err) {
    rn_group_waiter *w = m->sync_waiter;
    if (!w) return;
    m->sync_waiter = NULL;
    rn_sync_result *r = &w->sync;
    memset(r, 0, sizeof *r);
    r->error = err;
    if (!err) {
        r->protocol_type = dup_or_null(g->protocol_type);
        r->protocol_name = dup_or_null(g->protocol_name);
        size_t n = m->assignment ? m->assignment_len : 0;
        r->assignment = malloc(n ? n : 1);
        if (r->assignment && n) memcpy(r->assignment, m->assignment, n);
        r->assignment_len = r->assignment ? n : 0;
        if (!r->assignment) r->error = RN_ERR_NOMEM;
    }
    waiter_finish(w);
}

/* Answer whatever m waits on with err, e.g. when it leaves or is fenced. */
static void member_answer_error(rn_member *m, rn_err err) {
    if (m->join_waiter) {
        rn_group_waiter *w = m->join_waiter;
        m->join_waiter = NULL;
        join_answer_error(w, err, err == RN_KAFKA_UNKNOWN_MEMBER_ID ? "" : m->member_id);
    }
    if (m->sync_waiter) {
        rn_group_waiter *w = m->sync_waiter;
        m->sync_waiter = NULL;
        sync_answer_error(w, err);
    }
}

/* ---- the rebalance ---------------------------------------------------------------------- */

static void complete_join(rn_coordinator *c, rn_group *g);
static void prepare_rebalance(rn_coordinator *c, rn_group *g, const char *reason);

static bool all_members_joined(const rn_group *g) {
    if (g->npending > 0) return false;
    for (int i = 0; i < g->nmembers; i++)
        if (!g->members[i]->awaiting_join) return false;
    return true;
}

static void maybe_complete_join(rn_coordinator *c, rn_group *g) {
    if (g->state == RN_GROUP_PREPARING_REBALANCE && !g->initial_rebalance && all_members_joined(g))
        complete_join(c, g);
}

static void maybe_prepare_or_complete(rn_coordinator *c, rn_group *g, const char *reason) {
    if (g->state == RN_GROUP_STABLE || g->state == RN_GROUP_COMPLETING_REBALANCE ||
        g->state == RN_GROUP_EMPTY)
        prepare_rebalance(c, g, reason);
    else
        maybe_complete_join(c, g);
}

static void prepare_rebalance(rn_coordinator *c, rn_group *g, const char *reason) {
    int64_t now = coordinator_now(c);
    if (g->state == RN_GROUP_COMPLETING_REBALANCE) {
        /* Followers waiting for the leader's assignment must rejoin instead. */
        for (int i = 0; i < g->nmembers; i++) {
            rn_member *m = g->members[i];
            free(m->assignment);
            m->assignment = NULL;
            m->assignment_len = 0;
            member_answer_sync(g, m, RN_KAFKA_REBALANCE_IN_PROGRESS);
        }
    }
    for (int i = 0; i < g->nmembers; i++) g->members[i]->pending_sync = false;
    g->sync_deadline = 0;
    if (g->state == RN_GROUP_EMPTY) {
        int64_t delay = c->opts.initial_rebalance_delay_ms;
        int64_t remaining = group_rebalance_timeout(g) - delay;
        g->initial_rebalance = true;
        g->new_member_added = false;
        g->initial_remaining_ms = remaining > 0 ? remaining : 0;
        g->join_deadline = now + delay;
    } else {
        g->initial_rebalance = false;
        g->join_deadline = now + group_rebalance_timeout(g);
    }
    rn_log_info("group %s: preparing to rebalance (generation %d, %d members): %s", g->group_id,
                g->generation_id, g->nmembers, reason);
    set_state(g, RN_GROUP_PREPARING_REBALANCE);
    pthread_cond_signal(&c->wake);
    if (!g->initial_rebalance && all_members_joined(g)) complete_join(c, g);
}

/* The leader stays if it rejoined; otherwise the first member that did. False when no
 * member rejoined. */
static bool elect_leader(rn_group *g) {
    if (g->leader) {
        rn_member *l = member_find(g, g->leader);
        if (l && l->awaiting_join) return true;
    }
    for (int i = 0; i < g->nmembers; i++)
        if (g->members[i]->awaiting_join) {
            free(g->leader);
            g->leader = strdup(g->members[i]->member_id);
            return g->leader != NULL;
        }
    return false;
}

static void member_remove(rn_group *g, rn_member *m) {
    for (int i = 0; i < g->nmembers; i++)
        if (g->members[i] == m) {
            memmove(g->members + i, g->members + i + 1,
                    (size_t)(g->nmembers - i - 1) * sizeof *g->members);
            g->nmembers--;
            break;
        }
    if (g->leader && strcmp(g->leader, m->member_id) == 0) {
        free(g->leader);
        g->leader = g->nmembers ? strdup(g->members[0]->member_id) : NULL;
    }
    member_free(m);
}

static void complete_join(rn_coordinator *c, rn_group *g) {
    int64_t now = coordinator_now(c);
    g->join_deadline = 0;
    /* Dynamic members that did not rejoin are gone; static ones keep their place. */
    for (int i = 0; i < g->nmembers;) {
        rn_member *m = g->members[i];
        if (!m->awaiting_join && !m->group_instance_id) {
            rn_log_info("group %s: member %s did not rejoin in time, removing it", g->group_id,
                        m->member_id);
            member_answer_error(m, RN_KAFKA_UNKNOWN_MEMBER_ID);
            member_remove(g, m);
        } else {
            i++;
        }
    }
    if (g->state == RN_GROUP_DEAD) return;
    if (g->nmembers > 0 && !elect_leader(g)) {
        /* Only static members that have not come back: wait for them or their expiry. */
        g->join_deadline = now + group_rebalance_timeout(g);
        return;
    }
    g->generation_id++;
    g->initial_rebalance = false;
    free(g->protocol_name);
    g->protocol_name = NULL;
    if (g->nmembers == 0) {
        free(g->leader);
        g->leader = NULL;
        set_state(g, RN_GROUP_EMPTY);
        rn_log_info("group %s: generation %d is empty", g->group_id, g->generation_id);
        rn_group_persist(c, g);
        return;
    }
    const char *proto = select_protocol(g);
    g->protocol_name = proto ? strdup(proto) : NULL;
    set_state(g, RN_GROUP_COMPLETING_REBALANCE);
    rn_log_info("group %s: generation %d with %d members, protocol %s, leader %s", g->group_id,
                g->generation_id, g->nmembers, g->protocol_name ? g->protocol_name : "-",
                g->leader);
    for (int i = 0; i < g->nmembers; i++) {
        rn_member *m = g->members[i];
        member_answer_join(g, m, strcmp(m->member_id, g->leader) == 0, NULL);
        m->heartbeat_deadline = now + m->session_timeout_ms;
        m->awaiting_join = false;
        m->is_new = false;
        m->pending_sync = true;
    }
    g->sync_deadline = now + group_rebalance_timeout(g);
    pthread_cond_signal(&c->wake);
}

/* Take m out of the group and move the group along (a leave, an expiry). */
static void remove_member_and_update(rn_coordinator *c, rn_group *g, rn_member *m,
                                     const char *reason) {
    char why[300];
    snprintf(why, sizeof why, "member %.200s %s", m->member_id, reason);
    member_answer_error(m, RN_KAFKA_UNKNOWN_MEMBER_ID);
    member_remove(g, m);
    if (g->state == RN_GROUP_STABLE || g->state == RN_GROUP_COMPLETING_REBALANCE)
        maybe_prepare_or_complete(c, g, why);
    else if (g->state == RN_GROUP_PREPARING_REBALANCE)
        maybe_complete_join(c, g);
}

/* ---- JoinGroup -------------------------------------------------------------------------- */

static rn_member *member_new(const rn_join_request *rq, const char *member_id) {
    rn_member *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    m->member_id = strdup(member_id);
    m->group_instance_id = dup_or_null(rq->group_instance_id);
    m->client_id = strdup(rq->client_id ? rq->client_id : "");
    m->client_host = strdup(rq->client_host ? rq->client_host : "");
    m->session_timeout_ms = rq->session_timeout_ms;
    m->rebalance_timeout_ms = rq->rebalance_timeout_ms;
    if (!m->member_id || (rq->group_instance_id && !m->group_instance_id) || !m->client_id ||
        !m->client_host || member_set_protocols(m, rq->protocols, rq->nprotocols) != 0) {
        member_free(m);
        return NULL;
    }
    return m;
}

static rn_err member_add(rn_group *g, rn_member *m) {
    if (g->nmembers == g->members_cap) {
        int cap = g->members_cap ? g->members_cap * 2 : 8;
        rn_member **nm = realloc(g->members, (size_t)cap * sizeof *nm);
        if (!nm) return RN_ERR_NOMEM;
        g->members = nm;
        g->members_cap = cap;
    }
    g->members[g->nmembers++] = m;
    m->group = g;
    return RN_KAFKA_NONE;
}

/* Attach w as m's join waiter, answering any earlier one (a retry on a new connection). */
static void member_await_join(rn_member *m, rn_group_waiter *w) {
    if (m->join_waiter && m->join_waiter != w) {
        rn_group_waiter *old = m->join_waiter;
        m->join_waiter = NULL;
        join_answer_error(old, RN_KAFKA_REBALANCE_IN_PROGRESS, m->member_id);
    }
    m->join_waiter = w;
    w->member = m;
    m->awaiting_join = true;
}

static void add_member_and_rebalance(rn_coordinator *c, rn_group *g, const rn_join_request *rq,
                                     const char *member_id, rn_group_waiter *w) {
    rn_member *m = member_new(rq, member_id);
    if (!m || member_add(g, m) != 0) {
        member_free(m);
        join_answer_error(w, RN_ERR_NOMEM, member_id);
        return;
    }
    if (g->nmembers == 1) {
        free(g->protocol_type);
        g->protocol_type = strdup(rq->protocol_type);
    }
    m->is_new = true;
    m->heartbeat_deadline = coordinator_now(c) + m->session_timeout_ms;
    member_await_join(m, w);
    if (g->state == RN_GROUP_PREPARING_REBALANCE && g->initial_rebalance) g->new_member_added = true;
    if (g->state == RN_GROUP_PREPARING_REBALANCE)
        rn_log_info("group %s: member %s joined (%d members)", g->group_id, member_id, g->nmembers);
    char why[300];
    snprintf(why, sizeof why, "member %.200s joined", member_id);
    maybe_prepare_or_complete(c, g, why);
}

static void update_member_and_rebalance(rn_coordinator *c, rn_group *g, rn_member *m,
                                        const rn_join_request *rq, rn_group_waiter *w,
                                        const char *reason) {
    if (member_set_protocols(m, rq->protocols, rq->nprotocols) != 0) {
        join_answer_error(w, RN_ERR_NOMEM, m->member_id);
        return;
    }
    m->session_timeout_ms = rq->session_timeout_ms;
    m->rebalance_timeout_ms = rq->rebalance_timeout_ms;
    member_await_join(m, w);
    char why[300];
    snprintf(why, sizeof why, "member %.200s %s", m->member_id, reason);
    maybe_prepare_or_complete(c, g, why);
}

/* A known static member comes back with a new member id (a restarted consumer). */
static void replace_static_member(rn_coordinator *c, rn_group *g, rn_member *m,
                                  const rn_join_request *rq, char *new_id, rn_group_waiter *w) {
    member_answer_error(m, RN_KAFKA_FENCED_INSTANCE_ID);
    char *old_leader = dup_or_null(g->leader);
    bool was_leader = g->leader && strcmp(g->leader, m->member_id) == 0;
    rn_log_info("group %s: static member %s rejoins as %s (was %s)", g->group_id,
                m->group_instance_id, new_id, m->member_id);
    free(m->member_id);
    m->member_id = new_id;
    if (was_leader) {
        free(g->leader);
        g->leader = strdup(new_id);
    }
    m->heartbeat_deadline = coordinator_now(c) + rq->session_timeout_ms;
    if (member_set_protocols(m, rq->protocols, rq->nprotocols) != 0) {
        free(old_leader);
        join_answer_error(w, RN_ERR_NOMEM, "");
        return;
    }
    m->session_timeout_ms = rq->session_timeout_ms;
    m->rebalance_timeout_ms = rq->rebalance_timeout_ms;
    if (g->state == RN_GROUP_STABLE) {
        const char *next = select_protocol(g);
        if (str_eq(next, g->protocol_name)) {
            /* Same assignment as before: no rebalance. The answer names the old leader id,
             * so a restarted leader does not recompute assignments; it just syncs. */
            rn_group_persist(c, g);
            w->member = m;
            join_answer(g, m, w, false, old_leader);
        } else {
            member_await_join(m, w);
            prepare_rebalance(c, g, "a static member rejoined with other protocols");
        }
    } else if (g->state == RN_GROUP_COMPLETING_REBALANCE) {
        member_await_join(m, w);
        prepare_rebalance(c, g, "a static member rejoined during the sync phase");
    } else {
        member_await_join(m, w);
        maybe_complete_join(c, g);
    }
    free(old_leader);
}

/* Kafka's member check: a static member must present its current member id. */
rn_err rn_group_validate_member(rn_group *g, const char *member_id, const char *instance_id) {
    if (instance_id) {
        rn_member *s = static_member_find(g, instance_id);
        if (!s) return RN_KAFKA_UNKNOWN_MEMBER_ID;
        if (strcmp(s->member_id, member_id) != 0) return RN_KAFKA_FENCED_INSTANCE_ID;
    }
    return member_find(g, member_id) ? RN_KAFKA_NONE : RN_KAFKA_UNKNOWN_MEMBER_ID;
}

void rn_group_touch_member(rn_group *g, const char *member_id) {
    rn_member *m = member_find(g, member_id);
    if (m) m->heartbeat_deadline = rn_group_now_ms() + m->session_timeout_ms;
}

void rn_coordinator_join(rn_coordinator *c, const rn_join_request *rq, rn_group_waiter *w) {
    w->completed = false;
    w->member = NULL;
    memset(&w->join, 0, sizeof w->join);
    const char *member_id = rq->member_id ? rq->member_id : "";
    if (!rq->group_id[0] || strlen(rq->group_id) > RN_GROUP_ID_MAX) {
        join_answer_error(w, RN_KAFKA_INVALID_GROUP_ID, member_id);
        return;
    }
    if (rq->session_timeout_ms < c->opts.min_session_timeout_ms ||
        rq->session_timeout_ms > c->opts.max_session_timeout_ms) {
        join_answer_error(w, RN_KAFKA_INVALID_SESSION_TIMEOUT, member_id);
        return;
    }
    rn_join_request fixed = *rq;
    if (fixed.rebalance_timeout_ms <= 0) fixed.rebalance_timeout_ms = fixed.session_timeout_ms;
    rq = &fixed;

    pthread_mutex_lock(&c->lock);
    rn_group *g = rn_group_find(c, rq->group_id);
    if (!g) {
        if (member_id[0]) {
            join_answer_error(w, RN_KAFKA_UNKNOWN_MEMBER_ID, member_id);
            goto out;
        }
        if (!(g = rn_group_get_or_create(c, rq->group_id))) {
            join_answer_error(w, RN_ERR_NOMEM, member_id);
            goto out;
        }
    }
    if (g->state == RN_GROUP_DEAD) {
        join_answer_error(w, RN_KAFKA_COORDINATOR_NOT_AVAILABLE, member_id);
        goto out;
    }
    if (!group_supports(g, rq)) {
        join_answer_error(w, RN_KAFKA_INCONSISTENT_GROUP_PROTOCOL, member_id);
        goto out;
    }
    bool known = member_id[0] && (member_find(g, member_id) || pending_find(g, member_id) >= 0);
    if (!known && c->opts.max_size > 0 && g->nmembers + g->npending >= c->opts.max_size &&
        !static_member_find(g, rq->group_instance_id)) {
        join_answer_error(w, RN_KAFKA_GROUP_MAX_SIZE_REACHED, member_id);
        goto out;
    }

    if (!member_id[0]) {
        char *new_id = make_member_id(rq->client_id ? rq->client_id : "");
        if (!new_id) {
            join_answer_error(w, RN_ERR_NOMEM, "");
            goto out;
        }
        rn_member *s = static_member_find(g, rq->group_instance_id);
        if (s) {
            replace_static_member(c, g, s, rq, new_id, w); /* takes new_id */
        } else if (!rq->group_instance_id && rq->require_known_member_id) {
            /* Join again with this id: the member id is known before it counts. */
            if (g->npending == g->pending_cap) {
                int cap = g->pending_cap ? g->pending_cap * 2 : 8;
                rn_pending_member *np = realloc(g->pending, (size_t)cap * sizeof *np);
                if (!np) {
                    free(new_id);
                    join_answer_error(w, RN_ERR_NOMEM, "");
                    goto out;
                }
                g->pending = np;
                g->pending_cap = cap;
            }
            g->pending[g->npending].member_id = new_id;
            g->pending[g->npending].deadline = coordinator_now(c) + rq->session_timeout_ms;
            g->npending++;
            join_answer_error(w, RN_KAFKA_MEMBER_ID_REQUIRED, new_id);
            pthread_cond_signal(&c->wake);
        } else {
            add_member_and_rebalance(c, g, rq, new_id, w);
            free(new_id);
        }
        goto out;
    }

    int pi = pending_find(g, member_id);
    if (pi >= 0) {
        pending_remove(g, pi);
        add_member_and_rebalance(c, g, rq, member_id, w);
        goto out;
    }
    rn_err err = rn_group_validate_member(g, member_id, rq->group_instance_id);
    if (err) {
        join_answer_error(w, err, member_id);
        goto out;
    }
    rn_member *m = member_find(g, member_id);
    switch (g->state) {
    case RN_GROUP_PREPARING_REBALANCE:
        update_member_and_rebalance(c, g, m, rq, w, "rejoined");
        break;
    case RN_GROUP_COMPLETING_REBALANCE:
        if (member_matches(m, rq)) {
            /* A retry of a join whose answer was lost: the same answer again. */
            w->member = m;
            join_answer(g, m, w, strcmp(g->leader, m->member_id) == 0, NULL);
        } else {
            update_member_and_rebalance(c, g, m, rq, w, "changed its subscription");
        }
        break;
    case RN_GROUP_STABLE:
        if (strcmp(g->leader, m->member_id) == 0) {
            /* The leader rejoins to make the group reassign (e.g. topics changed). */
            update_member_and_rebalance(c, g, m, rq, w, "(the leader) rejoined");
        } else if (!member_matches(m, rq)) {
            update_member_and_rebalance(c, g, m, rq, w, "changed its subscription");
        } else {
            w->member = m;
            join_answer(g, m, w, false, NULL);
        }
        break;
    default:
        join_answer_error(w, RN_KAFKA_UNKNOWN_MEMBER_ID, member_id);
        break;
    }
out:
    pthread_mutex_unlock(&c->lock);
}

/* ---- SyncGroup, Heartbeat, LeaveGroup ------------------------------------------------- */

static rn_err set_assignment(rn_member *m, const uint8_t *p, size_t n) {
    uint8_t *a = malloc(n ? n : 1);
    if (!a) return RN_ERR_NOMEM;
    if (n) memcpy(a, p, n);
    free(m->assignment);
    m->assignment = a;
    m->assignment_len = n;
    return RN_KAFKA_NONE;
}

void rn_coordinator_sync(rn_coordinator *c, const rn_sync_request *rq, rn_group_waiter *w) {
    w->completed = false;
    w->member = NULL;
    memset(&w->sync, 0, sizeof w->sync);
    pthread_mutex_lock(&c->lock);
    rn_group *g = rq->group_id[0] ? rn_group_find(c, rq->group_id) : NULL;
    rn_err err = RN_KAFKA_NONE;
    if (!rq->group_id[0]) err = RN_KAFKA_INVALID_GROUP_ID;
    else if (!g) err = RN_KAFKA_UNKNOWN_MEMBER_ID;
    else if (g->state == RN_GROUP_DEAD) err = RN_KAFKA_COORDINATOR_NOT_AVAILABLE;
    else err = rn_group_validate_member(g, rq->member_id, rq->group_instance_id);
    if (!err && rq->generation_id != g->generation_id) err = RN_KAFKA_ILLEGAL_GENERATION;
    if (!err && ((rq->protocol_type && !str_eq(rq->protocol_type, g->protocol_type)) ||
                 (rq->protocol_name && !str_eq(rq->protocol_name, g->protocol_name))))
        err = RN_KAFKA_INCONSISTENT_GROUP_PROTOCOL;
    if (!err && g->state == RN_GROUP_PREPARING_REBALANCE) err = RN_KAFKA_REBALANCE_IN_PROGRESS;
    if (!err && g->state == RN_GROUP_EMPTY) err = RN_KAFKA_UNKNOWN_MEMBER_ID;
    if (err) {
        sync_answer_error(w, err);
        goto out;
    }
    rn_member *m = member_find(g, rq->member_id);
    m->pending_sync = false;
    if (m->sync_waiter && m->sync_waiter != w) member_answer_sync(g, m, RN_KAFKA_REBALANCE_IN_PROGRESS);
    m->sync_waiter = w;
    w->member = m;
    if (g->state == RN_GROUP_STABLE) {
        member_answer_sync(g, m, RN_KAFKA_NONE);
        goto out;
    }
    /* CompletingRebalance: followers wait; the leader's assignments complete everyone. */
    if (strcmp(g->leader, m->member_id) != 0) goto out;
    for (int i = 0; i < g->nmembers; i++) {
        rn_member *o = g->members[i];
        const rn_group_assignment *a = NULL;
        for (int k = 0; k < rq->nassignments; k++)
            if (strcmp(rq->assignments[k].member_id, o->member_id) == 0) a = &rq->assignments[k];
        if (!a) rn_log_warn("group %s: the leader gave member %s no assignment", g->group_id,
                            o->member_id);
        if (set_assignment(o, a ? a->assignment : NULL, a ? a->assignment_len : 0) != 0) {
            for (int k = 0; k < g->nmembers; k++) member_answer_sync(g, g->members[k], RN_ERR_NOMEM);
            prepare_rebalance(c, g, "out of memory storing assignments");
            goto out;
        }
    }
    set_state(g, RN_GROUP_STABLE);
    if (rn_group_persist(c, g) != 0) {
        /* Kafka answers the sync with the store's error and rebalances. */
        set_state(g, RN_GROUP_COMPLETING_REBALANCE);
        for (int k = 0; k < g->nmembers; k++)
            member_answer_sync(g, g->members[k], RN_KAFKA_COORDINATOR_NOT_AVAILABLE);
        prepare_rebalance(c, g, "storing the group failed");
        goto out;
    }
    rn_log_info("group %s: generation %d is stable", g->group_id, g->generation_id);
    int64_t now = coordinator_now(c);
    for (int i = 0; i < g->nmembers; i++) {
        rn_member *o = g->members[i];
        if (o->sync_waiter) o->heartbeat_deadline = now + o->session_timeout_ms;
        member_answer_sync(g, o, RN_KAFKA_NONE);
    }
out:
    pthread_mutex_unlock(&c->lock);
}

void rn_coordinator_cancel(rn_coordinator *c, rn_group_waiter *w) {
    pthread_mutex_lock(&c->lock);
    rn_member *m = w->member;
    if (m && !w->completed) {
        rn_group *g = m->group;
        w->member = NULL;
        if (m->sync_waiter == w) m->sync_waiter = NULL;
        if (m->join_waiter == w) {
            m->join_waiter = NULL;
            /* The answer cannot reach it: a member that never had a generation is
             * forgotten at once, an older one counts as not rejoined. */
            if (g->state == RN_GROUP_PREPARING_REBALANCE) {
                if (m->is_new) remove_member_and_update(c, g, m, "went away while joining");
                else {
                    m->awaiting_join = false;
                    maybe_complete_join(c, g);
                }
            }
        }
    }
    pthread_mutex_unlock(&c->lock);
}

void rn_join_result_free(rn_join_result *r) {
    free(r->protocol_type);
    free(r->protocol_name);
    free(r->leader);
    free(r->member_id);
    for (int i = 0; i < r->nmembers; i++) {
        free(r->members[i].member_id);
        free(r->members[i].group_instance_id);
        free(r->members[i].metadata);
    }
    free(r->members);
    memset(r, 0, sizeof *r);
}

void rn_sync_result_free(rn_sync_result *r) {
    free(r->protocol_type);
    free(r->protocol_name);
    free(r->assignment);
    memset(r, 0, sizeof *r);
}

rn_err rn_coordinator_heartbeat(rn_coordinator *c, const char *group_id, const char *member_id,
                                const char *group_instance_id, int32_t generation_id) {
    if (!group_id[0]) return RN_KAFKA_INVALID_GROUP_ID;
    pthread_mutex_lock(&c->lock);
    rn_group *g = rn_group_find(c, group_id);
    rn_err err = RN_KAFKA_NONE;
    if (!g) err = RN_KAFKA_UNKNOWN_MEMBER_ID;
    else if (g->state == RN_GROUP_DEAD) err = RN_KAFKA_COORDINATOR_NOT_AVAILABLE;
    else err = rn_group_validate_member(g, member_id, group_instance_id);
    if (!err && generation_id != g->generation_id) err = RN_KAFKA_ILLEGAL_GENERATION;
    if (!err) {
        rn_member *m = member_find(g, member_id);
        switch (g->state) {
        case RN_GROUP_EMPTY: err = RN_KAFKA_UNKNOWN_MEMBER_ID; break;
        case RN_GROUP_PREPARING_REBALANCE:
            m->heartbeat_deadline = coordinator_now(c) + m->session_timeout_ms;
            err = RN_KAFKA_REBALANCE_IN_PROGRESS;
            break;
        default: m->heartbeat_deadline = coordinator_now(c) + m->session_timeout_ms; break;
        }
    }
    pthread_mutex_unlock(&c->lock);
    return err;
}

rn_err rn_coordinator_leave(rn_coordinator *c, const char *group_id, const char *member_id,
                            const char *group_instance_id) {
    if (!group_id[0]) return RN_KAFKA_INVALID_GROUP_ID;
    pthread_mutex_lock(&c->lock);
    rn_group *g = rn_group_find(c, group_id);
    rn_err err = RN_KAFKA_NONE;
    rn_member *m = NULL;
    if (!g) err = RN_KAFKA_UNKNOWN_MEMBER_ID;
    else if (g->state == RN_GROUP_DEAD) err = RN_KAFKA_COORDINATOR_NOT_AVAILABLE;
    else if (group_instance_id) {
        m = static_member_find(g, group_instance_id);
        if (!m) err = RN_KAFKA_UNKNOWN_MEMBER_ID;
        else if (member_id[0] && strcmp(member_id, m->member_id) != 0)
            err = RN_KAFKA_FENCED_INSTANCE_ID;
    } else {
        int pi = pending_find(g, member_id);
        if (pi >= 0) {
            pending_remove(g, pi);
            maybe_complete_join(c, g);
            goto out;
        }
        m = member_find(g, member_id);
        if (!m) err = RN_KAFKA_UNKNOWN_MEMBER_ID;
    }
    if (!err) {
        rn_log_info("group %s: member %s leaves", g->group_id, m->member_id);
        remove_member_and_update(c, g, m, "left the group");
    }
out:
    pthread_mutex_unlock(&c->lock);
    return err;
}

/* ---- administration -------------------------------------------------------------------- */

rn_err rn_coordinator_describe(rn_coordinator *c, const char *group_id, rn_group_description *d) {
    memset(d, 0, sizeof *d);
    pthread_mutex_lock(&c->lock);
    rn_group *g = rn_group_find(c, group_id);
    rn_err err = RN_KAFKA_NONE;
    d->group_id = strdup(group_id);
    d->state = g ? state_names[g->state] : "Dead";
    d->protocol_type = strdup(g && g->protocol_type ? g->protocol_type : "");
    /* Kafka shows the protocol and member metadata only when it is settled. */
    bool stable = g && g->state == RN_GROUP_STABLE;
    d->protocol_name = strdup(stable && g->protocol_name ? g->protocol_name : "");
    d->generation_id = g ? g->generation_id : -1;
    if (!d->group_id || !d->protocol_type || !d->protocol_name) err = RN_ERR_NOMEM;
    if (!err && g && g->nmembers > 0) {
        d->members = calloc((size_t)g->nmembers, sizeof *d->members);
        if (!d->members) err = RN_ERR_NOMEM;
        for (int i = 0; !err && i < g->nmembers; i++) {
            const rn_member *m = g->members[i];
            rn_member_description *md = &d->members[i];
            d->nmembers = i + 1;
            md->member_id = strdup(m->member_id);
            md->group_instance_id = dup_or_null(m->group_instance_id);
            md->client_id = strdup(m->client_id);
            md->client_host = strdup(m->client_host);
            const rn_member_protocol *p = stable ? member_protocol(m, g->protocol_name) : NULL;
            md->metadata_len = p ? p->metadata_len : 0;
            md->metadata = malloc(md->metadata_len ? md->metadata_len : 1);
            if (md->metadata && p) memcpy(md->metadata, p->metadata, p->metadata_len);
            md->assignment_len = stable && m->assignment ? m->assignment_len : 0;
            md->assignment = malloc(md->assignment_len ? md->assignment_len : 1);
            if (md->assignment && md->assignment_len)
                memcpy(md->assignment, m->assignment, md->assignment_len);
            if (!md->member_id || !md->client_id || !md->client_host || !md->metadata ||
                !md->assignment)
                err = RN_ERR_NOMEM;
        }
    }
    pthread_mutex_unlock(&c->lock);
    if (err) rn_group_description_clear(d);
    return err;
}

void rn_group_description_clear(rn_group_description *d) {
    free(d->group_id);
    free(d->protocol_type);
    free(d->protocol_name);
    for (int i = 0; i < d->nmembers; i++) {
        rn_member_description *m = &d->members[i];
        free(m->member_id);
        free(m->group_instance_id);
        free(m->client_id);
        free(m->client_host);
        free(m->metadata);
        free(m->assignment);
    }
    free(d->members);
    memset(d, 0, sizeof *d);
}

rn_err rn_coordinator_list(rn_coordinator *c, rn_group_listing **out, int *n) {
    pthread_mutex_lock(&c->lock);
    int count = c->ngroups;
    rn_group_listing *l = calloc((size_t)(count ? count : 1), sizeof *l);
    rn_err err = l ? RN_KAFKA_NONE : RN_ERR_NOMEM;
    for (int i = 0; !err && i < count; i++) {
        rn_group *g = c->groups[i];
        l[i].group_id = strdup(g->group_id);
        l[i].protocol_type = strdup(g->protocol_type ? g->protocol_type : "");
        l[i].state = state_names[g->state];
        if (!l[i].group_id || !l[i].protocol_type) err = RN_ERR_NOMEM;
    }
    pthread_mutex_unlock(&c->lock);
    if (err) {
        rn_group_listings_free(l, count);
        return err;
    }
    *out = l;
    *n = count;
    return RN_KAFKA_NONE;
}

void rn_group_listings_free(rn_group_listing *l, int n) {
    if (!l) return;
    for (int i = 0; i < n; i++) {
        free(l[i].group_id);
        free(l[i].protocol_type);
    }
    free(l);
}

/* ---- persistence ---------------------------------------------------------------------- */

rn_err rn_group_persist(rn_coordinator *c, rn_group *g) { return rn_group_write(c, g, true); }

rn_err rn_group_write(rn_coordinator *c, rn_group *g, bool observed) {
    rn_group_record r = {
        .protocol_type = g->protocol_type,
        .protocol_name = g->protocol_name,
        .leader = g->leader,
        .generation_id = g->generation_id,
        .state_timestamp = g->state_timestamp,
        .nmembers = g->state == RN_GROUP_STABLE ? g->nmembers : 0,
    };
    rn_group_record_member *rm = NULL;
    if (r.nmembers > 0) {
        rm = calloc((size_t)r.nmembers, sizeof *rm);
        if (!rm) return RN_ERR_NOMEM;
        for (int i = 0; i < r.nmembers; i++) {
            const rn_member *m = g->members[i];
            rm[i] = (rn_group_record_member){
                .member_id = m->member_id,
                .group_instance_id = m->group_instance_id,
                .client_id = m->client_id,
                .client_host = m->client_host,
                .session_timeout_ms = m->session_timeout_ms,
                .rebalance_timeout_ms = m->rebalance_timeout_ms,
                .protocols = m->protocols,
                .nprotocols = m->nprotocols,
                .assignment = m->assignment,
                .assignment_len = m->assignment ? m->assignment_len : 0,
            };
        }
    }
    r.members = rm;
    uint8_t *val = NULL;
    size_t vlen = 0;
    rn_err err = rn_group_record_encode(&r, &val, &vlen);
    free(rm);
    if (err) return err;
    uint8_t key[RN_GROUP_KEY_MAX];
    size_t kl = rn_group_key(key, g->group_id);
    rn_store_batch *b = rn_store_batch_new();
    if (!b) {
        free(val);
        return RN_ERR_NOMEM;
    }
    rn_store_batch_put(b, c->store, RN_CF_GROUPS, key, kl, val, vlen);
    err = rn_store_write(c->store, b, false);
    rn_store_batch_free(b);
    if (!err && observed && c->observer) c->observer(c->observer_ctx, g->group_id, val, vlen);
    free(val);
    return err;
}

/* A stored group back in memory: Stable with its members (each gets a fresh session),
 * or Empty. */
static rn_err group_load(rn_coordinator *c, const char *id, const uint8_t *v, size_t len) {
    rn_group_record r;
    rn_err err = rn_group_record_decode(v, len, &r);
    if (err) {
        rn_log_error("group %s: its stored record does not parse; starting it empty", id);
        r = (rn_group_record){0};
    }
    rn_group *g = rn_group_get_or_create(c, id);
    if (!g) {
        rn_group_record_clear(&r);
        return RN_ERR_NOMEM;
    }
    g->protocol_type = r.protocol_type;
    g->protocol_name = r.protocol_name;
    g->leader = r.leader;
    g->generation_id = r.generation_id;
    g->state_timestamp = r.state_timestamp;
    r.protocol_type = r.protocol_name = r.leader = NULL;
    int64_t now = rn_group_now_ms();
    for (int i = 0; i < r.nmembers && g->protocol_name; i++) {
        rn_group_record_member *rm = &r.members[i];
        rn_member *m = calloc(1, sizeof *m);
        if (!m || member_add(g, m) != 0) {
            free(m);
            err = RN_ERR_NOMEM;
            break;
        }
        /* The record's strings and buffers move into the member. */
        m->member_id = rm->member_id;
        m->group_instance_id = rm->group_instance_id;
        m->client_id = rm->client_id;
        m->client_host = rm->client_host;
        m->session_timeout_ms = rm->session_timeout_ms;
        m->rebalance_timeout_ms = rm->rebalance_timeout_ms;
        m->protocols = rm->protocols;
        m->nprotocols = rm->nprotocols;
        m->assignment = rm->assignment;
        m->assignment_len = rm->assignment_len;
        m->heartbeat_deadline = now + m->session_timeout_ms;
        memset(rm, 0, sizeof *rm);
        if (!m->client_id) m->client_id = strdup("");
        if (!m->client_host) m->client_host = strdup("");
        if (!m->client_id || !m->client_host) err = RN_ERR_NOMEM;
    }
    g->state = g->nmembers > 0 ? RN_GROUP_STABLE : RN_GROUP_EMPTY;
    if (g->nmembers == 0) {
        free(g->leader);
        g->leader = NULL;
    } else if (!g->leader || !member_find(g, g->leader)) {
        free(g->leader);
        g->leader = strdup(g->members[0]->member_id);
    }
    rn_log_info("group %s: recovered %s, generation %d, %d members", id, state_names[g->state],
                g->generation_id, g->nmembers);
    rn_group_record_clear(&r);
    return err;
}

static rn_err load_groups(rn_coordinator *c) {
    uint8_t lo = 'G', hi = 'H';
    rn_store_iter *it = rn_store_iter_new(c->store, RN_CF_GROUPS, &lo, 1, &hi, 1);
    if (!it) return RN_ERR_NOMEM;
    rn_err err = RN_KAFKA_NONE;
    char id[RN_GROUP_ID_MAX + 1];
    for (rn_store_iter_seek(it, &lo, 1); !err && rn_store_iter_valid(it); rn_store_iter_next(it)) {
        size_t kl, vl;
        const uint8_t *k = rn_store_iter_key(it, &kl);
        const uint8_t *v = rn_store_iter_value(it, &vl);
        if (kl < 2 || kl - 1 > RN_GROUP_ID_MAX) continue;
        memcpy(id, k + 1, kl - 1);
        id[kl - 1] = 0;
        err = group_load(c, id, v, vl);
    }
    if (!err) err = rn_store_iter_status(it);
    rn_store_iter_free(it);
    return err;
}

void rn_coordinator_observe(rn_coordinator *c, rn_group_observer fn, void *ctx) {
    pthread_mutex_lock(&c->lock);
    c->observer = fn;
    c->observer_ctx = ctx;
    pthread_mutex_unlock(&c->lock);
}

rn_err rn_coordinator_restore_group(rn_coordinator *c, const char *group_id,
                                    const uint8_t *record, size_t len) {
    if (!group_id[0] || strlen(group_id) > RN_GROUP_ID_MAX) return RN_KAFKA_INVALID_GROUP_ID;
    rn_store_batch *b = rn_store_batch_new();
    if (!b) return RN_ERR_NOMEM;
    uint8_t key[RN_GROUP_KEY_MAX];
    size_t kl = rn_group_key(key, group_id);
    pthread_mutex_lock(&c->lock);
    rn_group *g = rn_group_find(c, group_id);
    rn_err err = RN_KAFKA_NONE;
    for (int i = 0; g && i < g->nmembers; i++)
        if (g->members[i]->join_waiter || g->members[i]->sync_waiter)
            err = RN_KAFKA_REBALANCE_IN_PROGRESS;
    if (!err) {
        if (record)
            rn_store_batch_put(b, c->store, RN_CF_GROUPS, key, kl, record, len);
        else
            rn_group_delete_records(c, b, group_id);
        err = rn_store_write(c->store, b, false);
    }
    if (!err) {
        if (g) rn_group_remove(c, g);
        if (record) err = group_load(c, group_id, record, len);
        pthread_cond_signal(&c->wake); /* the members' sessions run from now */
    }
    pthread_mutex_unlock(&c->lock);
    rn_store_batch_free(b);
    return err;
}

/* ---- timers ------------------------------------------------------------------------------ */

static void group_tick(rn_coordinator *c, rn_group *g, int64_t now) {
    for (int i = 0; i < g->npending;) {
        if (now >= g->pending[i].deadline) {
            pending_remove(g, i);
            maybe_complete_join(c, g);
        } else {
            i++;
        }
    }
    for (int i = 0; i < g->nmembers;) {
        rn_member *m = g->members[i];
        /* A member parked in JoinGroup or waiting for the leader's SyncGroup cannot
         * heartbeat; the rebalance and sync deadlines cover those. */
        if (!m->awaiting_join && !m->sync_waiter && now >= m->heartbeat_deadline) {
            rn_log_info("group %s: member %s missed its session timeout (%d ms), removing it",
                        g->group_id, m->member_id, m->session_timeout_ms);
            int before = g->nmembers;
            remove_member_and_update(c, g, m, "session timed out");
            if (g->nmembers < before) continue; /* restart at the same index */
        }
        i++;
    }
    if (g->state == RN_GROUP_PREPARING_REBALANCE && g->join_deadline && now >= g->join_deadline) {
        if (g->initial_rebalance && g->new_member_added && g->initial_remaining_ms > 0) {
            int64_t delay = c->opts.initial_rebalance_delay_ms;
            if (delay > g->initial_remaining_ms) delay = g->initial_remaining_ms;
            g->initial_remaining_ms -= c->opts.initial_rebalance_delay_ms;
            if (g->initial_remaining_ms < 0) g->initial_remaining_ms = 0;
            g->new_member_added = false;
            g->join_deadline = now + delay;
        } else {
            complete_join(c, g);
        }
    }
    if ((g->state == RN_GROUP_COMPLETING_REBALANCE || g->state == RN_GROUP_STABLE) &&
        g->sync_deadline && now >= g->sync_deadline) {
        g->sync_deadline = 0;
        int removed = 0;
        for (int i = 0; i < g->nmembers;) {
            rn_member *m = g->members[i];
            if (m->pending_sync) {
                rn_log_info("group %s: member %s did not sync in time, removing it", g->group_id,
                            m->member_id);
                member_answer_error(m, RN_KAFKA_UNKNOWN_MEMBER_ID);
                member_remove(g, m);
                removed++;
            } else {
                i++;
            }
        }
        if (removed) prepare_rebalance(c, g, "members did not sync in time");
    }
}

static int64_t group_next_deadline(const rn_group *g) {
    int64_t next = INT64_MAX;
    for (int i = 0; i < g->npending; i++)
        if (g->pending[i].deadline < next) next = g->pending[i].deadline;
    for (int i = 0; i < g->nmembers; i++)
        if (g->members[i]->heartbeat_deadline < next) next = g->members[i]->heartbeat_deadline;
    if (g->join_deadline && g->join_deadline < next) next = g->join_deadline;
    if (g->sync_deadline && g->sync_deadline < next) next = g->sync_deadline;
    return next;
}

static void tick_locked(rn_coordinator *c, int64_t now) {
    c->tick_now = now;
    for (int i = 0; i < c->ngroups; i++) group_tick(c, c->groups[i], now);
    c->tick_now = 0;
    int64_t wall = rn_group_wall_ms();
    if (wall >= c->next_retention_check) {
        rn_group_expire_offsets(c, wall);
        c->next_retention_check = wall + c->opts.offsets_retention_check_interval_ms;
    }
}

void rn_coordinator_tick(rn_coordinator *c, int64_t now_ms) {
    pthread_mutex_lock(&c->lock);
    tick_locked(c, now_ms);
    pthread_mutex_unlock(&c->lock);
}

static void *coordinator_main(void *arg) {
    rn_coordinator *c = arg;
    pthread_mutex_lock(&c->lock);
    while (!c->stopping) {
        int64_t now = rn_group_now_ms();
        tick_locked(c, now);
        int64_t next = now + 1000; /* at least once a second, for retention */
        for (int i = 0; i < c->ngroups; i++) {
            int64_t d = group_next_deadline(c->groups[i]);
            if (d < next) next = d;
        }
        if (next < now + 5) next = now + 5;
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        int64_t wait_ms = next - now;
        ts.tv_sec += wait_ms / 1000;
        ts.tv_nsec += (wait_ms % 1000) * 1000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&c->wake, &c->lock, &ts);
    }
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

/* ---- life cycle ------------------------------------------------------------------------ */

rn_err rn_coordinator_open(rn_store *store, rn_engine *engine, const rn_group_options *opts,
                           bool flush_sync, bool thread, rn_coordinator **out) {
    rn_coordinator *c = calloc(1, sizeof *c);
    if (!c) return RN_ERR_NOMEM;
    pthread_mutex_init(&c->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&c->wake, &ca);
    pthread_condattr_destroy(&ca);
    c->store = store;
    c->engine = engine;
    c->opts = *opts;
    /* Zero means "not set": Kafka's defaults. */
    if (c->opts.max_session_timeout_ms <= 0) c->opts.max_session_timeout_ms = 1800000;
    if (c->opts.offsets_retention_ms == 0) c->opts.offsets_retention_ms = 7 * 24 * 3600000LL;
    if (c->opts.offsets_retention_check_interval_ms <= 0)
        c->opts.offsets_retention_check_interval_ms = 600000;
    if (c->opts.offset_metadata_max_bytes <= 0) c->opts.offset_metadata_max_bytes = 4096;
    c->flush_sync = flush_sync;
    c->next_retention_check = rn_group_wall_ms() + c->opts.offsets_retention_check_interval_ms;
    rn_err err = load_groups(c);
    if (!err) err = rn_group_load_offset_groups(c);
    if (!err && thread) {
        if (pthread_create(&c->thread, NULL, coordinator_main, c) != 0) err = RN_ERR_INTERNAL;
        else c->thread_running = true;
    }
    if (err) {
        rn_coordinator_close(c);
        return err;
    }
    *out = c;
    return RN_KAFKA_NONE;
}

void rn_coordinator_close(rn_coordinator *c) {
    if (!c) return;
    if (c->thread_running) {
        pthread_mutex_lock(&c->lock);
        c->stopping = true;
        pthread_cond_signal(&c->wake);
        pthread_mutex_unlock(&c->lock);
        pthread_join(c->thread, NULL);
    }
    /* Connections are closed before the engine: no waiter is attached any more. */
    for (int i = 0; i < c->ngroups; i++) group_free(c->groups[i]);
    free(c->groups);
    pthread_cond_destroy(&c->wake);
    pthread_mutex_destroy(&c->lock);
    free(c);
}
