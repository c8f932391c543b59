/* engine/topic_config.h: the one table of topic configs (name, type, broker default,
 * validation, doc) and the parsed values the log uses. Later issues add rows (Lua
 * hooks) to the table in topic_config.c and nowhere else. */
#ifndef RN_TOPIC_CONFIG_H
#define RN_TOPIC_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine.h"

/* What the log needs, resolved from the topic's own configs and the broker defaults. */
typedef struct {
    int64_t retention_ms;    /* -1: forever */
    int64_t retention_bytes; /* -1: unlimited */
    int32_t max_message_bytes;
    bool log_append_time;
} rn_topic_settings;

/* A topic's explicitly set configs: parallel arrays of owned strings. */
typedef struct {
    int n;
    char **names;
    char **values;
} rn_topic_configs;

/* Check one name/value (NULL: back to the default) against the table:
 * RN_KAFKA_INVALID_CONFIG naming the key (unknown) or the value (bad), with a sentence in
 * errmsg (may be NULL). */
rn_err rn_topic_config_check(const char *name, const char *value, char *errmsg, size_t errlen);

/* For a config naming a Lua script: the function the script must define ("partition",
 * "filter"), else NULL. */
const char *rn_topic_config_script_fn(const char *name);
/* Whether a config can only be given when the topic is created (view.of). */
bool rn_topic_config_create_only(const char *name);

/* Resolve settings from explicit configs over broker defaults. */
void rn_topic_config_resolve(const rn_topic_configs *c, const rn_engine_options *defaults,
                             rn_topic_settings *out);

/* Every table row with the topic's value or the default, for DescribeConfigs. */
rn_err rn_topic_config_describe(const rn_topic_configs *c, const rn_engine_options *defaults,
                                rn_config_entry **out, int *count);

/* min.insync.replicas as a topic sets it explicitly, from its described configs
 * (rn_engine_describe_topic_configs), or 0 when it does not: the broker's default applies
 * then (rn_cluster_min_insync_replicas in a cluster, 1 on a single broker). */
int32_t rn_topic_config_min_insync_replicas(const rn_config_entry *entries, int count);

/* Value of name in c, or NULL. */
const char *rn_topic_configs_get(const rn_topic_configs *c, const char *name);
/* Set (value != NULL) or remove (NULL) a name; returns -1 on allocation failure. */
int rn_topic_configs_set(rn_topic_configs *c, const char *name, const char *value);
int rn_topic_configs_copy(rn_topic_configs *dst, const rn_topic_configs *src);
void rn_topic_configs_free(rn_topic_configs *c);

/* Apply AlterConfigs (incremental=false: SETs only, NULL values skipped; start c empty)
 * or IncrementalAlterConfigs ops (SET, DELETE, APPEND/SUBTRACT on list configs) to c,
 * checking each against the table. On error c is half-changed: apply to a copy.
 * RN_KAFKA_INVALID_CONFIG, RN_KAFKA_INVALID_REQUEST (unknown op), RN_ERR_NOMEM. */
rn_err rn_topic_configs_apply(rn_topic_configs *c, const rn_config_alter *ops, int nops,
                              bool incremental, char *errmsg, size_t errlen);

#endif
