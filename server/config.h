/* server/config.h: the broker's configuration: one table of keys (name, type, default,
 * bounds, offset into rn_config), read from a server.properties-style file and
 * --set key=value overrides. Kafka's names wherever Kafka has one. */
#ifndef RN_CONFIG_H
#define RN_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RN_CONFIG_MAX_LISTENERS 8

typedef struct {
    char host[256]; /* "" or "0.0.0.0": every interface */
    int port;
    int protocol;   /* 0 PLAINTEXT, 1 SSL, 2 SASL_PLAINTEXT, 3 SASL_SSL (net/server.h) */
} rn_listener;

typedef struct {
    /* listeners=PROTOCOL://host:port[,...]: PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL */
    char *listeners;
    char *advertised_listeners; /* NULL: same as listeners (with a wildcard host -> hostname) */
    rn_listener listener[RN_CONFIG_MAX_LISTENERS];
    int listener_count;
    rn_listener advertised[RN_CONFIG_MAX_LISTENERS];
    int advertised_count;

    int32_t node_id;                 /* node.id (default 1) */
    char *data_dir;                  /* data.dir (default ./data) */
    int32_t num_partitions;          /* num.partitions (default 1) */
    bool auto_create_topics_enable;  /* auto.create.topics.enable (default true) */
    bool delete_topic_enable;        /* delete.topic.enable (default true) */
    int64_t log_retention_ms;        /* log.retention.ms (default 604800000; -1 forever) */
    int64_t log_retention_bytes;     /* log.retention.bytes (default -1) */
    int64_t log_retention_check_interval_ms; /* default 300000 */
    char *log_message_timestamp_type;        /* CreateTime | LogAppendTime */
    int32_t message_max_bytes;       /* message.max.bytes (default 1048588) */
    int32_t socket_request_max_bytes;/* socket.request.max.bytes (default 104857600) */
    int64_t connections_max_idle_ms; /* connections.max.idle.ms (default 600000) */
    int32_t num_network_threads;     /* num.network.threads (default 2) */
    int64_t socket_send_buffer_limit;/* socket.output.max.bytes: stop reading above (default 64 MiB) */
    int32_t fetch_max_wait_cap_ms;   /* replica.fetch.wait.max.ms-like cap on long polls (default 30000) */
    bool log_flush_sync;             /* log.flush.sync (default true) */
    int32_t log_column_families;     /* log.column.families (default 4) */
    int64_t log_tail_cache_bytes;    /* log.tail.cache.bytes (default 8 MiB per partition) */
    int64_t rocksdb_block_cache_bytes; /* rocksdb.block.cache.bytes (default 256 MiB) */
    int64_t log_dir_min_free_bytes;  /* log.dir.min.free.bytes (default 512 MiB, 0 off) */
    int32_t group_min_session_timeout_ms;      /* default 6000 */
    int32_t group_max_session_timeout_ms;      /* default 1800000 */
    int32_t group_initial_rebalance_delay_ms;  /* default 3000 */
    int32_t group_max_size;                    /* default 2147483647 */
    int64_t offsets_retention_minutes;         /* default 10080 (7 days) */
    int64_t offsets_retention_check_interval_ms; /* default 600000 */
    int32_t offset_metadata_max_bytes;         /* default 4096 */
    char *http_listener;               /* http.listener: host:port, "" = off */
    bool http_console_actions_enable;  /* http.console.actions.enable (default false) */
    char *plugins_dir;                 /* plugins.dir ("" = the source tree's lua/) */
    int64_t plugins_instruction_budget; /* default 10,000,000 */
    int64_t plugins_memory_limit_bytes; /* default 64 MiB */
    char *log_level;                 /* log.level: error|warn|info|debug (default info) */
    char *sasl_enabled_mechanisms;   /* sasl.enabled.mechanisms (SCRAM-SHA-256,SCRAM-SHA-512) */
    char *sasl_users;                /* sasl.users: user:password,... set at start ("" none) */
    char *ssl_certificate_location;  /* ssl.certificate.location: PEM certificate (chain) */
    char *ssl_key_location;          /* ssl.key.location: PEM private key */
    char *ssl_key_password;          /* ssl.key.password: "" for an unencrypted key */
    char *ssl_ca_location;           /* ssl.ca.location: PEM CAs of client certificates */
    char *ssl_client_auth;           /* ssl.client.auth: none|requested|required */
    char *authorizer_class_name;     /* authorizer.class.name: "" no authorization; any
                                      * value: the built-in ACL authorizer */
    char *super_users;               /* super.users: User:admin;User:ops */
    bool allow_everyone_if_no_acl_found; /* allow.everyone.if.no.acl.found (default false) */
    char *client_quotas;             /* client.quotas: users/U[/clients/C]:producer_byte_rate=N;... */
    int64_t quota_producer_default;  /* quota.producer.default: bytes/s per client id (0 none) */
    int64_t quota_consumer_default;  /* quota.consumer.default: bytes/s per client id (0 none) */
    int32_t processors_step_records; /* processors.step.records (default 2000) */
    char *controller_quorum_voters;            /* "" = a single broker */
    char *controller_quorum_bootstrap_servers;
    char *controller_quorum_listener;
    int32_t controller_quorum_election_timeout_ms; /* default 1000 */
    int64_t broker_session_timeout_ms;         /* default 9000 */
    int64_t broker_heartbeat_interval_ms;      /* default 2000 */
    int64_t replica_lag_time_max_ms;           /* default 30000 */
    int32_t default_replication_factor;        /* default 1 */
    int32_t min_insync_replicas;               /* default 1 */
    bool unclean_leader_election_enable;       /* default false */
    int32_t offsets_topic_num_partitions;      /* default 50 */
    int32_t offsets_topic_replication_factor;  /* default 3 */
    /* processor.<name>.<field>=value lines, in file order (server/processor_decl.c reads
     * them): the part after "processor." and the value, owned. */
    char **processor_keys, **processor_values;
    int nprocessor_keys;
    int retention_alias_rank;        /* which key set log_retention_ms: -1 ms, 1 minutes, 2 hours */
} rn_config;

typedef enum {
    RN_CONFIG_BOOL, RN_CONFIG_INT32, RN_CONFIG_INT64, RN_CONFIG_STRING,
} rn_config_type;

typedef struct {
    const char *name;
    rn_config_type type;
    const char *default_value; /* as text, parsed like a file value */
    int64_t min, max;          /* bounds for ints; ignored otherwise */
    size_t offset;             /* offsetof(rn_config, field) */
    const char *doc;
    const char *const *choices; /* NULL-terminated allowed strings, or NULL */
} rn_config_key;

/* The table, in display order, ending with a row whose name is NULL. */
extern const rn_config_key rn_config_keys[];

/* Set every field to its default. */
void rn_config_defaults(rn_config *c);

/* Read a server.properties-style file: `key=value` (or `key: value`), `#`/`!`
 * comments, blank lines, surrounding whitespace trimmed. An unknown key, a bad value or
 * a missing file returns -1 with a message naming the file, line and key in err (e.g.
 * "conf/runnel.conf:12: unknown key 'num.partiton'"). */
int rn_config_load_file(rn_config *c, const char *path, char *err, size_t errlen);

/* Apply one "key=value" override (from --set); same checks, message names --set. */
int rn_config_set(rn_config *c, const char *assignment, char *err, size_t errlen);

/* After all sources: parse listeners/advertised.listeners into the arrays and check
 * cross-key rules. -1 with a message on error. */
int rn_config_finish(rn_config *c, char *err, size_t errlen);

/* The current value of a key as text (into buf); NULL for unknown keys. */
const char *rn_config_get_text(const rn_config *c, const rn_config_key *k, char *buf, size_t len);

/* Free the strings the config owns. */
void rn_config_free(rn_config *c);

#endif
