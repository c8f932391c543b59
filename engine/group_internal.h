/* engine/group_internal.h: the coordinator's in-memory state, shared by group.c (the
 * membership state machine) and group_offsets.c (committed offsets). Everything here is
 * guarded by rn_coordinator.lock. */
#ifndef RN_GROUP_INTERNAL_H
#define RN_GROUP_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "group.h"
#include "group_store.h"
#include "store.h"

enum rn_group_state {
    RN_GROUP_EMPTY = 0,
    RN_GROUP_PREPARING_REBALANCE,
    RN_GROUP_COMPLETING_REBALANCE,
    RN_GROUP_STABLE,
    RN_GROUP_DEAD,
};

typedef rn_group_record_protocol rn_member_protocol;

struct rn_member {
    char *member_id, *group_instance_id, *client_id, *client_host;
    int32_t session_timeout_ms, rebalance_timeout_ms;
    rn_member_protocol *protocols; /* in the member's order of preference */
    int nprotocols;
    uint8_t *assignment; /* NULL: none yet */
    size_t assignment_len;
    rn_group_waiter *join_waiter, *sync_waiter;
    bool awaiting_join; /* has sent JoinGroup in the current rebalance */
    bool is_new;        /* joined in the current rebalance, never had a generation */
    bool pending_sync;  /* got a JoinGroup answer, has not sent SyncGroup yet */
    int64_t heartbeat_deadline; /* monotonic ms */
    struct rn_group *group;
};

typedef struct {
    char *member_id;
    int64_t deadline; /* monotonic ms */
} rn_pending_member;

typedef struct rn_group {
    char *group_id;
    enum rn_group_state state;
    char *protocol_type; /* NULL: no member ever joined (offsets only) */
    char *protocol_name; /* NULL: none selected */
    char *leader;        /* a member id, or NULL */
    int32_t generation_id;
    int64_t state_timestamp; /* wall-clock ms when the state was entered */
    rn_member **members;     /* in join order */
    int nmembers, members_cap;
    rn_pending_member *pending; /* MEMBER_ID_REQUIRED answered, rejoin awaited */
    int npending, pending_cap;
    int64_t join_deadline;   /* Preparing: when the join phase ends (0: none) */
    bool initial_rebalance;  /* Preparing after Empty: the initial delay applies */
    bool new_member_added;   /* ... and a member arrived during it */
    int64_t initial_remaining_ms;
    int64_t sync_deadline;   /* members still pending sync are removed then (0: none) */
} rn_group;

struct rn_coordinator {
    pthread_mutex_t lock;
    pthread_cond_t wake; /* a deadline came nearer, or stopping */
    rn_store *store;
    rn_engine *engine;
    rn_group_options opts;
    bool flush_sync;
    rn_group **groups; /* sorted by group_id */
    int ngroups, groups_cap;
    int64_t next_retention_check; /* wall-clock ms */
    int64_t tick_now;             /* inside a tick: its time (monotonic ms), else 0 */
    pthread_t thread;
    bool thread_running, stopping;
    rn_group_observer observer; /* NULL: none */
    void *observer_ctx;
};

int64_t rn_group_now_ms(void);  /* monotonic */
int64_t rn_group_wall_ms(void); /* wall clock */
const char *rn_group_state_name(enum rn_group_state s);

/* The group called id, or NULL. */
rn_group *rn_group_find(rn_coordinator *c, const char *id);
/* Find or create (Empty); NULL when out of memory. */
rn_group *rn_group_get_or_create(rn_coordinator *c, const char *id);
/* Drop a group from the registry and free it (it must have no members). */
void rn_group_remove(rn_coordinator *c, rn_group *g);
/* Write the group's record (Empty or Stable groups), not synced; the observer sees it. */
rn_err rn_group_persist(rn_coordinator *c, rn_group *g);
/* The same; observed false keeps it from the observer (restoring another's state). */
rn_err rn_group_write(rn_coordinator *c, rn_group *g, bool observed);
/* Add the removal of the group's record and all its offsets to b. */
void rn_group_delete_records(rn_coordinator *c, rn_store_batch *b, const char *group_id);
/* Whether any member of a consumer-protocol group subscribes to topic. */
bool rn_group_subscribed(const rn_group *g, const char *topic);
/* NONE, UNKNOWN_MEMBER_ID or FENCED_INSTANCE_ID (a static member must present its
 * current member id). */
rn_err rn_group_validate_member(rn_group *g, const char *member_id, const char *instance_id);
/* A commit or heartbeat from member_id extends its session. */
void rn_group_touch_member(rn_group *g, const char *member_id);
/* Offsets retention (group_offsets.c), with the lock held. */
void rn_group_expire_offsets(rn_coordinator *c, int64_t wall_now);
/* Make an Empty group for every group id that has offsets but no record (load time). */
rn_err rn_group_load_offset_groups(rn_coordinator *c);
/* Whether the group has any committed offset. */
bool rn_group_has_offsets(rn_coordinator *c, const char *group_id);

#endif
