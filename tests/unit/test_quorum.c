/* tests/unit/test_quorum.c: the metadata quorum (net/quorum.c): three or four members
 * in one process on loopback ports, each with its own Raft files and metadata image. */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <ftw.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "metadata.h"
#include "quorum.h"

#define NMAX 4

typedef struct {
    int32_t id;
    char dir[300];
    char address[64];
    rn_metadata *md;
    rn_quorum *q;
    atomic_ullong applied;  /* the last index given to applied */
    atomic_int became_leader, stopped_leading;
} member;

static char root[64];
static char voters[256];
static member members[NMAX];

/* ---- helpers ---------------------------------------------------------------------- */

static int free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

#define WAIT_UNTIL(cond, ms)                                                              \
    do {                                                                                  \
        int waited_ = 0;                                                                  \
        while (!(cond) && waited_ < (ms)) sleep_ms(10), waited_ += 10;                    \
    } while (0)

static void on_applied(void *ctx, uint64_t index) {
    member *m = ctx;
    atomic_store(&m->applied, index);
}

static void on_leadership(void *ctx, bool leader) {
    member *m = ctx;
    atomic_fetch_add(leader ? &m->became_leader : &m->stopped_leading, 1);
}

static void member_start(member *m) {
    rn_quorum_options o = {
        .node_id = m->id,
        .dir = m->dir,
        .voters = voters,
        .address = m->address,
        .election_timeout_ms = 500,
        .heartbeat_timeout_ms = 50,
        .md = m->md = rn_md_new(),
        .applied = on_applied,
        .leadership = on_leadership,
        .ctx = m,
    };
    char err[256] = "";
    atomic_store(&m->applied, 0);
    m->q = rn_quorum_start(&o, err, sizeof err);
    cr_assert(m->q, "node %d does not start: %s", m->id, err);
}

static void member_stop(member *m) {
    rn_quorum_stop(m->q);
    m->q = NULL;
    rn_md_free(m->md);
    m->md = NULL;
}

/* n members: the first three are the voters. */
static void cluster_setup(int n) {
    snprintf(root, sizeof root, "/tmp/rn_quorum_XXXXXX");
    cr_assert(mkdtemp(root));
    int len = 0;
    for (int i = 0; i < n; i++) {
        member *m = &members[i];
        m->id = i + 1;
        snprintf(m->dir, sizeof m->dir, "%s/node%d/raft", root, m->id);
        snprintf(m->address, sizeof m->address, "127.0.0.1:%d", free_port());
        if (i < 3)
            len += snprintf(voters + len, sizeof voters - len, "%s%d@%s", i ? "," : "", m->id,
                            m->address);
    }
    for (int i = 0; i < n; i++) member_start(&members[i]);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    return remove(path);
}

static void cluster_teardown(void) {
    for (int i = 0; i < NMAX; i++)
        if (members[i].q) member_stop(&members[i]);
    if (root[0]) nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* The member that reports leadership, among the first n running; NULL after 10 s. */
static member *wait_leader(int n) {
    for (int waited = 0; waited < 10000; waited += 10) {
        for (int i = 0; i < n; i++)
            if (members[i].q && rn_quorum_is_leader(members[i].q)) return &members[i];
        sleep_ms(10);
    }
    return NULL;
}

static member *a_follower(member *leader) {
    for (int i = 0; i < 3; i++)
        if (&members[i] != leader && members[i].q) return &members[i];
    return NULL;
}

typedef struct {
    atomic_int calls;
    atomic_int err;
    char msg[256];
} outcome;

static void on_done(void *ctx, rn_err err, const char *msg) {
    outcome *o = ctx;
    snprintf(o->msg, sizeof o->msg, "%s", msg);
    atomic_store(&o->err, err);
    atomic_fetch_add(&o->calls, 1);
}

static void propose_broker(member *m, int32_t broker, int timeout_ms, outcome *o) {
    rn_md_record r = {.type = RN_MD_REGISTER_BROKER,
                      .broker_id = broker,
                      .host = "localhost",
                      .port = 9000 + broker,
                      .raft_host = "",
                      .raft_port = 0};
    size_t len;
    uint8_t *entry = rn_md_encode(&r, 1, &len);
    cr_assert(entry);
    rn_quorum_propose(m->q, entry, len, timeout_ms, on_done, o);
    free(entry);
}

/* Commit a registration of broker on the leader; its done's error. */
static rn_err commit_broker(member *m, int32_t broker) {
    outcome o = {0};
    propose_broker(m, broker, 5000, &o);
    WAIT_UNTIL(atomic_load(&o.calls) > 0, 6000);
    cr_assert_eq(atomic_load(&o.calls), 1);
    return atomic_load(&o.err);
}

/* The epoch of broker in m's image, or -1 when it has none. */
static int64_t broker_epoch(member *m, int32_t broker) {
    int n;
    int64_t epoch = -1;
    rn_md_read_lock(m->md);
    const rn_md_broker *b = rn_md_brokers(m->md, &n);
    for (int i = 0; i < n; i++)
        if (b[i].id == broker) epoch = b[i].epoch;
    rn_md_read_unlock(m->md);
    return epoch;
}

static int broker_count(member *m) {
    int n;
    rn_md_read_lock(m->md);
    rn_md_brokers(m->md, &n);
    rn_md_read_unlock(m->md);
    return n;
}

static void post_count(void *ctx) { atomic_fetch_add((atomic_int *)ctx, 1); }

/* ---- parsing the voters ----------------------------------------------------------- */

Test(quorum, parse_voters) {
    int32_t ids[4];
    char addresses[4][280];
    char err[200];
    cr_assert_eq(rn_quorum_parse_voters("1@127.0.0.1:19093,2@host:1,3@[::1]:7", ids, addresses,
                                        4, err, sizeof err),
                 3);
    cr_assert_eq(ids[0], 1);
    cr_assert_eq(ids[2], 3);
    cr_assert_str_eq(addresses[0], "127.0.0.1:19093");
    cr_assert_str_eq(addresses[1], "host:1");
    cr_assert_str_eq(addresses[2], "[::1]:7");
    const char *bad[] = {"",          " ",          "1@h:1,1@h:2", "x@h:1",   "0@h:1",
                         "1@h",       "1@h:",       "1@:5",        "1h:5",    "1@h:1,,2@h:2",
                         "-1@h:1",    "1@h:99999",  "1@h:1x",      "99999999999@h:1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        cr_expect_eq(rn_quorum_parse_voters(bad[i], ids, addresses, 4, err, sizeof err), -1,
                     "\"%s\" parsed", bad[i]);
        cr_expect(err[0], "no sentence for \"%s\"", bad[i]);
    }
    cr_assert_eq(rn_quorum_parse_voters("1@a:1,2@b:2,3@c:3", ids, addresses, 2, err, sizeof err),
                 -1);
}

/* ---- a cluster of three ----------------------------------------------------------- */

TestSuite(cluster, .fini = cluster_teardown, .timeout = 120);

Test(cluster, elects_commits_and_applies_everywhere) {
    cluster_setup(3);
    member *leader = wait_leader(3);
    cr_assert(leader, "no leader within 10 s");
    cr_assert_geq(atomic_load(&leader->became_leader), 1);
    WAIT_UNTIL(rn_quorum_leader(members[0].q) == leader->id &&
                   rn_quorum_leader(members[1].q) == leader->id &&
                   rn_quorum_leader(members[2].q) == leader->id,
               5000);
    for (int i = 0; i < 3; i++) cr_assert_eq(rn_quorum_leader(members[i].q), leader->id);

    cr_assert_eq(commit_broker(leader, 10), 0);
    int64_t epoch = broker_epoch(leader, 10);
    cr_assert_gt(epoch, 0);
    for (int i = 0; i < 3; i++) {
        WAIT_UNTIL(broker_epoch(&members[i], 10) == epoch, 5000);
        cr_assert_eq(broker_epoch(&members[i], 10), epoch, "node %d", members[i].id);
        cr_assert_geq(atomic_load(&members[i].applied), (unsigned long long)epoch);
    }

    /* A follower is not the controller. */
    member *follower = a_follower(leader);
    cr_assert_not(rn_quorum_is_leader(follower->q));
    outcome o = {0};
    propose_broker(follower, 11, 5000, &o);
    WAIT_UNTIL(atomic_load(&o.calls) > 0, 5000);
    cr_assert_eq(atomic_load(&o.err), RN_KAFKA_NOT_CONTROLLER);
    cr_assert(o.msg[0]);

    /* A refused entry reaches the proposer with the image's sentence, and is consumed. */
    rn_md_record fence = {.type = RN_MD_FENCE_BROKER, .broker_id = 999};
    size_t len;
    uint8_t *entry = rn_md_encode(&fence, 1, &len);
    outcome refused = {0};
    rn_quorum_propose(leader->q, entry, len, 5000, on_done, &refused);
    free(entry);
    WAIT_UNTIL(atomic_load(&refused.calls) > 0, 5000);
    cr_assert_neq(atomic_load(&refused.err), 0);
    cr_assert_neq(atomic_load(&refused.err), RN_KAFKA_NOT_CONTROLLER);
    cr_assert(refused.msg[0]);
    cr_assert_eq(commit_broker(leader, 12), 0);

    /* Posts run on the quorum thread, in order. */
    atomic_int posted = 0;
    for (int i = 0; i < 3; i++) cr_assert_eq(rn_quorum_post(leader->q, post_count, &posted), 0);
    WAIT_UNTIL(atomic_load(&posted) == 3, 5000);
    cr_assert_eq(atomic_load(&posted), 3);

    sleep_ms(100);
    cr_assert_eq(atomic_load(&o.calls), 1);
    cr_assert_eq(atomic_load(&refused.calls), 1);
}

Test(cluster, loses_quorum_and_recovers_on_restart) {
    cluster_setup(3);
    member *leader = wait_leader(3);
    cr_assert(leader);
    cr_assert_eq(commit_broker(leader, 20), 0);
    int64_t epoch = broker_epoch(leader, 20);

    /* Two members down: the one left cannot commit. */
    member *alone = leader;
    for (int i = 0; i < 3; i++)
        if (&members[i] != alone) member_stop(&members[i]);
    outcome o = {0};
    propose_broker(alone, 21, 1500, &o);
    WAIT_UNTIL(atomic_load(&o.calls) > 0, 5000);
    cr_assert_eq(atomic_load(&o.calls), 1);
    rn_err err = atomic_load(&o.err);
    cr_assert(err == RN_KAFKA_REQUEST_TIMED_OUT || err == RN_KAFKA_NOT_CONTROLLER, "err %d: %s",
              err, o.msg);
    WAIT_UNTIL(!rn_quorum_is_leader(alone->q), 5000);
    cr_assert_not(rn_quorum_is_leader(alone->q), "a leader without a quorum");
    cr_assert_geq(atomic_load(&alone->stopped_leading), 1);

    /* Back with the same files: the log is replayed into fresh images. */
    for (int i = 0; i < 3; i++)
        if (!members[i].q) member_start(&members[i]);
    leader = wait_leader(3);
    cr_assert(leader, "no leader after the restart");
    for (int i = 0; i < 3; i++) {
        WAIT_UNTIL(broker_epoch(&members[i], 20) == epoch, 5000);
        cr_assert_eq(broker_epoch(&members[i], 20), epoch, "node %d lost its state", i + 1);
    }
    cr_assert_eq(commit_broker(leader, 22), 0);
    for (int i = 0; i < 3; i++) {
        WAIT_UNTIL(broker_epoch(&members[i], 22) > 0, 5000);
        cr_assert_gt(broker_epoch(&members[i], 22), 0);
    }
    /* The timed-out entry may have committed since; its done ran once all the same. */
    cr_assert_eq(atomic_load(&o.calls), 1);
}

typedef struct {
    atomic_int calls, failed;
} tally;

static void on_tally(void *ctx, rn_err err, const char *msg) {
    tally *t = ctx;
    if (err) atomic_fetch_add(&t->failed, 1);
    atomic_fetch_add(&t->calls, 1);
}

static bool has_snapshot(const char *dir) {
    char cmd[400];
    snprintf(cmd, sizeof cmd, "ls %s | grep -q '^snapshot-'", dir);
    return system(cmd) == 0;
}

Test(cluster, snapshots_and_restores) {
    cluster_setup(3);
    member *leader = wait_leader(3);
    cr_assert(leader);
    /* One member misses the whole burst: it will need the leader's snapshot. */
    member *late = a_follower(leader);
    member_stop(late);

    enum { N = 1300 };
    tally t = {0};
    for (int i = 0; i < N; i++) {
        rn_md_record r = {.type = RN_MD_REGISTER_BROKER,
                          .broker_id = 100 + i % 40,
                          .host = "localhost",
                          .port = 10000 + i,
                          .raft_host = ""};
        size_t len;
        uint8_t *entry = rn_md_encode(&r, 1, &len);
        rn_quorum_propose(leader->q, entry, len, 20000, on_tally, &t);
        free(entry);
    }
    WAIT_UNTIL(atomic_load(&t.calls) == N, 30000);
    cr_assert_eq(atomic_load(&t.calls), N);
    cr_assert_eq(atomic_load(&t.failed), 0);
    WAIT_UNTIL(has_snapshot(leader->dir), 5000);
    cr_assert(has_snapshot(leader->dir), "no snapshot after %d entries", N);

    /* The late member catches up from the leader's snapshot. */
    member_start(late);
    uint64_t applied = atomic_load(&leader->applied);
    WAIT_UNTIL(broker_epoch(late, 139) == broker_epoch(leader, 139), 15000);
    cr_assert_eq(broker_epoch(late, 139), broker_epoch(leader, 139));
    cr_assert_eq(broker_count(late), broker_count(leader));
    WAIT_UNTIL(atomic_load(&late->applied) >= applied, 5000);

    /* A member restarted on its own files restores its own snapshot and log. */
    member *other = NULL;
    for (int i = 0; i < 3; i++)
        if (&members[i] != leader && &members[i] != late) other = &members[i];
    WAIT_UNTIL(has_snapshot(other->dir), 5000);
    cr_assert(has_snapshot(other->dir));
    member_stop(other);
    member_start(other);
    for (int b = 100; b < 140; b++) {
        WAIT_UNTIL(broker_epoch(other, b) == broker_epoch(leader, b), 10000);
        cr_assert_eq(broker_epoch(other, b), broker_epoch(leader, b), "broker %d", b);
    }
    rn_md_read_lock(leader->md);
    uint64_t version = rn_md_version(leader->md);
    rn_md_read_unlock(leader->md);
    cr_assert_gt(version, 0);
    leader = wait_leader(3);
    cr_assert(leader);
    cr_assert_eq(commit_broker(leader, 7), 0);
    for (int i = 0; i < 3; i++) {
        WAIT_UNTIL(broker_epoch(&members[i], 7) > 0, 5000);
        cr_assert_gt(broker_epoch(&members[i], 7), 0);
    }
}

Test(cluster, standby_receives_the_log) {
    cluster_setup(4); /* node 4 is no voter: it waits to be added */
    member *leader = wait_leader(3);
    cr_assert(leader);
    cr_assert_eq(commit_broker(leader, 30), 0);
    member *standby = &members[3];
    cr_assert_not(rn_quorum_is_leader(standby->q));

    member *follower = a_follower(leader);
    outcome refused = {0};
    rn_quorum_add_standby(follower->q, standby->id, standby->address, 5000, on_done, &refused);
    WAIT_UNTIL(atomic_load(&refused.calls) > 0, 5000);
    cr_assert_eq(atomic_load(&refused.err), RN_KAFKA_NOT_CONTROLLER);

    outcome added = {0};
    rn_quorum_add_standby(leader->q, standby->id, standby->address, 10000, on_done, &added);
    WAIT_UNTIL(atomic_load(&added.calls) > 0, 11000);
    cr_assert_eq(atomic_load(&added.err), 0, "%s", added.msg);

    WAIT_UNTIL(broker_epoch(standby, 30) == broker_epoch(leader, 30), 5000);
    cr_assert_eq(broker_epoch(standby, 30), broker_epoch(leader, 30));
    cr_assert_eq(commit_broker(leader, 31), 0);
    WAIT_UNTIL(broker_epoch(standby, 31) > 0, 5000);
    cr_assert_eq(broker_epoch(standby, 31), broker_epoch(leader, 31));
    WAIT_UNTIL(rn_quorum_leader(standby->q) == leader->id, 5000);
    cr_assert_eq(rn_quorum_leader(standby->q), leader->id);

    /* A member already: a no-op success. */
    outcome again = {0};
    rn_quorum_add_standby(leader->q, standby->id, standby->address, 5000, on_done, &again);
    WAIT_UNTIL(atomic_load(&again.calls) > 0, 5000);
    cr_assert_eq(atomic_load(&again.err), 0);

    /* A standby does not count for the quorum: two voters and the standby still commit. */
    member *gone = a_follower(leader);
    member_stop(gone);
    cr_assert_eq(commit_broker(leader, 32), 0);
    WAIT_UNTIL(broker_epoch(standby, 32) > 0, 5000);
    cr_assert_gt(broker_epoch(standby, 32), 0);
    sleep_ms(100);
    cr_assert_eq(atomic_load(&added.calls), 1);
}

Test(cluster, stop_answers_pending_proposals) {
    cluster_setup(3);
    member *leader = wait_leader(3);
    cr_assert(leader);
    for (int i = 0; i < 3; i++)
        if (&members[i] != leader) member_stop(&members[i]);
    outcome o = {0};
    propose_broker(leader, 40, 60000, &o); /* cannot commit: no quorum */
    sleep_ms(50);
    member_stop(leader);
    cr_assert_eq(atomic_load(&o.calls), 1);
    cr_assert_eq(atomic_load(&o.err), RN_KAFKA_NOT_CONTROLLER);
}

Test(quorum, refuses_to_start_without_an_address_or_on_a_taken_one) {
    char dir[] = "/tmp/rn_quorum_start_XXXXXX";
    cr_assert(mkdtemp(dir));
    rn_metadata *md = rn_md_new();
    char err[256] = "";
    rn_quorum_options o = {.node_id = 9, .dir = dir, .voters = "1@127.0.0.1:1", .md = md};
    cr_assert_null(rn_quorum_start(&o, err, sizeof err));
    cr_assert(strstr(err, "not a voter"), "%s", err);

    /* The Raft address is someone else's listener. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(listen(fd, 1), 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    char v[64];
    snprintf(v, sizeof v, "1@127.0.0.1:%d", ntohs(a.sin_port));
    o.node_id = 1;
    o.voters = v;
    err[0] = '\0';
    cr_assert_null(rn_quorum_start(&o, err, sizeof err));
    cr_assert(err[0]);
    close(fd);
    rn_md_free(md);
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}
