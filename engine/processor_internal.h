/* engine/processor_internal.h: the processor runtime's pieces (internal to engine/):
 * the step overlay (processor_state.c), a task's step (processor_task.c) and the
 * processors with their threads (processor.c). Ownership: a processor's thread owns its
 * tasks and everything in them; status readers take status_lock. */
#ifndef RN_PROCESSOR_INTERNAL_H
#define RN_PROCESSOR_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "log.h"
#include "processor.h"
#include "store.h"

/* ---- the overlay: a step's uncommitted state writes -------------------------------- */

enum { OV_ABSENT = 0, OV_PUT = 1, OV_DEL = 2 };

typedef struct {
    uint8_t *key; /* full store key; owned */
    size_t kl;
    uint8_t *val; /* owned when state is OV_PUT */
    size_t vl;
    uint8_t state;
} ov_entry;

typedef struct {
    int idx;
    uint8_t old_state;
    uint8_t *old_val; /* owned by the journal until undone or released */
    size_t old_vl;
} ov_undo;

typedef struct {
    ov_entry *e;
    int n, cap;
    int *slots; /* open addressing: entry index + 1, 0 = empty */
    int nslots;
    ov_undo *undo; /* changes since the last release: what a failed call rolls back */
    int nundo, undocap;
} rn_overlay;

void rn_overlay_init(rn_overlay *o);
void rn_overlay_free(rn_overlay *o);
/* Forget every entry (after a commit or a failed step). */
void rn_overlay_clear(rn_overlay *o);
/* OV_ABSENT (not in the overlay: ask the store), OV_PUT (*val, *vl borrowed) or OV_DEL. */
int rn_overlay_get(const rn_overlay *o, const uint8_t *key, size_t kl, const uint8_t **val,
                   size_t *vl);
/* val NULL: delete. 0, or -1 when out of memory. */
int rn_overlay_set(rn_overlay *o, const uint8_t *key, size_t kl, const uint8_t *val, size_t vl);
/* The changes since the last release stay (release) or are undone (rollback). */
void rn_overlay_release(rn_overlay *o);
void rn_overlay_rollback(rn_overlay *o);
/* Add every entry to wb as puts and deletes in the processors family. */
void rn_overlay_write(const rn_overlay *o, rn_store *s, rn_store_batch *wb);

/* Keys in [lo, hi) of the store merged with the overlay (the overlay wins), in order;
 * fn returns non-zero to stop; at most limit (<= 0: all). 0, or -1 on a storage error. */
int rn_overlay_scan(const rn_overlay *o, rn_store *s, const uint8_t *lo, size_t ll,
                    const uint8_t *hi, size_t hl, int64_t limit,
                    int (*fn)(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v,
                              size_t vl),
                    void *ctx);

/* ---- processors and tasks ---------------------------------------------------------- */

typedef struct rn_processor rn_processor;

/* A stored position: the next offset BE64 and the input topic's id (a topic deleted and
 * created again under the same name is read from its start, not from the old offset). */
#define RN_PROC_POSITION_LEN 24

typedef struct {
    char *topic;
    uint8_t topic_id[16];  /* of the topic the partition handle belongs to */
    rn_partition *p;       /* NULL: this input has no such partition (yet) */
    int64_t position;      /* committed: the next offset to process */
    int64_t step_position; /* during a step */
    rn_watcher watcher;    /* wakes the processor's thread on appends */
    bool watching;
    uint8_t *peek;         /* tasks of several inputs: the batch at step_position, copied */
    size_t peek_len;
    int64_t peek_ts;       /* its first timestamp: the merge takes the earliest input first */
} proc_input;

typedef struct {
    rn_partition *p;
    int32_t partition;
    int64_t timestamp;
    uint8_t *mem; /* key, value, headers: one block, owned */
    int32_t key_len, value_len; /* -1: null */
    size_t key_off, value_off, headers_off, headers_len;
    int32_t header_count;
    size_t size; /* an estimate of its encoded size */
} proc_emit;

struct rn_proc_task {
    rn_processor *proc;
    int32_t index;
    proc_input *in;
    int nin;
    int64_t stream_time, step_stream_time;
    void *inst; /* the program instance; NULL until opened */
    uint8_t pfx[2 + RN_PROCESSOR_NAME_MAX + 4]; /* lp(name) + task BE32 */
    size_t pfxl;
    rn_overlay ov;
    proc_emit *emits;
    int nemits, emitcap;
    int64_t emit_ts; /* the timestamp emits get now */
    int64_t next_event_due, next_wall_due; /* conservative: never later than the truth */
    bool in_call;
};

typedef struct {
    char *name;
    bool resolved, failed;
    int32_t count, max_message_bytes;
    char *partitioner;
    char **names, **values;
    int nconfigs;
    rn_partition **parts; /* count entries, resolved lazily */
} proc_output;

struct rn_processor {
    rn_processors *ps;
    rn_processor_def def;
    char *dlq;
    pthread_t thread;
    bool thread_running;
    atomic_bool stop;
    pthread_mutex_t wake_lock;
    pthread_cond_t wake_cond;
    bool wake;
    rn_proc_task **tasks; /* the thread's */
    int ntasks;
    proc_output *outs; /* noutputs + 1: the last is the DLQ */
    int nouts;

    pthread_mutex_t status_lock; /* what status readers see: */
    bool failing;
    char last_error[512];
    uint64_t records_in, records_out, dead_letters, timers_fired, steps;
    rn_processor *next;
};

struct rn_processors {
    rn_engine *engine;
    rn_store *store;
    bool flush_sync;
    rn_proc_program prog;
    rn_processors_options opts;
    pthread_mutex_t lock; /* the list and lifecycle changes */
    rn_processor *list;
};

/* Key of kind type for the task: type + lp(name) + task BE32 + rest. Returns its length
 * (at most 1 + pfxl + rl; the caller's buffer must hold it). */
size_t rn_proc_key(uint8_t *out, uint8_t type, const rn_proc_task *t, const void *rest,
                   size_t rl);
/* 'P' + lp(name) + task BE32 + topic: where a task's position in an input is stored
 * (the layout rn_proc_key gives a task). */
size_t rn_proc_position_key(uint8_t *out, const char *name, int32_t task, const char *topic);
/* type + lp(name): the prefix of every key of that type for the processor. */
size_t rn_proc_name_key(uint8_t *out, uint8_t type, const char *name);

/* A task of p for partition index (inputs resolved, positions and stream time loaded).
 * NULL with err. */
rn_proc_task *rn_proc_task_new(rn_processor *p, int32_t index, char *err, size_t errlen);
void rn_proc_task_free(rn_proc_task *t);
/* Look up inputs without a partition (created since, or recreated) and load their
 * positions. 0, or -1 on a storage error. */
int rn_proc_task_resolve(rn_proc_task *t);
/* One step: up to max_records records and the due timers, committed atomically.
 * Returns how many records and timers it handled (0: nothing to do), -1 on failure
 * (the step is discarded; the error is in the processor's last_error). */
int rn_proc_task_step(rn_proc_task *t, int max_records);
/* When the task next has a wall timer due (INT64_MAX: none). */
int64_t rn_proc_task_wall_due(const rn_proc_task *t);

/* The id of a topic now (false when it does not exist). */
bool rn_proc_topic_id(rn_engine *e, const char *topic, uint8_t id[16]);
/* Encode / decode a stored position (decode: -1 when v is not one, or is another topic's). */
void rn_proc_position_put(uint8_t v[RN_PROC_POSITION_LEN], int64_t offset, const uint8_t id[16]);
int64_t rn_proc_position_get(const uint8_t *v, size_t vl, const uint8_t id[16]);

/* Record an error for status (and the log). */
void rn_processor_set_error(rn_processor *p, bool failing, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The engine's store and sync setting, for the runtime. */
rn_store *rn_engine_store(rn_engine *e);
bool rn_engine_flush_sync(const rn_engine *e);

#endif
