/* server/config.c: the config table and its parser. Each row: name, type, default,
 * bounds, offset into rn_config, doc, allowed values. Invariant: every field of
 * rn_config is set by exactly one row (plus the retention aliases, which write
 * log_retention_ms), and string fields are always owned, never NULL after defaults
 * (except advertised.listeners, which may be empty). */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define OFF(f) offsetof(rn_config, f)

static const char *const timestamp_types[] = {"CreateTime", "LogAppendTime", NULL};
static const char *const log_levels[] = {"error", "warn", "info", "debug", NULL};
static const char *const client_auths[] = {"none", "requested", "required", NULL};
/* listeners=NAME://...: the index is rn_listener.protocol (rn_security_protocol). */
static const char *const security_protocols[] = {"PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL",
                                                 NULL};

const rn_config_key rn_config_keys[] = {
    {"listeners", RN_CONFIG_STRING, "PLAINTEXT://localhost:9092", 0, 0, OFF(listeners),
     "where clients connect: PLAINTEXT://host:port[,...]", NULL},
    {"advertised.listeners", RN_CONFIG_STRING, "", 0, 0, OFF(advertised_listeners),
     "addresses given to clients in Metadata (default: listeners)", NULL},
    {"node.id", RN_CONFIG_INT32, "1", 0, 2147483647, OFF(node_id), "this broker's id", NULL},
    {"data.dir", RN_CONFIG_STRING, "./data", 0, 0, OFF(data_dir), "where the RocksDB database lives",
     NULL},
    {"num.partitions", RN_CONFIG_INT32, "1", 1, 100000, OFF(num_partitions),
     "partitions of auto-created topics and of creates that ask for -1", NULL},
    {"auto.create.topics.enable", RN_CONFIG_BOOL, "true", 0, 0, OFF(auto_create_topics_enable),
     "create unknown topics when a client asks for their metadata", NULL},
    {"delete.topic.enable", RN_CONFIG_BOOL, "true", 0, 0, OFF(delete_topic_enable),
     "allow DeleteTopics", NULL},
    {"log.retention.ms", RN_CONFIG_INT64, "604800000", -1, INT64_MAX, OFF(log_retention_ms),
     "default retention by time (-1: forever); log.retention.minutes/hours are aliases", NULL},
    {"log.retention.bytes", RN_CONFIG_INT64, "-1", -1, INT64_MAX, OFF(log_retention_bytes),
     "default retention by size per partition (-1: unlimited)", NULL},
    {"log.retention.check.interval.ms", RN_CONFIG_INT64, "300000", 1, INT64_MAX,
     OFF(log_retention_check_interval_ms), "how often retention runs", NULL},
    {"log.message.timestamp.type", RN_CONFIG_STRING, "CreateTime", 0, 0,
     OFF(log_message_timestamp_type), "default message.timestamp.type of topics", timestamp_types},
    {"message.max.bytes", RN_CONFIG_INT32, "1048588", 0, 1073741824, OFF(message_max_bytes),
     "largest record batch accepted (topic max.message.bytes default)", NULL},
    {"socket.request.max.bytes", RN_CONFIG_INT32, "104857600", 1024, 2147483647,
     OFF(socket_request_max_bytes), "largest request frame; larger ones close the connection",
     NULL},
    {"connections.max.idle.ms", RN_CONFIG_INT64, "600000", 0, INT64_MAX,
     OFF(connections_max_idle_ms), "idle connections close after this (0: never)", NULL},
    {"num.network.threads", RN_CONFIG_INT32, "2", 1, 64, OFF(num_network_threads),
     "threads serving connections", NULL},
    {"socket.output.max.bytes", RN_CONFIG_INT64, "67108864", 65536, INT64_MAX,
     OFF(socket_send_buffer_limit), "a connection stops being read while this much output waits",
     NULL},
    {"fetch.max.wait.cap.ms", RN_CONFIG_INT32, "30000", 0, 2147483647, OFF(fetch_max_wait_cap_ms),
     "longest a fetch may park, whatever max_wait_ms it asks", NULL},
    {"log.flush.sync", RN_CONFIG_BOOL, "true", 0, 0, OFF(log_flush_sync),
     "fsync the WAL before acknowledging a produce", NULL},
    {"log.column.families", RN_CONFIG_INT32, "4", 1, 64, OFF(log_column_families),
     "shared log column families (fixed when the data dir is created)", NULL},
    {"log.tail.cache.bytes", RN_CONFIG_INT64, "8388608", 0, INT64_MAX, OFF(log_tail_cache_bytes),
     "recent batches kept in memory per partition", NULL},
    {"log.dir.min.free.bytes", RN_CONFIG_INT64, "536870912", 0, INT64_MAX, OFF(log_dir_min_free_bytes),
     "produce is refused (KAFKA_STORAGE_ERROR) while data.dir's filesystem has less free space "
     "(keep it above the memtables RocksDB may flush at once); 0: no check",
     NULL},
    {"rocksdb.block.cache.bytes", RN_CONFIG_INT64, "268435456", 0, INT64_MAX,
     OFF(rocksdb_block_cache_bytes), "RocksDB block cache", NULL},
    {"group.min.session.timeout.ms", RN_CONFIG_INT32, "6000", 0, 2147483647,
     OFF(group_min_session_timeout_ms), "shortest session.timeout.ms a consumer may ask", NULL},
    {"group.max.session.timeout.ms", RN_CONFIG_INT32, "1800000", 1, 2147483647,
     OFF(group_max_session_timeout_ms), "longest session.timeout.ms a consumer may ask", NULL},
    {"group.initial.rebalance.delay.ms", RN_CONFIG_INT32, "3000", 0, 2147483647,
     OFF(group_initial_rebalance_delay_ms),
     "how long a new group waits for more members before its first rebalance", NULL},
    {"group.max.size", RN_CONFIG_INT32, "2147483647", 1, 2147483647, OFF(group_max_size),
     "most members a group may have", NULL},
    {"offsets.retention.minutes", RN_CONFIG_INT64, "10080", 1, INT64_MAX / 60000,
     OFF(offsets_retention_minutes),
     "committed offsets of an empty group are dropped this long after it emptied", NULL},
    {"offsets.retention.check.interval.ms", RN_CONFIG_INT64, "600000", 1, INT64_MAX,
     OFF(offsets_retention_check_interval_ms), "how often offsets retention runs", NULL},
    {"offset.metadata.max.bytes", RN_CONFIG_INT32, "4096", 1, 65534,
     OFF(offset_metadata_max_bytes), "longest metadata string a commit may carry", NULL},
    {"http.listener", RN_CONFIG_STRING, "127.0.0.1:9644", 0, 0, OFF(http_listener),
     "host:port of the HTTP endpoint (/metrics, /health, /ready, /v1/...); empty: off", NULL},
    {"http.console.actions.enable", RN_CONFIG_BOOL, "false", 0, 0, OFF(http_console_actions_enable),
     "let the web console act (create topics, reset group offsets, reload scripts, start and "
     "stop processors); off: it only reads", NULL},
    {"plugins.dir", RN_CONFIG_STRING, "", 0, 0, OFF(plugins_dir),
     "where Lua scripts are found (empty: the lua/ folder of the source tree)", NULL},
    {"plugins.instruction.budget", RN_CONFIG_INT64, "10000000", 1000, INT64_MAX,
     OFF(plugins_instruction_budget), "Lua VM instructions one hook call may run", NULL},
    {"plugins.memory.limit.bytes", RN_CONFIG_INT64, "67108864", 1048576, INT64_MAX,
     OFF(plugins_memory_limit_bytes), "memory each thread's Lua state may use", NULL},
    {"processors.step.records", RN_CONFIG_INT32, "2000", 1, 1000000, OFF(processors_step_records),
     "records a stream processor task handles per atomic step", NULL},
    /* The cluster (net/cluster.h): empty controller.quorum.voters is a single broker. */
    {"controller.quorum.voters", RN_CONFIG_STRING, "", 0, 0, OFF(controller_quorum_voters),
     "the Raft voters of the metadata quorum: id@host:port,... (empty: a single broker)", NULL},
    {"controller.quorum.bootstrap.servers", RN_CONFIG_STRING, "", 0, 0,
     OFF(controller_quorum_bootstrap_servers),
     "Kafka host:port,... of brokers to find the controller through (a broker that is not a voter)",
     NULL},
    {"controller.quorum.listener", RN_CONFIG_STRING, "", 0, 0, OFF(controller_quorum_listener),
     "this broker's Raft host:port when it is not a voter (it joins as a standby)", NULL},
    {"controller.quorum.election.timeout.ms", RN_CONFIG_INT32, "1000", 100, 60000,
     OFF(controller_quorum_election_timeout_ms), "Raft election timeout", NULL},
    {"broker.session.timeout.ms", RN_CONFIG_INT64, "9000", 500, INT64_MAX,
     OFF(broker_session_timeout_ms),
     "a broker silent this long is fenced and its leaderships move", NULL},
    {"broker.heartbeat.interval.ms", RN_CONFIG_INT64, "2000", 50, INT64_MAX,
     OFF(broker_heartbeat_interval_ms), "how often a broker heartbeats to the controller", NULL},
    {"replica.lag.time.max.ms", RN_CONFIG_INT64, "30000", 100, INT64_MAX,
     OFF(replica_lag_time_max_ms),
     "a follower not caught up for this long leaves the in-sync replicas", NULL},
    {"default.replication.factor", RN_CONFIG_INT32, "1", 1, 32767,
     OFF(default_replication_factor), "replicas of topics created without one", NULL},
    {"min.insync.replicas", RN_CONFIG_INT32, "1", 1, 32767, OFF(min_insync_replicas),
     "acks=all needs this many in-sync replicas (topic default)", NULL},
    {"unclean.leader.election.enable", RN_CONFIG_BOOL, "false", 0, 0,
     OFF(unclean_leader_election_enable),
     "elect an out-of-sync replica when no in-sync one is left (may lose records)", NULL},
    {"offsets.topic.num.partitions", RN_CONFIG_INT32, "50", 1, 1000,
     OFF(offsets_topic_num_partitions), "partitions of __consumer_offsets (a cluster's groups)",
     NULL},
    {"offsets.topic.replication.factor", RN_CONFIG_INT32, "3", 1, 32767,
     OFF(offsets_topic_replication_factor),
     "replicas of __consumer_offsets (capped at the brokers there are)", NULL},
    {"log.level", RN_CONFIG_STRING, "info", 0, 0, OFF(log_level), "error, warn, info or debug",
     log_levels},
    {"sasl.enabled.mechanisms", RN_CONFIG_STRING, "SCRAM-SHA-256,SCRAM-SHA-512", 0, 0,
     OFF(sasl_enabled_mechanisms),
     "mechanisms SASL_PLAINTEXT/SASL_SSL listeners offer: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512", NULL},
    {"sasl.users", RN_CONFIG_STRING, "", 0, 0, OFF(sasl_users),
     "user:password,... given SCRAM credentials at start (only salted keys are stored)", NULL},
    {"ssl.certificate.location", RN_CONFIG_STRING, "", 0, 0, OFF(ssl_certificate_location),
     "PEM certificate (and chain) of SSL/SASL_SSL listeners", NULL},
    {"ssl.key.location", RN_CONFIG_STRING, "", 0, 0, OFF(ssl_key_location),
     "PEM private key of ssl.certificate.location", NULL},
    {"ssl.key.password", RN_CONFIG_STRING, "", 0, 0, OFF(ssl_key_password),
     "password of an encrypted ssl.key.location", NULL},
    {"ssl.ca.location", RN_CONFIG_STRING, "", 0, 0, OFF(ssl_ca_location),
     "PEM CA certificates that client certificates must chain to", NULL},
    {"ssl.client.auth", RN_CONFIG_STRING, "none", 0, 0, OFF(ssl_client_auth),
     "client certificates (mTLS): none, requested or required", client_auths},
    {"authorizer.class.name", RN_CONFIG_STRING, "", 0, 0, OFF(authorizer_class_name),
     "empty: no authorization; any value (e.g. kafka.security.authorizer.AclAuthorizer) turns "
     "on the built-in ACL authorizer", NULL},
    {"super.users", RN_CONFIG_STRING, "", 0, 0, OFF(super_users),
     "principals allowed everything, separated by ';' (User:admin;User:ops)", NULL},
    {"allow.everyone.if.no.acl.found", RN_CONFIG_BOOL, "false", 0, 0,
     OFF(allow_everyone_if_no_acl_found),
     "with the authorizer on: allow a resource no ACL names (default: deny)", NULL},
    {"client.quotas", RN_CONFIG_STRING, "", 0, 0, OFF(client_quotas),
     "byte rates per user and/or client id: users/alice:producer_byte_rate=1048576;"
     "clients/etl:consumer_byte_rate=2097152;users/bob/clients/x:producer_byte_rate=N", NULL},
    {"quota.producer.default", RN_CONFIG_INT64, "0", 0, INT64_MAX, OFF(quota_producer_default),
     "produce bytes/s allowed each client id no client.quotas entry names (0: unlimited)", NULL},
    {"quota.consumer.default", RN_CONFIG_INT64, "0", 0, INT64_MAX, OFF(quota_consumer_default),
     "fetch bytes/s allowed each client id no client.quotas entry names (0: unlimited)", NULL},
    {NULL, 0, NULL, 0, 0, 0, NULL, NULL},
};

/* Aliases Kafka accepts, scaled into log.retention.ms; ms beats minutes beats hours. */
typedef struct {
    const char *name;
    int64_t scale;
    int rank;
} rn_alias;
static const rn_alias aliases[] = {
    {"log.retention.minutes", 60000, 1},
    {"log.retention.hours", 3600000, 2},
};

static const rn_config_key *find_key(const char *name) {
    for (const rn_config_key *k = rn_config_keys; k->name; k++)
        if (strcmp(k->name, name) == 0) return k;
    return NULL;
}

static size_t edit_distance(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64) return 99;
    size_t d[65][65];
    for (size_t i = 0; i <= la; i++) d[i][0] = i;
    for (size_t j = 0; j <= lb; j++) d[0][j] = j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            size_t sub = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            size_t del = d[i - 1][j] + 1, ins = d[i][j - 1] + 1;
            d[i][j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
    return d[la][lb];
}

static const char *closest_key(const char *name) {
    const char *best = NULL;
    size_t best_d = 4;
    for (const rn_config_key *k = rn_config_keys; k->name; k++) {
        size_t dist = edit_distance(name, k->name);
        if (dist < best_d) {
            best_d = dist;
            best = k->name;
        }
    }
    return best;
}

static int parse_int(const char *v, int64_t *out) {
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || end == v || *end) return -1;
    *out = x;
    return 0;
}

/* Set one key from text. where is "file:line" or "--set"; -1 and a message on error. */
static int set_value(rn_config *c, const char *name, const char *value, const char *where,
                     char *err, size_t errlen) {
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++) {
        if (strcmp(name, aliases[i].name) != 0) continue;
        int64_t v;
        if (parse_int(value, &v) || v < -1 || (v > 0 && v > INT64_MAX / aliases[i].scale)) {
            snprintf(err, errlen, "%s: %s: '%s' is not a whole number of %s", where, name, value,
                     aliases[i].rank == 1 ? "minutes" : "hours");
            return -1;
        }
        /* A more precise key already set wins, as in Kafka. */
        if (c->retention_alias_rank == 0 || aliases[i].rank <= c->retention_alias_rank) {
            c->log_retention_ms = v < 0 ? -1 : v * aliases[i].scale;
            c->retention_alias_rank = aliases[i].rank;
        }
        return 0;
    }
    if (strncmp(name, "processor.", 10) == 0) { /* a processor declaration line */
        char **nk = realloc(c->processor_keys, (size_t)(c->nprocessor_keys + 1) * sizeof *nk);
        if (nk) c->processor_keys = nk;
        char **nv = realloc(c->processor_values, (size_t)(c->nprocessor_keys + 1) * sizeof *nv);
        if (nv) c->processor_values = nv;
        char *kc = strdup(name + 10), *vc = strdup(value);
        if (!nk || !nv || !kc || !vc) {
            free(kc);
            free(vc);
            snprintf(err, errlen, "%s: out of memory", where);
            return -1;
        }
        c->processor_keys[c->nprocessor_keys] = kc;
        c->processor_values[c->nprocessor_keys++] = vc;
        return 0;
    }
    const rn_config_key *k = find_key(name);
    if (!k) {
        const char *hint = closest_key(name);
        if (hint)
            snprintf(err, errlen, "%s: unknown key '%s' (did you mean '%s'?)", where, name, hint);
        else
            snprintf(err, errlen, "%s: unknown key '%s' (runnel-server --help lists them)", where,
                     name);
        return -1;
    }
    void *field = (char *)c + k->offset;
    switch (k->type) {
    case RN_CONFIG_BOOL:
        if (!strcmp(value, "true"))
            *(bool *)field = true;
        else if (!strcmp(value, "false"))
            *(bool *)field = false;
        else {
            snprintf(err, errlen, "%s: %s: '%s' is not true or false", where, name, value);
            return -1;
        }
        break;
    case RN_CONFIG_INT32:
    case RN_CONFIG_INT64: {
        int64_t v;
        if (parse_int(value, &v)) {
            snprintf(err, errlen, "%s: %s: '%s' is not a whole number", where, name, value);
            return -1;
        }
        if (v < k->min) {
            snprintf(err, errlen, "%s: %s: '%s' is below the minimum %lld", where, name, value,
                     (long long)k->min);
            return -1;
        }
        if (v > k->max) {
            snprintf(err, errlen, "%s: %s: '%s' is above the maximum %lld", where, name, value,
                     (long long)k->max);
            return -1;
        }
        if (k->type == RN_CONFIG_INT32)
            *(int32_t *)field = (int32_t)v;
        else
            *(int64_t *)field = v;
        if (!strcmp(name, "log.retention.ms")) c->retention_alias_rank = -1;
        break;
    }
    case RN_CONFIG_STRING: {
        if (k->choices) {
            bool ok = false;
            for (int i = 0; k->choices[i] && !ok; i++) ok = strcmp(value, k->choices[i]) == 0;
            if (!ok) {
                char list[256] = "";
                for (int i = 0; k->choices[i]; i++) {
                    if (i) strncat(list, ", ", sizeof list - strlen(list) - 1);
                    strncat(list, k->choices[i], sizeof list - strlen(list) - 1);
                }
                snprintf(err, errlen, "%s: %s: '%s' is not one of: %s", where, name, value, list);
                return -1;
            }
        }
        char *copy = strdup(value);
        if (!copy) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        free(*(char **)field);
        *(char **)field = copy;
        break;
    }
    }
    return 0;
}

void rn_config_defaults(rn_config *c) {
    memset(c, 0, sizeof *c);
    char err[256];
    for (const rn_config_key *k = rn_config_keys; k->name; k++)
        if (set_value(c, k->name, k->default_value, "default", err, sizeof err) != 0) abort();
    c->retention_alias_rank = 0;
}

static char *trim(char *s) {
    while (isspace((unsigned char)*s)) s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1])) *--e = 0;
    return s;
}

int rn_config_load_file(rn_config *c, const char *path, char *err, size_t errlen) {
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    char line[4096];
    int lineno = 0, rc = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char where[1100];
        snprintf(where, sizeof where, "%s:%d", path, lineno);
        if (!strchr(line, '\n') && !feof(f)) {
            snprintf(err, errlen, "%s: line longer than %zu characters", where, sizeof line - 1);
            rc = -1;
            break;
        }
        char *s = trim(line);
        if (!*s || *s == '#' || *s == '!') continue;
        char *sep = strpbrk(s, "=:");
        if (!sep) {
            snprintf(err, errlen, "%s: expected key=value, got '%s'", where, s);
            rc = -1;
            break;
        }
        *sep = 0;
        char *key = trim(s), *value = trim(sep + 1);
        if (set_value(c, key, value, where, err, errlen) != 0) {
            rc = -1;
            break;
        }
    }
    fclose(f);
    return rc;
}

int rn_config_set(rn_config *c, const char *assignment, char *err, size_t errlen) {
    const char *eq = strchr(assignment, '=');
    if (!eq || eq == assignment) {
        snprintf(err, errlen, "--set: expected key=value, got '%s'", assignment);
        return -1;
    }
    char key[256];
    size_t kl = (size_t)(eq - assignment);
    if (kl >= sizeof key) kl = sizeof key - 1;
    memcpy(key, assignment, kl);
    key[kl] = 0;
    return set_value(c, trim(key), eq + 1, "--set", err, errlen);
}

/* "PLAINTEXT://host:port,..." into out[]; what names the key for messages. */
static int parse_listeners(const char *text, rn_listener *out, int *count, const char *what,
                           char *err, size_t errlen) {
    *count = 0;
    char *copy = strdup(text), *save = NULL;
    if (!copy) return -1;
    int rc = 0;
    for (char *tok = strtok_r(copy, ",", &save); tok && !rc; tok = strtok_r(NULL, ",", &save)) {
        tok = trim(tok);
        if (!*tok) continue;
        char *sep = strstr(tok, "://");
        if (!sep) {
            snprintf(err, errlen, "%s: '%s' is not PROTOCOL://host:port", what, tok);
            rc = -1;
            break;
        }
        *sep = 0;
        int protocol = 0;
        while (security_protocols[protocol] && strcmp(tok, security_protocols[protocol]) != 0)
            protocol++;
        if (!security_protocols[protocol]) {
            snprintf(err, errlen,
                     "%s: listener protocol %s is not one of PLAINTEXT, SSL, SASL_PLAINTEXT, "
                     "SASL_SSL",
                     what, tok);
            rc = -1;
            break;
        }
        char *hostport = sep + 3, *host = hostport, *colon;
        if (*hostport == '[') { /* [::1]:9092 */
            char *close = strchr(hostport, ']');
            if (!close || close[1] != ':') {
                snprintf(err, errlen, "%s: bad IPv6 address in '%s'", what, hostport);
                rc = -1;
                break;
            }
            *close = 0;
            host = hostport + 1;
            colon = close + 1;
        } else {
            colon = strrchr(hostport, ':');
            if (!colon) {
                snprintf(err, errlen, "%s: '%s' has no port", what, hostport);
                rc = -1;
                break;
            }
            *colon = 0;
        }
        int64_t port;
        if (parse_int(colon + 1, &port) || port < 0 || port > 65535) {
            snprintf(err, errlen, "%s: port '%s' is not from 0 to 65535", what, colon + 1);
            rc = -1;
            break;
        }
        if (*count == RN_CONFIG_MAX_LISTENERS) {
            snprintf(err, errlen, "%s: at most %d listeners", what, RN_CONFIG_MAX_LISTENERS);
            rc = -1;
            break;
        }
        snprintf(out[*count].host, sizeof out[*count].host, "%s", host);
        out[*count].port = (int)port;
        out[*count].protocol = protocol;
        (*count)++;
    }
    free(copy);
    if (!rc && *count == 0) {
        snprintf(err, errlen, "%s: no listener given", what);
        rc = -1;
    }
    return rc;
}

int rn_config_finish(rn_config *c, char *err, size_t errlen) {
    if (parse_listeners(c->listeners, c->listener, &c->listener_count, "listeners", err, errlen))
        return -1;
    for (int i = 0; i < c->listener_count; i++) /* 1 SSL, 3 SASL_SSL: refused before anything opens */
        if ((c->listener[i].protocol == 1 || c->listener[i].protocol == 3) &&
            (!c->ssl_certificate_location || !*c->ssl_certificate_location ||
             !c->ssl_key_location || !*c->ssl_key_location)) {
            snprintf(err, errlen, "listeners: an SSL or SASL_SSL listener needs "
                                  "ssl.certificate.location and ssl.key.location");
            return -1;
        }
    if (c->advertised_listeners && *c->advertised_listeners) {
        if (parse_listeners(c->advertised_listeners, c->advertised, &c->advertised_count,
                            "advertised.listeners", err, errlen))
            return -1;
        if (c->advertised_count != c->listener_count) {
            snprintf(err, errlen, "advertised.listeners names %d listeners, listeners has %d",
                     c->advertised_count, c->listener_count);
            return -1;
        }
    } else {
        /* Kafka advertises the bound host; a wildcard becomes this machine's name. */
        for (int i = 0; i < c->listener_count; i++) {
            c->advertised[i] = c->listener[i];
            const char *h = c->listener[i].host;
            if (!*h || !strcmp(h, "0.0.0.0") || !strcmp(h, "::")) {
                char name[256];
                if (gethostname(name, sizeof name) != 0) snprintf(name, sizeof name, "localhost");
                name[sizeof name - 1] = 0;
                snprintf(c->advertised[i].host, sizeof c->advertised[i].host, "%s", name);
            }
        }
        c->advertised_count = c->listener_count;
    }
    return 0;
}

const char *rn_config_get_text(const rn_config *c, const rn_config_key *k, char *buf, size_t len) {
    const void *field = (const char *)c + k->offset;
    switch (k->type) {
    case RN_CONFIG_BOOL: snprintf(buf, len, "%s", *(const bool *)field ? "true" : "false"); break;
    case RN_CONFIG_INT32: snprintf(buf, len, "%d", *(const int32_t *)field); break;
    case RN_CONFIG_INT64: snprintf(buf, len, "%lld", (long long)*(const int64_t *)field); break;
    case RN_CONFIG_STRING: {
        const char *s = *(char *const *)field;
        snprintf(buf, len, "%s", s ? s : "");
        break;
    }
    }
    return buf;
}

void rn_config_free(rn_config *c) {
    for (int i = 0; i < c->nprocessor_keys; i++) {
        free(c->processor_keys[i]);
        free(c->processor_values[i]);
    }
    free(c->processor_keys);
    free(c->processor_values);
    c->processor_keys = c->processor_values = NULL;
    c->nprocessor_keys = 0;
    for (const rn_config_key *k = rn_config_keys; k->name; k++)
        if (k->type == RN_CONFIG_STRING) {
            char **field = (char **)((char *)c + k->offset);
            free(*field);
            *field = NULL;
        }
}
