/* cli/common.h: what every runnel command shares: the command table entry, parsed
 * arguments, the client configuration (bootstrap servers, --set), the reachability
 * check, admin request plumbing, and error reporting with the CLI's exit codes. */
#ifndef RUNNEL_CLI_COMMON_H
#define RUNNEL_CLI_COMMON_H

#include <librdkafka/rdkafka.h>
#include <stdint.h>
#include <stdio.h>

#define CLI_OK 0      /* the operation succeeded */
#define CLI_FAILED 1  /* the operation failed (broker error, unreachable, ...) */
#define CLI_USAGE 2   /* bad command line */

#define CLI_DEFAULT_BOOTSTRAP "localhost:9092"
#define CLI_MAX_POSITIONAL 8
#define CLI_MAX_OPTIONS 256

typedef struct cli_args cli_args;

/* One option a command accepts; metavar NULL means a flag without a value. */
typedef struct {
    const char *name; /* without the leading "--" */
    const char *metavar;
    const char *help;
} cli_option;

typedef struct {
    const char *path;     /* "topic create" */
    const char *synopsis; /* "NAME [--partitions N] [--config k=v ...]" */
    const char *summary;  /* one line for the command list */
    const char *details;  /* more help text, or NULL */
    const cli_option *options; /* ends with {NULL} */
    int min_positional, max_positional;
    int (*run)(cli_args *a);
} cli_command;

struct cli_args {
    const cli_command *cmd;
    const char *positional[CLI_MAX_POSITIONAL];
    int npositional;
    struct {
        const char *name;
        const char *value;
    } opts[CLI_MAX_OPTIONS];
    int nopts;
    const char *bootstrap; /* --bootstrap, RUNNEL_BOOTSTRAP or the default */
    int json;              /* --json */
};

/* Parses argv (everything after the command words) for cmd. Returns CLI_OK, or
 * CLI_USAGE after printing the problem, or -1 after printing --help (exit 0). */
int cli_parse(const cli_command *cmd, int argc, char **argv, cli_args *a);
void cli_print_help(const cli_command *cmd, FILE *f);

/* The last value of --name, or NULL. */
const char *cli_opt(const cli_args *a, const char *name);
int cli_flag(const cli_args *a, const char *name);
/* The i-th value of a repeatable --name (NULL past the end). */
const char *cli_opt_nth(const cli_args *a, const char *name, int i);

/* Problems: "runnel: ..." on stderr. cli_usage_error also prints the synopsis. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int cli_usage_error(const cli_command *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Number parsing; 0 on success. */
int cli_parse_int64(const char *s, int64_t *out);
int cli_parse_int(const char *s, int lo, int hi, int *out);
/* Splits "k=v" into a malloc'd key and a pointer into s; NULL if there is no '='. */
char *cli_split_kv(const char *s, const char **value);

/* A librdkafka configuration with bootstrap.servers, quiet logs, the error capture
 * and every --set k=v applied. NULL after printing the error. */
rd_kafka_conf_t *cli_conf_new(const cli_args *a);
int cli_conf_set(rd_kafka_conf_t *conf, const char *k, const char *v);
/* rd_kafka_new with that configuration; NULL after printing the error. */
rd_kafka_t *cli_client_new(const cli_args *a, rd_kafka_type_t type, rd_kafka_conf_t *conf);

/* Checks that the cluster answers a metadata request within a short timeout, before
 * the handle's main queue is redirected to the consumer queue. On failure prints
 * "cannot reach broker at HOST:PORT: reason" and returns CLI_FAILED. When md is not
 * NULL it gets the full metadata (free with rd_kafka_metadata_destroy). */
int cli_check_reachable(const cli_args *a, rd_kafka_t *rk, const struct rd_kafka_metadata **md);

/* An admin client (a producer handle) that has passed the reachability check. */
rd_kafka_t *cli_admin_new(const cli_args *a);
/* Admin options with the CLI's timeouts for the given operation. */
rd_kafka_AdminOptions_t *cli_admin_options(rd_kafka_t *rk, rd_kafka_admin_op_t op);
/* Waits for the admin result of type on q; NULL after printing an error (timeout,
 * or the event's own top-level error, prefixed with what). */
rd_kafka_event_t *cli_admin_wait(rd_kafka_queue_t *q, rd_kafka_event_type_t type, const char *what);

/* Finds a topic in metadata; NULL if absent. */
const struct rd_kafka_metadata_topic *cli_find_topic(const struct rd_kafka_metadata *md, const char *topic);

/* Current time in milliseconds (monotonic). */
int64_t cli_now_ms(void);

/* The partitions of one topic a consumer owns, and which of those have reached their end
 * (enable.partition.eof): what `consume` and `bench consume` stop on. Indexed by
 * partition id; sized from the topic's metadata. */
typedef struct {
    int partition_cnt;
    char *assigned, *at_end;
} cli_partition_ends;

void cli_partition_ends_init(cli_partition_ends *e, const rd_kafka_metadata_topic_t *t);
void cli_partition_ends_free(cli_partition_ends *e);
/* parts were assigned (1) or revoked (0): either way none of them is at its end. */
void cli_partition_ends_mark(cli_partition_ends *e, const rd_kafka_topic_partition_list_t *parts,
                             int assigned);
/* Partition p reached its end (1) or got a record past it (0). */
void cli_partition_ends_set(cli_partition_ends *e, int32_t p, int at_end);
/* Whether something is owned and every owned partition is at its end. */
int cli_partition_ends_all(const cli_partition_ends *e);

/* What a rebalance callback must do with parts, for the eager and the cooperative
 * protocol alike: assign or give them up. */
void cli_rebalance_apply(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts);

#endif
