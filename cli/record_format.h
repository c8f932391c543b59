/* cli/record_format.h: how `runnel consume` prints one record: a --format template
 * (%k key, %v value, %p partition, %o offset, %t timestamp, %h headers, %T topic, %%,
 * and \n \t \\ escapes) or one JSON object per line. */
#ifndef RUNNEL_CLI_RECORD_FORMAT_H
#define RUNNEL_CLI_RECORD_FORMAT_H

#include <librdkafka/rdkafka.h>
#include <stdio.h>

#define CLI_DEFAULT_FORMAT "%v\\n"

/* Checks a template; NULL if it is fine, else a static description of the problem. */
const char *cli_format_check(const char *fmt);
void cli_format_record(FILE *f, const char *fmt, const rd_kafka_message_t *m);
void cli_json_record(FILE *f, const rd_kafka_message_t *m);

#endif
