/* net/quorum.h: this broker's member of the Raft quorum that replicates the metadata log:
 * canonical's C raft library (libraft, Debian's libraft-dev) with its libuv I/O and TCP
 * transport, on a thread of its own with its own uv loop. The state machine is
 * engine/metadata.c: committed entries are applied to the rn_metadata given here, and
 * Raft snapshots are its rn_md_snapshot/rn_md_restore.
 *
 * Every voter in controller.quorum.voters bootstraps the same configuration on first
 * start (Raft refuses a second bootstrap, which is how a restart is told from a first
 * start). A broker that is not a voter starts with no configuration and waits to be
 * added by the leader as a non-voting standby that replicates the log.
 *
 * Threads: every function here may be called from any thread; libraft itself is only
 * ever touched on the quorum's thread. */
#ifndef RN_QUORUM_H
#define RN_QUORUM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "metadata.h"

typedef struct rn_quorum rn_quorum;

typedef struct {
    int32_t node_id;
    const char *dir;     /* Raft's files; created if missing */
    const char *voters;  /* "1@host:port,2@host:port,3@host:port" */
    const char *address; /* this node's Raft address "host:port": its voters entry, or the
                            standby's own (raft_listener) */
    unsigned election_timeout_ms;  /* 0: 1000 */
    unsigned heartbeat_timeout_ms; /* 0: 100 */
    rn_metadata *md;               /* applied to; owned by the caller, outlives the quorum */
    /* On the quorum thread after each applied entry (and after a restore). Quick. */
    void (*applied)(void *ctx, uint64_t index);
    /* On the quorum thread when this node becomes (true) or stops being (false) the leader. */
    void (*leadership)(void *ctx, bool leader);
    void *ctx;
} rn_quorum_options;

/* Parse a voters list: ids and addresses into the caller's arrays (room for max). Returns
 * the count, or -1 with a sentence in err. */
int rn_quorum_parse_voters(const char *voters, int32_t *ids, char (*addresses)[280], int max,
                           char *err, size_t errlen);

/* Start the thread. NULL and a sentence in err on failure. */
rn_quorum *rn_quorum_start(const rn_quorum_options *o, char *err, size_t errlen);
/* Leave the loop (pending proposals finish with RN_KAFKA_NOT_CONTROLLER) and join. */
void rn_quorum_stop(rn_quorum *q);

/* The leader as this node knows it (-1 when none), and whether it is this node. */
int32_t rn_quorum_leader(rn_quorum *q);
bool rn_quorum_is_leader(rn_quorum *q);

/* Done runs once on the quorum thread: err 0 and the apply's result (its sentence in
 * msg) once the entry is committed and applied here; RN_KAFKA_NOT_CONTROLLER when this
 * node is not the leader or lost leadership before the commit; RN_KAFKA_REQUEST_TIMED_OUT
 * after timeout_ms (<= 0: no limit) without a commit (the entry may still commit later).
 * Asked once rn_quorum_stop has closed the loop, done runs at once on the caller's thread. */
typedef void (*rn_quorum_done)(void *ctx, rn_err err, const char *msg);

/* Propose an entry (copied) for the log. */
void rn_quorum_propose(rn_quorum *q, const uint8_t *entry, size_t len, int timeout_ms,
                       rn_quorum_done done, void *ctx);
/* Leader only: add node id at address as a non-voting standby (a no-op success when it
 * is a member already). done as for propose. */
void rn_quorum_add_standby(rn_quorum *q, int32_t id, const char *address, int timeout_ms,
                           rn_quorum_done done, void *ctx);

/* Run fn(ctx) on the quorum thread soon (the controller's timers and work live there).
 * 0, or an error when the quorum has stopped (fn never runs); posted before the stop,
 * fn runs. */
int rn_quorum_post(rn_quorum *q, void (*fn)(void *ctx), void *ctx);

#endif
