/* cli/topic_configs.h: a topic's configuration entries as the broker reports them
 * (DescribeConfigs), for `topic describe` and for `topic alter`'s merge. */
#ifndef RUNNEL_CLI_TOPIC_CONFIGS_H
#define RUNNEL_CLI_TOPIC_CONFIGS_H

#include "common.h"

typedef struct {
    char *name;
    char *value; /* NULL when the broker sent none (sensitive) */
    rd_kafka_ConfigSource_t source;
} cli_config_entry;

typedef struct {
    cli_config_entry *entries;
    size_t n;
} cli_config_set;

/* The topic's entries whose source is not the default. CLI_OK or CLI_FAILED (printed). */
int cli_topic_configs(rd_kafka_t *rk, const char *topic, cli_config_set *out);
/* Sets name=value (replacing an entry of that name); value NULL removes it. */
void cli_config_set_put(cli_config_set *s, const char *name, const char *value,
                        rd_kafka_ConfigSource_t source);
void cli_config_set_free(cli_config_set *s);

#endif
