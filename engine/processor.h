/* engine/processor.h: stream processors inside the broker, exactly once.
 *
 * A processor is a program (a Lua script; plugins/ provides it through rn_proc_program)
 * that reads the committed records of its input topics straight from the engine, keeps
 * state, and emits records to its output topics. It runs as tasks: task i reads
 * partition i of every input that has one (inputs must be co-partitioned for joins),
 * in offset order, on the processor's own thread (never a network thread).
 *
 * Exactly once: a task works in steps of up to a few thousand records. A step's emitted
 * records, its state changes, its timers, its dead-letter records and the task's input
 * positions and stream time are written in ONE RocksDB write batch
 * (rn_log_append_atomic); a crash before it leaves no trace of the step, after it
 * leaves all of it, and the next step starts from the stored positions.
 *
 * A record whose process() raises (or breaks the Lua limits) has its state changes,
 * emits and timers discarded and goes to the dead-letter topic "<name>.dlq" with the
 * error in the header "error" (and "source.topic", "source.partition",
 * "source.offset"); processing goes on.
 *
 * Stored in the `processors` column family (lp(name) = BE16 length + name):
 *   'D' + name                          -> definition (processor.c)
 *   'P' + lp(name) + task BE32 + topic  -> next input offset BE64
 *   'M' + lp(name) + task BE32          -> stream time BE64
 *   'S' + lp(name) + task BE32 + key    -> state value
 *   'T' + lp(name) + task BE32 + kind + at BE64 (sign-flipped) + timer name -> payload
 *   'N' + lp(name) + task BE32 + kind + timer name -> at BE64 (sign-flipped)
 *
 * Thread-safe: the admin functions may be called from any thread. */
#ifndef RN_PROCESSOR_H
#define RN_PROCESSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "error.h"

#define RN_PROCESSOR_NAME_MAX 200   /* leaves room for ".dlq" in a topic name */
#define RN_PROCESSOR_STATE_KEY_MAX 1024
#define RN_PROCESSOR_SCAN_PREFIX_MAX 800

typedef struct rn_processors rn_processors;
typedef struct rn_proc_task rn_proc_task;

/* What a user declares. All strings owned by the struct (rn_processor_def_free). */
typedef struct {
    char *name;   /* [a-zA-Z0-9._-], 1..RN_PROCESSOR_NAME_MAX */
    char *script; /* relative to plugins.dir, e.g. "processors/router.lua" */
    char **inputs;
    int ninputs;
    char **outputs;
    int noutputs;
    char **option_names, **option_values; /* the script's options (ctx.options) */
    int noptions;
    bool stopped; /* the desired state, kept across restarts */
} rn_processor_def;

void rn_processor_def_free(rn_processor_def *d);

/* ---- the program (plugins/ implements it) -------------------------------------------- */

/* A record as the program sees it; pointers valid during the call. */
typedef struct {
    const char *topic;
    int32_t partition;
    int64_t offset;
    int64_t timestamp;
    const uint8_t *key; /* NULL: null key */
    int32_t key_len;
    const uint8_t *value;
    int32_t value_len;
    const uint8_t *headers; /* encoded as in batches (rn_record_header_next) */
    size_t headers_len;
    int32_t header_count;
} rn_proc_record;

enum rn_timer_kind { RN_TIMER_EVENT = 'e', RN_TIMER_WALL = 'w' };

typedef struct {
    const char *name;
    size_t name_len;
    int kind; /* enum rn_timer_kind */
    int64_t at;
    const uint8_t *payload; /* NULL: none */
    size_t payload_len;
} rn_proc_timer;

typedef struct {
    /* A program instance for one task; NULL with a sentence in err. The instance calls
     * the rn_proc_* functions below with t, only during process/timer calls. */
    void *(*open)(void *ctx, const rn_processor_def *def, rn_proc_task *t, char *err,
                  size_t errlen);
    /* 0, or -1 with "script:line: message" in err (the record goes to the DLQ). */
    int (*process)(void *inst, const rn_proc_record *rec, char *err, size_t errlen);
    int (*timer)(void *inst, const rn_proc_timer *timer, char *err, size_t errlen);
    void (*close)(void *inst);
    /* Whether the script can run as a processor (compiles, defines process()). */
    int (*check)(void *ctx, const char *script, char *err, size_t errlen);
    /* An output topic's Lua partitioner: 0 and *index, or -1 with err. */
    int (*partition)(void *ctx, const char *script, const rn_proc_record *rec, int32_t count,
                     const char *const *names, const char *const *values, int nconfigs,
                     int32_t *index, char *err, size_t errlen);
    void *ctx;
} rn_proc_program;

/* ---- what a program may do during a call (t is the task it was opened for) ----------- */

const char *rn_proc_name(const rn_proc_task *t);
int32_t rn_proc_task_index(const rn_proc_task *t);
/* The max record timestamp the task has seen (this record included); -1 before any. */
int64_t rn_proc_stream_time(const rn_proc_task *t);

/* Emit a record to one of the declared outputs: placed in `partition` if >= 0, else by
 * the topic's partitioner.script, else murmur2 of the key, else (null key) the task's
 * index modulo the partition count. Its timestamp is the input record's (a timer's: its
 * time). 0, or -1 with a sentence in err (unknown output, partition out of range,
 * too large, a partitioner error): the caller raises it. */
int rn_proc_emit(rn_proc_task *t, const char *topic, const uint8_t *key, int32_t key_len,
                 const uint8_t *value, int32_t value_len, const uint8_t *headers,
                 size_t headers_len, int32_t header_count, int32_t partition, char *err,
                 size_t errlen);

/* State of this task. get: 1 and a malloc'd *val (caller frees), 0 when absent, -1 on a
 * storage error. put/delete: 0 or -1 with err (key too long). */
int rn_proc_state_get(rn_proc_task *t, const uint8_t *key, size_t kl, uint8_t **val,
                      size_t *vl, char *err, size_t errlen);
int rn_proc_state_put(rn_proc_task *t, const uint8_t *key, size_t kl, const uint8_t *val,
                      size_t vl, char *err, size_t errlen);
int rn_proc_state_delete(rn_proc_task *t, const uint8_t *key, size_t kl, char *err,
                         size_t errlen);
/* Every key starting with prefix, in byte order, as of the call (limit <= 0: all):
 * each is passed to fn (return non-zero to stop). 0, or -1 with err. */
int rn_proc_state_scan(rn_proc_task *t, const uint8_t *prefix, size_t pl, int64_t limit,
                       int (*fn)(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v,
                                 size_t vl),
                       void *ctx, char *err, size_t errlen);

/* Timers: (kind, name) names one; scheduling it again moves it. An event timer fires once
 * stream time >= at, a wall timer once the clock passes at; they fire in (at, name) order. */
int rn_proc_schedule(rn_proc_task *t, int kind, const char *name, size_t name_len, int64_t at,
                     const uint8_t *payload, size_t payload_len, char *err, size_t errlen);
int rn_proc_cancel(rn_proc_task *t, int kind, const char *name, size_t name_len, char *err,
                   size_t errlen);

/* ---- the runtime ------------------------------------------------------------------- */

typedef struct {
    int32_t max_records_per_step; /* processors.step.records (default 2000) */
    /* Non-NULL: processors cannot run here, and this sentence says why (a cluster member:
     * a processor's state and positions live in the broker's own store, unreplicated, so
     * a leader change would break exactly-once). Nothing is loaded or started; creates
     * are refused with RN_KAFKA_INVALID_REQUEST and the sentence. */
    const char *unavailable;
} rn_processors_options;

/* Load every stored processor and start those not stopped. */
rn_err rn_processors_open(rn_engine *e, const rn_proc_program *prog,
                          const rn_processors_options *opts, rn_processors **out, char *err,
                          size_t errlen);
/* Stop every processor thread (a running step finishes), free. */
void rn_processors_close(rn_processors *ps);

/* Create (or, with replace, redefine: positions and state are kept when the inputs are
 * the same) and start unless def->stopped. Checks the name, the script, that inputs exist
 * and are not views, that outputs are not views; creates missing outputs (num.partitions)
 * and "<name>.dlq" (1 partition). RN_KAFKA_INVALID_CONFIG / INVALID_REQUEST /
 * DUPLICATE_RESOURCE / UNKNOWN_TOPIC_OR_PARTITION with a sentence in err. */
rn_err rn_processors_create(rn_processors *ps, const rn_processor_def *def, bool replace,
                            char *err, size_t errlen);
/* Stop it and remove its definition, positions, state and timers (not its topics). */
rn_err rn_processors_delete(rn_processors *ps, const char *name, char *err, size_t errlen);
rn_err rn_processors_start(rn_processors *ps, const char *name, char *err, size_t errlen);
rn_err rn_processors_stop(rn_processors *ps, const char *name, char *err, size_t errlen);

#define RN_PROCESSOR_RESET_EARLIEST (-2)
#define RN_PROCESSOR_RESET_LATEST (-1)
/* Move a stopped processor's positions (input NULL: every input; partition -1: every
 * task) to offset (>= 0, or EARLIEST / LATEST; clamped into the log), and unless
 * keep_state clear its state and timers. RN_KAFKA_INVALID_REQUEST while it runs. */
rn_err rn_processors_reset(rn_processors *ps, const char *name, const char *input,
                           int32_t partition, int64_t offset, bool keep_state, char *err,
                           size_t errlen);

typedef struct {
    char *topic;
    int32_t partition;
    int64_t position;       /* next offset to process */
    int64_t high_watermark; /* -1: the partition is gone */
} rn_proc_position;

typedef struct {
    rn_processor_def def;
    const char *status;    /* "running", "stopped", "failing" (static) */
    char *last_error;      /* NULL or the last error (a DLQ'd record's or a step's) */
    int ntasks;
    rn_proc_position *positions;
    int npositions;
    int64_t lag;           /* sum of high watermark - position */
    uint64_t records_in, records_out, dead_letters, timers_fired, steps; /* since start */
    int64_t stream_time_min; /* the smallest task stream time (-1: none yet) */
} rn_processor_status;

/* Status of one processor (name) or all (name NULL), sorted by name. NULL name and no
 * processors: *n = 0. RN_KAFKA_RESOURCE_NOT_FOUND for an unknown name. Free with
 * rn_processor_status_free. */
rn_err rn_processors_status(rn_processors *ps, const char *name, rn_processor_status **out,
                            int *n);
void rn_processor_status_free(rn_processor_status *s, int n);

#endif
