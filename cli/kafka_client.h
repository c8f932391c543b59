/* cli/kafka_client.h: a small blocking Kafka client for the requests librdkafka's admin
 * API lacks (partition reassignments): one socket, one request in flight, frames built
 * and read with the broker's own codec (net/codec.h).
 *
 * Errors are rn_err (engine/error.h): 0, a positive Kafka code the broker answered, or
 * a negative local one (RN_ERR_IO: cannot connect, send or receive; RN_ERR_PARSE: the
 * answer does not decode) with a sentence in the caller's err buffer. */
#ifndef RUNNEL_CLI_KAFKA_CLIENT_H
#define RUNNEL_CLI_KAFKA_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codec.h"
#include "error.h"

typedef struct {
    int fd; /* -1 when closed */
    int32_t next_correlation_id;
    char addr[300]; /* "host:port", for messages */
} cli_kafka_conn;

/* Connects to host:port (a connect timeout of a few seconds). */
rn_err cli_kafka_connect(cli_kafka_conn *c, const char *host, int port, char *err, size_t errlen);
void cli_kafka_close(cli_kafka_conn *c);

/* Sends body (the request's fields, without the header) under request header v1, or v2
 * when flexible, and waits for the answer. On 0, *frame is the malloc'd response (the
 * caller frees it) and resp reads its body, past the response header (v1 when flexible).
 * A broker that refuses the API or version outright (runnel answers a bare error code)
 * gives that code, e.g. RN_KAFKA_UNSUPPORTED_VERSION; a closed connection is RN_ERR_IO. */
rn_err cli_kafka_call(cli_kafka_conn *c, int16_t api_key, int16_t api_version, bool flexible,
                      const rn_writer *body, uint8_t **frame, rn_reader *resp, char *err,
                      size_t errlen);

/* Asks the first bootstrap broker that answers ("host:port,...") for Metadata v1 and
 * connects c to the active controller. RN_KAFKA_NOT_CONTROLLER when the cluster names
 * none (an election is under way). */
rn_err cli_kafka_connect_controller(const char *bootstrap, cli_kafka_conn *c, char *err,
                                    size_t errlen);

/* A controller request whose response starts with ThrottleTimeMs, ErrorCode,
 * ErrorMessage (AlterPartitionReassignments, ListPartitionReassignments): finds the
 * controller, sends, and while the answer is NOT_CONTROLLER (or there is no controller
 * yet) finds it again and resends, a few times. On 0, *frame and resp as for
 * cli_kafka_call, resp at the start of the body; the top-level error is the caller's to
 * read. */
rn_err cli_kafka_controller_call(const char *bootstrap, int16_t api_key, int16_t api_version,
                                 bool flexible, const rn_writer *body, uint8_t **frame,
                                 rn_reader *resp, char *err, size_t errlen);

#endif
