/* plugins/plugins.h: the Lua plugin host's contract. Scripts live under plugins.dir and
 * are named by their path relative to it ("partitioners/murmur2.lua"). Each thread that
 * calls a hook gets its own lua_State (made on its first call, or by
 * rn_plugins_thread_start); every state runs the same validated version of each script.
 *
 * A script is run once per state in its own sandboxed environment and defines the hook
 * functions as globals:
 *   partition(record, partition_count, config) -> index      (partitioner.script)
 *   filter(record, config) -> true | false | record | nil, reason  (filters)
 * record is a table {key, value, headers = {{name, value}...}, timestamp, topic,
 * partition, offset}; config is the topic's configs as a table of strings (read-only:
 * a state reuses it across calls).
 *
 * Limits hold per call (an instruction budget) and per state (a memory cap): a script
 * that loops or allocates without end gets an error for that record, nothing else
 * stops. Errors carry the script name, line and a traceback.
 *
 * Thread-safe: any thread may call any function; a state is only ever used by the thread
 * that owns it. */
#ifndef RN_PLUGINS_H
#define RN_PLUGINS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "processor.h"

typedef struct rn_plugins rn_plugins;

typedef struct {
    const char *dir;             /* plugins.dir */
    int64_t instruction_budget;  /* plugins.instruction.budget: VM instructions per call */
    size_t memory_limit;         /* plugins.memory.limit.bytes: per lua_State */
} rn_plugins_options;

rn_err rn_plugins_open(const rn_plugins_options *opts, rn_plugins **out, char *err, size_t errlen);
/* After every thread that used it has stopped. */
void rn_plugins_close(rn_plugins *p);

/* Make the calling thread's state now (network threads call it at start). */
void rn_plugins_thread_start(rn_plugins *p);

/* Whether a script can be used: the name is a relative path inside plugins.dir, the file
 * exists, compiles, runs, and defines the function `fn` ("partition" or "filter").
 * RN_KAFKA_INVALID_CONFIG with a sentence in err otherwise. */
rn_err rn_plugins_check(rn_plugins *p, const char *script, const char *fn, char *err,
                        size_t errlen);

/* Re-read every script in use from disk. A changed script that compiles and runs becomes
 * the version every state uses from its next call; one that fails keeps the old version
 * and is named in report with the reason. Returns how many scripts failed. */
int rn_plugins_reload(rn_plugins *p, char *report, size_t len);

/* ---- records ------------------------------------------------------------------------ */

typedef struct {
    const uint8_t *name;
    int32_t name_len;
    const uint8_t *value; /* NULL: null value */
    int32_t value_len;
} rn_plugin_header;

/* A record as a hook sees it. Pointers are the caller's, valid during the call. */
typedef struct {
    const char *topic;
    int32_t partition;  /* -1: not known */
    int64_t offset;     /* -1: not known (produce) */
    int64_t timestamp;
    const uint8_t *key; /* NULL: null key */
    int32_t key_len;
    const uint8_t *value;
    int32_t value_len;
    const rn_plugin_header *headers;
    int nheaders;
} rn_plugin_record;

/* A topic's configs, given to scripts as their third/second argument. */
typedef struct {
    const char *const *names;
    const char *const *values;
    int n;
} rn_plugin_config;

/* Call partition(record, count, config). *index in [0, count) on success; otherwise an
 * error (RN_KAFKA_INVALID_RECORD: the script failed or returned something else) and a
 * sentence in err naming the script, the line and why. */
rn_err rn_plugins_partition(rn_plugins *p, const char *script, const rn_plugin_record *rec,
                            int32_t count, const rn_plugin_config *config, int32_t *index,
                            char *err, size_t errlen);

enum rn_filter_verdict {
    RN_FILTER_KEEP = 0,
    RN_FILTER_DROP,
    RN_FILTER_REWRITE, /* *out holds the new record */
    RN_FILTER_REJECT,  /* err holds the script's reason */
    RN_FILTER_ERROR,   /* the script failed: err says where and why */
};

/* A rewritten record: one malloc'd block owned by the caller (free with
 * rn_plugin_record_out_free). The table the script returns IS the record: a key, value
 * or headers field it leaves out (or sets to nil) is null / none; only a missing or
 * non-integer timestamp keeps the original's. Fields are read raw (no metamethods). */
typedef struct {
    rn_plugin_record rec;
    void *mem;
} rn_plugin_record_out;
void rn_plugin_record_out_free(rn_plugin_record_out *o);

/* Call filter(record, config). */
enum rn_filter_verdict rn_plugins_filter(rn_plugins *p, const char *script,
                                         const rn_plugin_record *rec,
                                         const rn_plugin_config *config,
                                         rn_plugin_record_out *out, char *err, size_t errlen);

/* ---- stream processors ------------------------------------------------------------- */

/* The program engine/processor.h runs: each task gets its own lua_State (with the
 * host's limits) running the script, which defines process(record, ctx) and may define
 * on_timer(timer, ctx); ctx is described in lua/README.md ("Processors"). */
void rn_plugins_processor_program(rn_plugins *p, rn_proc_program *out);

/* Counters since open (for metrics and tests). */
typedef struct {
    uint64_t calls, errors, budget_exceeded, memory_exceeded, reloads, reload_failures;
    uint64_t time_us; /* spent in hook calls (building arguments, the script, results) */
} rn_plugins_stats;
void rn_plugins_get_stats(rn_plugins *p, rn_plugins_stats *out);

#endif
