/* server/main.c: runnel-server: read the config, open the engine, start the Kafka
 * listeners, run until SIGINT/SIGTERM, then stop in reverse order. */
#include <event2/event.h>
#include <event2/thread.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "engine.h"
#include "http.h"
#include "plugins.h"
#include "cluster.h"
#include "processor.h"
#include "processor_decl.h"
#include "rnlog.h"
#include "quota.h"
#include "sasl.h"
#include "server.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: runnel-server [-c FILE] [--set key=value ...]\n"
            "\n"
            "A Kafka-compatible event streaming broker that stores partitions in RocksDB.\n"
            "\n"
            "  -c, --config FILE   read the configuration from FILE (server.properties style)\n"
            "  --set key=value     override one configuration key (repeatable; after FILE)\n"
            "  --help              show this help and every configuration key\n"
            "  --version           print the version\n"
            "\n"
            "configuration keys (defaults in brackets):\n");
    for (const rn_config_key *k = rn_config_keys; k->name; k++)
        fprintf(f, "  %-34s %s [%s]\n", k->name, k->doc ? k->doc : "",
                k->default_value ? k->default_value : "");
}

/* DescribeConfigs on the BROKER resource: every key of the config table. */
/* The live configuration: DescribeConfigs reads it on network threads while SIGHUP may
 * change the keys that apply live. */
static pthread_rwlock_t cfg_lock = PTHREAD_RWLOCK_INITIALIZER;

static rn_err describe_broker_configs(void *ctx, rn_config_entry **out, int *count) {
    const rn_config *c = ctx;
    pthread_rwlock_rdlock(&cfg_lock);
    rn_err err = RN_KAFKA_NONE;
    int n = 0;
    for (const rn_config_key *k = rn_config_keys; k->name; k++) n++;
    rn_config_entry *e = calloc((size_t)n, sizeof *e);
    if (!e) {
        pthread_rwlock_unlock(&cfg_lock);
        return RN_ERR_NOMEM;
    }
    int i = 0;
    for (const rn_config_key *k = rn_config_keys; k->name; k++, i++) {
        char buf[512];
        const char *v = rn_config_get_text(c, k, buf, sizeof buf);
        e[i].name = strdup(k->name);
        e[i].value = v ? strdup(v) : NULL;
        e[i].read_only = true;
        e[i].is_default = v && k->default_value && strcmp(v, k->default_value) == 0;
        e[i].source = e[i].is_default ? RN_CONFIG_SOURCE_DEFAULT : RN_CONFIG_SOURCE_STATIC_BROKER;
        e[i].type = k->type == RN_CONFIG_BOOL    ? 1
                    : k->type == RN_CONFIG_INT32 ? 3
                    : k->type == RN_CONFIG_INT64 ? 5
                                                 : 2;
        e[i].doc = k->doc;
        if (!e[i].name || (v && !e[i].value)) {
            rn_config_entries_free(e, i + 1);
            err = RN_ERR_NOMEM;
            break;
        }
    }
    pthread_rwlock_unlock(&cfg_lock);
    if (err) return err;
    *out = e;
    *count = n;
    return RN_KAFKA_NONE;
}

static void on_stop_signal(evutil_socket_t sig, short what, void *arg) {
    (void)what;
    rn_log_info("received %s, stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
    event_base_loopbreak(arg);
}

/* The same sources in the same order as at start: the file, then every --set. */
static int load_config(rn_config *cfg, const char *path, int argc, char **argv, char *err,
                       size_t errlen) {
    rn_config_defaults(cfg);
    if (path && rn_config_load_file(cfg, path, err, errlen) < 0) return -1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--set") != 0) continue;
        if (rn_config_set(cfg, argv[++i], err, errlen) < 0) return -1;
    }
    return rn_config_finish(cfg, err, errlen);
}

typedef struct {
    rn_plugins *plugins;
    rn_config *cfg;
    const char *path;
    int argc;
    char **argv;
} reload_ctx;

/* SIGHUP: re-read the Lua scripts in use (connections stay; a script that fails keeps
 * its previous version running), and the configuration: keys that apply live change now
 * (log.level), the others are named as waiting for a restart. */
static void on_sighup(evutil_socket_t sig, short what, void *arg) {
    (void)sig;
    (void)what;
    reload_ctx *rc = arg;
    char report[1024];
    rn_log_info("received SIGHUP: reloading Lua scripts and the configuration");
    rn_plugins_reload(rc->plugins, report, sizeof report);
    rn_config fresh;
    char err[1024];
    if (load_config(&fresh, rc->path, rc->argc, rc->argv, err, sizeof err) < 0) {
        rn_log_error("configuration not reloaded: %s", err);
        rn_config_free(&fresh);
        return;
    }
    for (const rn_config_key *k = rn_config_keys; k->name; k++) {
        char a[512], b[512];
        const char *was = rn_config_get_text(rc->cfg, k, a, sizeof a);
        const char *now = rn_config_get_text(&fresh, k, b, sizeof b);
        if (!was || !now || strcmp(was, now) == 0) continue;
        if (strcmp(k->name, "log.level") == 0) {
            char *v = strdup(now);
            if (!v) continue;
            pthread_rwlock_wrlock(&cfg_lock);
            free(rc->cfg->log_level);
            rc->cfg->log_level = v;
            pthread_rwlock_unlock(&cfg_lock);
            rn_log_set_level((enum rn_log_level)rn_log_level_parse(v));
            rn_log_info("log.level is now %s", v);
        } else {
            rn_log_warn("%s changed from %s to %s: it takes effect at the next start", k->name,
                        was, now);
        }
    }
    rn_config_free(&fresh);
}

static int check_script(void *ctx, const char *script, const char *fn, char *err, size_t errlen) {
    return rn_plugins_check(ctx, script, fn, err, errlen) != RN_KAFKA_NONE;
}

/* Create or redefine the processors the configuration declares. One that cannot start
 * (its input topic does not exist yet...) is named in the log; the broker runs on. */
static void start_declared_processors(rn_processors *ps, const rn_config *cfg) {
    rn_processor_def *defs;
    int n;
    char err[1024];
    if (rn_processor_decls(cfg, &defs, &n, err, sizeof err) != 0) {
        rn_log_error("processors in the configuration: %s", err);
        return;
    }
    for (int i = 0; i < n; i++) {
        if (rn_processors_create(ps, &defs[i], true, err, sizeof err) != RN_KAFKA_NONE)
            rn_log_error("processor %s from the configuration not started: %s", defs[i].name, err);
        rn_processor_def_free(&defs[i]);
    }
    free(defs);
}

int main(int argc, char **argv) {
    rn_config cfg;
    char err[1024];
    const char *config_path = NULL;
    int rc = 1;
    rn_quotas *quotas = NULL;
    rn_config_defaults(&cfg);

    /* The file first, then every --set in order, whatever order they were given in. */
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            rn_config_free(&cfg);
            return 0;
        } else if (!strcmp(argv[i], "--version") || !strcmp(argv[i], "-V")) {
            printf("runnel-server %s\n", RUNNEL_VERSION);
            rn_config_free(&cfg);
            return 0;
        } else if (!strcmp(argv[i], "-c") || !strcmp(argv[i], "--config")) {
            if (++i >= argc) {
                fprintf(stderr, "runnel-server: %s needs a file name\n", argv[i - 1]);
                goto out;
            }
            config_path = argv[i];
        } else if (!strcmp(argv[i], "--set")) {
            if (++i >= argc) {
                fprintf(stderr, "runnel-server: --set needs key=value\n");
                goto out;
            }
        } else {
            fprintf(stderr, "runnel-server: unknown argument '%s' (try --help)\n", argv[i]);
            goto out;
        }
    }
    rn_config_free(&cfg);
    if (load_config(&cfg, config_path, argc, argv, err, sizeof err) < 0) {
        fprintf(stderr, "runnel-server: %s\n", err);
        goto out;
    }
    rn_log_set_level((enum rn_log_level)rn_log_level_parse(cfg.log_level));
    unsigned sasl_mechanisms = 0;
    if (rn_sasl_mechanisms_parse(cfg.sasl_enabled_mechanisms, &sasl_mechanisms, err, sizeof err) < 0) {
        fprintf(stderr, "runnel-server: %s\n", err);
        goto out;
    }
    if ((cfg.client_quotas[0] || cfg.quota_producer_default > 0 || cfg.quota_consumer_default > 0) &&
        !(quotas = rn_quotas_new(cfg.client_quotas, cfg.quota_producer_default,
                                 cfg.quota_consumer_default, err, sizeof err))) {
        fprintf(stderr, "runnel-server: %s\n", err);
        goto out;
    }
    signal(SIGPIPE, SIG_IGN);
    evthread_use_pthreads();

    struct event_base *base = event_base_new();
    if (!base) {
        fprintf(stderr, "runnel-server: cannot create the event loop\n");
        goto out;
    }
    rn_engine_options eo = {
        .data_dir = cfg.data_dir,
        .node_id = cfg.node_id,
        .log_column_families = cfg.log_column_families,
        .flush_sync = cfg.log_flush_sync,
        .tail_cache_bytes = (size_t)cfg.log_tail_cache_bytes,
        .retention_check_interval_ms = cfg.log_retention_check_interval_ms,
        .rocksdb_block_cache_bytes = (size_t)cfg.rocksdb_block_cache_bytes,
        .min_free_bytes = (uint64_t)cfg.log_dir_min_free_bytes,
        .default_retention_ms = cfg.log_retention_ms,
        .default_retention_bytes = cfg.log_retention_bytes,
        .default_max_message_bytes = cfg.message_max_bytes,
        .default_log_append_time = strcmp(cfg.log_message_timestamp_type, "LogAppendTime") == 0,
        .default_partitions = cfg.num_partitions,
        .groups =
            {
                .min_session_timeout_ms = cfg.group_min_session_timeout_ms,
                .max_session_timeout_ms = cfg.group_max_session_timeout_ms,
                .initial_rebalance_delay_ms = cfg.group_initial_rebalance_delay_ms,
                .max_size = cfg.group_max_size,
                .offsets_retention_ms = cfg.offsets_retention_minutes * 60000,
                .offsets_retention_check_interval_ms = cfg.offsets_retention_check_interval_ms,
                .offset_metadata_max_bytes = cfg.offset_metadata_max_bytes,
            },
        .coordinator_thread = true,
        .replicated = cfg.controller_quorum_voters[0] != 0,
    };
    rn_plugins_options po = {
        .dir = cfg.plugins_dir[0] ? cfg.plugins_dir : RUNNEL_LUA_DIR,
        .instruction_budget = cfg.plugins_instruction_budget,
        .memory_limit = (size_t)cfg.plugins_memory_limit_bytes,
    };
    rn_plugins *plugins = NULL;
    if (rn_plugins_open(&po, &plugins, err, sizeof err) != 0) {
        fprintf(stderr, "runnel-server: Lua plugin host: %s\n", err);
        event_base_free(base);
        goto out;
    }
    eo.script_check = check_script;
    eo.script_check_ctx = plugins;
    rn_engine *engine = NULL;
    if (rn_engine_open(&eo, &engine, err, sizeof err) != 0) {
        fprintf(stderr, "runnel-server: cannot open data.dir %s: %s\n", cfg.data_dir, err);
        rn_plugins_close(plugins);
        event_base_free(base);
        goto out;
    }
    if (cfg.sasl_users[0] && rn_sasl_bootstrap_users(engine, cfg.sasl_users, err, sizeof err) < 0) {
        fprintf(stderr, "runnel-server: %s\n", err);
        rn_engine_close(engine);
        rn_plugins_close(plugins);
        event_base_free(base);
        goto out;
    }

    rn_proc_program prog;
    rn_plugins_processor_program(plugins, &prog);
    rn_processors_options pro = {
        .max_records_per_step = cfg.processors_step_records,
        .unavailable = cfg.controller_quorum_voters[0]
                           ? "stream processors run on a single broker for now: in a cluster their "
                             "state and input positions would stay in one broker's store, "
                             "unreplicated, and a leader change would break exactly-once"
                           : NULL,
    };
    rn_processors *processors = NULL;
    if (rn_processors_open(engine, &prog, &pro, &processors, err, sizeof err) != 0) {
        fprintf(stderr, "runnel-server: stream processors: %s\n", err);
        rn_engine_close(engine);
        rn_plugins_close(plugins);
        event_base_free(base);
        goto out;
    }
    start_declared_processors(processors, &cfg);

    rn_server_options so = {
        .engine = engine,
        .node_id = cfg.node_id,
        .listener_count = cfg.listener_count,
        .network_threads = cfg.num_network_threads,
        .socket_request_max_bytes = cfg.socket_request_max_bytes,
        .output_high_water = (size_t)cfg.socket_send_buffer_limit,
        .connections_max_idle_ms = cfg.connections_max_idle_ms,
        .auto_create_topics = cfg.auto_create_topics_enable,
        .delete_topic_enable = cfg.delete_topic_enable,
        .message_max_bytes = cfg.message_max_bytes,
        .fetch_max_wait_cap_ms = cfg.fetch_max_wait_cap_ms,
        .describe_broker_configs = describe_broker_configs,
        .describe_broker_ctx = &cfg,
        .plugins = plugins,
        .sasl_mechanisms = sasl_mechanisms,
        .authorizer_enabled = cfg.authorizer_class_name[0] != 0,
        .super_users = cfg.super_users,
        .allow_everyone_if_no_acl_found = cfg.allow_everyone_if_no_acl_found,
        .quotas = quotas,
        .tls = {.certificate_location = cfg.ssl_certificate_location,
                .key_location = cfg.ssl_key_location,
                .key_password = cfg.ssl_key_password,
                .ca_location = cfg.ssl_ca_location,
                .client_auth = !strcmp(cfg.ssl_client_auth, "required")    ? RN_TLS_CLIENT_AUTH_REQUIRED
                               : !strcmp(cfg.ssl_client_auth, "requested") ? RN_TLS_CLIENT_AUTH_REQUESTED
                                                                           : RN_TLS_CLIENT_AUTH_NONE},
    };
    for (int i = 0; i < cfg.listener_count && i < RN_SERVER_MAX_LISTENERS; i++) {
        so.listeners[i].protocol = (rn_security_protocol)cfg.listener[i].protocol;
        snprintf(so.listeners[i].host, sizeof so.listeners[i].host, "%s", cfg.listener[i].host);
        so.listeners[i].port = cfg.listener[i].port;
        const rn_listener *adv = i < cfg.advertised_count ? &cfg.advertised[i] : &cfg.listener[i];
        snprintf(so.advertised[i].host, sizeof so.advertised[i].host, "%s", adv->host);
        so.advertised[i].port = adv->port;
    }
    rn_cluster *cluster = NULL;
    if (cfg.controller_quorum_voters[0]) {
        char raft_dir[4096];
        snprintf(raft_dir, sizeof raft_dir, "%s/raft", cfg.data_dir);
        rn_cluster_options co = {
            .engine = engine,
            .node_id = cfg.node_id,
            .voters = cfg.controller_quorum_voters,
            .bootstrap = cfg.controller_quorum_bootstrap_servers,
            .raft_listener = cfg.controller_quorum_listener,
            .raft_dir = raft_dir,
            .host = so.advertised[0].host,
            .port = so.advertised[0].port,
            .session_timeout_ms = cfg.broker_session_timeout_ms,
            .heartbeat_interval_ms = cfg.broker_heartbeat_interval_ms,
            .replica_lag_time_max_ms = cfg.replica_lag_time_max_ms,
            .default_replication_factor = cfg.default_replication_factor,
            .min_insync_replicas = cfg.min_insync_replicas,
            .unclean_leader_election = cfg.unclean_leader_election_enable,
            .offsets_topic_partitions = cfg.offsets_topic_num_partitions,
            .offsets_topic_replication_factor = cfg.offsets_topic_replication_factor,
            .election_timeout_ms = (unsigned)cfg.controller_quorum_election_timeout_ms,
        };
        if (so.listeners[0].protocol != RN_SECURITY_PLAINTEXT)
            rn_log_warn("cluster: brokers talk to each other over the first listener, which "
                        "must be PLAINTEXT for now (inter-broker TLS and SASL are later work)");
        cluster = rn_cluster_start(&co, err, sizeof err);
        if (!cluster) {
            fprintf(stderr, "runnel-server: cluster: %s\n", err);
            rn_processors_close(processors);
            rn_engine_close(engine);
            rn_plugins_close(plugins);
            event_base_free(base);
            goto out;
        }
        so.cluster = cluster;
    }
    if (so.authorizer_enabled)
        rn_log_info("authorization on: the built-in ACL authorizer (authorizer.class.name=%s), "
                    "%d ACL bindings, super.users=%s, allow.everyone.if.no.acl.found=%s",
                    cfg.authorizer_class_name, rn_acls_count(rn_engine_acls(engine)),
                    cfg.super_users[0] ? cfg.super_users : "(none)",
                    cfg.allow_everyone_if_no_acl_found ? "true" : "false");
    else
        rn_log_info("authorization off (authorizer.class.name is empty): every principal may "
                    "do everything");
    if (quotas)
        rn_log_info("client quotas on: client.quotas=%s, quota.producer.default=%lld, "
                    "quota.consumer.default=%lld",
                    cfg.client_quotas[0] ? cfg.client_quotas : "(none)",
                    (long long)cfg.quota_producer_default, (long long)cfg.quota_consumer_default);
    rn_server *server = rn_server_start(base, &so, err, sizeof err);
    if (!server) {
        fprintf(stderr, "runnel-server: %s\n", err);
        rn_cluster_stop(cluster);
        rn_processors_close(processors);
        rn_engine_close(engine);
        rn_plugins_close(plugins);
        event_base_free(base);
        goto out;
    }
    rn_http *http = NULL;
    if (cfg.http_listener[0]) {
        rn_http_options ho = {.server = server, .engine = engine, .plugins = plugins,
                              .processors = processors,
                              .console_actions = cfg.http_console_actions_enable,
                              .cluster = cluster};
        const char *colon = strrchr(cfg.http_listener, ':');
        char *end = NULL;
        long port = colon ? strtol(colon + 1, &end, 10) : -1;
        if (!colon || !end || *end || port < 0 || port > 65535 ||
            (size_t)(colon - cfg.http_listener) >= sizeof ho.host) {
            fprintf(stderr, "runnel-server: http.listener=%s: expected host:port\n", cfg.http_listener);
            rn_server_stop(server);
            rn_cluster_stop(cluster);
            rn_processors_close(processors);
            rn_engine_close(engine);
            rn_plugins_close(plugins);
            event_base_free(base);
            goto out;
        }
        memcpy(ho.host, cfg.http_listener, (size_t)(colon - cfg.http_listener));
        ho.port = (int)port;
        http = rn_http_start(base, &ho, err, sizeof err);
        if (!http) {
            fprintf(stderr, "runnel-server: %s\n", err);
            rn_server_stop(server);
            rn_cluster_stop(cluster);
            rn_processors_close(processors);
            rn_engine_close(engine);
            rn_plugins_close(plugins);
            event_base_free(base);
            goto out;
        }
        rn_log_info("HTTP endpoint on %s:%d (/metrics, /health, /ready, /v1/plugins)", ho.host,
                    rn_http_port(http));
    }
    struct event *sigint = evsignal_new(base, SIGINT, on_stop_signal, base);
    struct event *sigterm = evsignal_new(base, SIGTERM, on_stop_signal, base);
    reload_ctx reload = {plugins, &cfg, config_path, argc, argv};
    struct event *sighup = evsignal_new(base, SIGHUP, on_sighup, &reload);
    event_add(sigint, NULL);
    event_add(sigterm, NULL);
    event_add(sighup, NULL);
    for (int i = 0; i < cfg.listener_count; i++)
        rn_log_info("runnel %s node %d listening on %s:%d (advertised as %s:%d), data in %s",
                    RUNNEL_VERSION, cfg.node_id, so.listeners[i].host, rn_server_port(server, i),
                    so.advertised[i].host, so.advertised[i].port, cfg.data_dir);

    event_base_dispatch(base);

    rn_http_stop(http);
    rn_server_stop(server);
    rn_cluster_stop(cluster);
    rn_processors_close(processors);
    rn_engine_close(engine);
    rn_plugins_close(plugins);
    event_free(sigint);
    event_free(sigterm);
    event_free(sighup);
    event_base_free(base);
    rn_log_info("stopped cleanly");
    rc = 0;
out:
    rn_quotas_free(quotas);
    rn_config_free(&cfg);
    return rc;
}
