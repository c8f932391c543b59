/* tests/unit/test_api_controller.c: the controller's APIs on a single broker (no
 * cluster): an in-process broker (engine in a temporary dir, one network thread) served
 * over a socketpair. The cluster RPCs answer NOT_CONTROLLER, reassignments know only this
 * node, and CreateTopics, CreatePartitions, AlterConfigs and DeleteTopics behave as they
 * did before cluster mode. The cluster paths need a quorum: tests/integration. */
#include <criterion/criterion.h>
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "api.h"
#include "codec.h"
#include "engine.h"
#include "rnlog.h"
#include "server.h"

static rn_engine *engine;
static rn_server *server;
static struct event_base *base;
static char dir[] = "/tmp/runnel-api-controller-XXXXXX";
static int client = -1;
static rn_writer resp_buf;

static void setup(void) {
    signal(SIGPIPE, SIG_IGN);
    rn_log_set_level(RN_LOG_ERROR);
    cr_assert_not_null(mkdtemp(dir));
    rn_engine_options eo = {.data_dir = dir, .node_id = 1, .log_column_families = 2,
                            .tail_cache_bytes = 1 << 20, .rocksdb_block_cache_bytes = 8 << 20,
                            .default_retention_ms = -1, .default_retention_bytes = -1,
                            .default_max_message_bytes = 1 << 20, .default_partitions = 2};
    char err[512];
    cr_assert_eq(rn_engine_open(&eo, &engine, err, sizeof err), 0, "%s", err);
    cr_assert_eq(rn_engine_create_topic(engine, "t", 3, NULL, 0, false, NULL, 0), 0);
    base = event_base_new();
    rn_server_options so = {.engine = engine, .node_id = 1, .network_threads = 1,
                            .socket_request_max_bytes = 1 << 20, .output_high_water = 1 << 20,
                            .connections_max_idle_ms = 60000, .delete_topic_enable = true,
                            .message_max_bytes = 1 << 20, .fetch_max_wait_cap_ms = 5};
    snprintf(so.advertised[0].host, sizeof so.advertised[0].host, "localhost");
    so.advertised[0].port = 9092;
    server = rn_server_start(base, &so, err, sizeof err);
    cr_assert_not_null(server, "%s", err);
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    rn_server_adopt(server, sv[1]);
    client = sv[0];
    rn_writer_init(&resp_buf, 0, false);
}

static void teardown(void) {
    close(client);
    rn_writer_free(&resp_buf);
    rn_server_stop(server);
    rn_engine_close(engine);
    event_base_free(base);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

static void read_full(void *p, size_t n) {
    for (size_t off = 0; off < n;) {
        ssize_t got = read(client, (uint8_t *)p + off, n - off);
        cr_assert_gt(got, 0, "the broker closed the connection");
        off += (size_t)got;
    }
}

/* Send one request (body as built) and return a reader over the response body. */
static rn_reader call(int16_t key, int16_t version, rn_writer *body) {
    static int32_t correlation_id;
    bool flexible = rn_api_flexible(rn_api_find(key), version);
    rn_writer f;
    rn_writer_init(&f, 64, false);
    size_t size_at = rn_write_i32_placeholder(&f);
    rn_write_i16(&f, key);
    rn_write_i16(&f, version);
    rn_write_i32(&f, ++correlation_id);
    rn_write_string(&f, "test");
    if (flexible) rn_write_uvarint(&f, 0);
    rn_write_raw(&f, body->buf, body->len);
    rn_write_i32_at(&f, size_at, (int32_t)(f.len - 4));
    cr_assert_eq(write(client, f.buf, f.len), (ssize_t)f.len);
    rn_writer_free(&f);
    rn_writer_free(body);

    uint8_t size[4];
    read_full(size, 4);
    resp_buf.len = 0;
    uint8_t *p = rn_writer_reserve(&resp_buf, rn_be32(size));
    read_full(p, rn_be32(size));
    resp_buf.len = rn_be32(size);
    rn_reader r;
    rn_reader_init(&r, resp_buf.buf, resp_buf.len, flexible);
    int32_t got_id;
    cr_assert_eq(rn_read_i32(&r, &got_id), 0);
    cr_assert_eq(got_id, correlation_id);
    if (flexible) cr_assert_eq(rn_read_tags(&r), 0);
    return r;
}

static rn_writer body_for(int16_t key, int16_t version) {
    rn_writer w;
    rn_writer_init(&w, 64, rn_api_flexible(rn_api_find(key), version));
    return w;
}

static int16_t i16(rn_reader *r) {
    int16_t v;
    cr_assert_eq(rn_read_i16(r, &v), 0);
    return v;
}
static int32_t i32(rn_reader *r) {
    int32_t v;
    cr_assert_eq(rn_read_i32(r, &v), 0);
    return v;
}
static int64_t i64(rn_reader *r) {
    int64_t v;
    cr_assert_eq(rn_read_i64(r, &v), 0);
    return v;
}
static int32_t array(rn_reader *r) {
    int32_t n;
    cr_assert_eq(rn_read_array_len(r, &n, 0), 0);
    return n;
}
static void skip_string(rn_reader *r) {
    rn_bytes s;
    cr_assert_eq(rn_read_string(r, &s), 0);
}

TestSuite(api_controller, .init = setup, .fini = teardown, .timeout = 30);

Test(api_controller, broker_heartbeat_without_a_cluster_is_not_controller) {
    rn_writer b = body_for(63, 0);
    rn_write_i32(&b, 2);
    rn_write_i64(&b, 7);
    rn_write_i64(&b, 100);
    rn_write_bool(&b, false);
    rn_write_bool(&b, false);
    rn_write_tags(&b);
    rn_reader r = call(63, 0, &b);
    cr_assert_eq(i32(&r), 0); /* throttle */
    cr_assert_eq(i16(&r), RN_KAFKA_NOT_CONTROLLER);
}

Test(api_controller, broker_registration_without_a_cluster_is_not_controller) {
    rn_writer b = body_for(62, 0);
    static const uint8_t incarnation[16] = {1};
    rn_write_i32(&b, 2);
    rn_write_string(&b, "cluster");
    rn_write_uuid(&b, incarnation);
    rn_write_array_len(&b, 2);
    const char *names[2] = {"PLAINTEXT", "CONTROLLER"};
    for (int i = 0; i < 2; i++) {
        rn_write_string(&b, names[i]);
        rn_write_string(&b, "localhost");
        rn_write_i16(&b, (int16_t)(9092 + i));
        rn_write_i16(&b, 0);
        rn_write_tags(&b);
    }
    rn_write_array_len(&b, 0); /* features */
    rn_write_string(&b, NULL); /* rack */
    rn_write_tags(&b);
    rn_reader r = call(62, 0, &b);
    cr_assert_eq(i32(&r), 0);
    cr_assert_eq(i16(&r), RN_KAFKA_NOT_CONTROLLER);
    cr_assert_eq(i64(&r), -1);
}

Test(api_controller, alter_partition_without_a_cluster_is_not_controller) {
    rn_writer b = body_for(56, 1);
    rn_write_i32(&b, 1);
    rn_write_i64(&b, 5);
    rn_write_array_len(&b, 1);
    rn_write_string(&b, "t");
    rn_write_array_len(&b, 1);
    rn_write_i32(&b, 0);  /* partition_index */
    rn_write_i32(&b, 0);  /* leader_epoch */
    rn_write_array_len(&b, 1);
    rn_write_i32(&b, 1);  /* new_isr */
    rn_write_i8(&b, 0);   /* leader_recovery_state */
    rn_write_i32(&b, 0);  /* partition_epoch */
    rn_write_tags(&b);
    rn_write_tags(&b);
    rn_write_tags(&b);
    rn_reader r = call(56, 1, &b);
    cr_assert_eq(i32(&r), 0);
    cr_assert_eq(i16(&r), RN_KAFKA_NOT_CONTROLLER);
    cr_assert_eq(array(&r), 0);
}

Test(api_controller, list_reassignments_is_empty_on_a_single_broker) {
    rn_writer b = body_for(46, 0);
    rn_write_i32(&b, 1000);
    rn_write_array_len(&b, -1); /* every topic */
    rn_write_tags(&b);
    rn_reader r = call(46, 0, &b);
    cr_assert_eq(i32(&r), 0);
    cr_assert_eq(i16(&r), 0);
    skip_string(&r);
    cr_assert_eq(array(&r), 0);
    cr_assert_eq(rn_read_tags(&r), 0);
    cr_assert_eq(rn_reader_remaining(&r), 0);
}

Test(api_controller, alter_reassignments_on_a_single_broker) {
    rn_writer b = body_for(45, 0);
    rn_write_i32(&b, 1000);
    rn_write_array_len(&b, 2);
    rn_write_string(&b, "t");
    rn_write_array_len(&b, 4);
    int32_t targets[3][2] = {{1, 0}, {1, 2}, {2, 0}}; /* {node, count} */
    for (int i = 0; i < 3; i++) {
        rn_write_i32(&b, i);
        rn_write_array_len(&b, targets[i][1] ? 2 : 1);
        rn_write_i32(&b, targets[i][0]);
        if (targets[i][1]) rn_write_i32(&b, targets[i][1]);
        rn_write_tags(&b);
    }
    rn_write_i32(&b, 0);
    rn_write_array_len(&b, -1); /* cancel */
    rn_write_tags(&b);
    rn_write_tags(&b);
    rn_write_string(&b, "missing");
    rn_write_array_len(&b, 1);
    rn_write_i32(&b, 0);
    rn_write_array_len(&b, 1);
    rn_write_i32(&b, 1);
    rn_write_tags(&b);
    rn_write_tags(&b);
    rn_write_tags(&b);
    rn_reader r = call(45, 0, &b);
    cr_assert_eq(i32(&r), 0);
    cr_assert_eq(i16(&r), 0);
    skip_string(&r);
    cr_assert_eq(array(&r), 2);
    skip_string(&r);
    cr_assert_eq(array(&r), 4);
    /* [1]: already so; [1,2]: no broker 2; [2]: not this node; partition 0 twice */
    int16_t want[4] = {0, RN_KAFKA_INVALID_REPLICA_ASSIGNMENT, RN_KAFKA_INVALID_REPLICA_ASSIGNMENT,
                       RN_KAFKA_INVALID_REQUEST};
    for (int i = 0; i < 4; i++) {
        i32(&r);
        cr_assert_eq(i16(&r), want[i], "partition entry %d", i);
        skip_string(&r);
        cr_assert_eq(rn_read_tags(&r), 0);
    }
    cr_assert_eq(rn_read_tags(&r), 0);
    skip_string(&r);
    cr_assert_eq(array(&r), 1);
    cr_assert_eq(i32(&r), 0);
    cr_assert_eq(i16(&r), RN_KAFKA_UNKNOWN_TOPIC_OR_PARTITION);
}

static int16_t create_topic(const char *name, int32_t partitions, int16_t rf) {
    rn_writer b = body_for(19, 4);
    rn_write_array_len(&b, 1);
    rn_write_string(&b, name);
    rn_write_i32(&b, partitions);
    rn_write_i16(&b, rf);
    rn_write_array_len(&b, 0);
    rn_write_array_len(&b, 0);
    rn_write_i32(&b, 1000);
    rn_write_bool(&b, false);
    rn_reader r = call(19, 4, &b);
    cr_assert_eq(i32(&r), 0);
    cr_assert_eq(array(&r), 1);
    skip_string(&r);
    return i16(&r);
}

Test(api_controller, single_broker_topic_admin_as_before) {
    cr_assert_eq(create_topic("a", -1, -1), 0);
    cr_assert_eq(create_topic("a", -1, -1), RN_KAFKA_TOPIC_ALREADY_EXISTS);
    cr_assert_eq(create_topic("b", 1, 3), RN_KAFKA_INVALID_REPLICATION_FACTOR);

    rn_writer b = body_for(37, 1);
    rn_write_array_len(&b, 1);
    rn_write_string(&b, "a");
    rn_write_i32(&b, 4);
    rn_write_array_len(&b, -1);
    rn_write_i32(&b, 1000);
    rn_write_bool(&b, false);
    rn_reader r = call(37, 1, &b);
    cr_assert_eq(i32(&r), 0);
    cr_assert_eq(array(&r), 1);
    skip_string(&r);
    cr_assert_eq(i16(&r), 0);

    rn_topic_meta *tm;
    int n;
    const char *names[1] = {"a"};
    cr_assert_eq(rn_engine_topics(engine, names, 1, &tm, &n), 0);
    cr_assert_eq(n, 1);
    cr_assert_eq(tm[0].partition_count, 4);
    rn_topic_meta_free(tm, n);

    b = body_for(33, 1);
    rn_write_array_len(&b, 2);
    rn_write_i8(&b, 2);
    rn_write_string(&b, "a");
    rn_write_array_len(&b, 1);
    rn_write_string(&b, "retention.ms");
    rn_write_string(&b, "1000");
    rn_write_i8(&b, 4);
    rn_write_string(&b, "1");
    rn_write_array_len(&b, 0);
    rn_write_bool(&b, false);
    r = call(33, 1, &b);
    cr_assert_eq(i32(&r), 0);
    cr_assert_eq(array(&r), 2);
    cr_assert_eq(i16(&r), 0);
    skip_string(&r);
    cr_assert_eq(rn_read_i8(&r, &(int8_t){0}), 0);
    skip_string(&r);
    cr_assert_eq(i16(&r), RN_KAFKA_INVALID_CONFIG);

    b = body_for(20, 3);
    rn_write_array_len(&b, 2);
    rn_write_string(&b, "a");
    rn_write_string(&b, "nope");
    rn_write_i32(&b, 1000);
    r = call(20, 3, &b);
    cr_assert_eq(i32(&r), 0);
    cr_assert_eq(array(&r), 2);
    skip_string(&r);
    cr_assert_eq(i16(&r), 0);
    skip_string(&r);
    cr_assert_eq(i16(&r), RN_KAFKA_UNKNOWN_TOPIC_OR_PARTITION);
}

/* An embedded request (header v2, flexible) for an Envelope. */
static rn_writer inner_frame(int16_t key, int16_t version, int32_t corr) {
    rn_writer f;
    rn_writer_init(&f, 64, false);
    rn_write_i16(&f, key);
    rn_write_i16(&f, version);
    rn_write_i32(&f, corr);
    rn_write_string(&f, "forwarded-client");
    const rn_api *api = rn_api_find(key);
    if (api && rn_api_flexible(api, version)) rn_write_uvarint(&f, 0);
    return f;
}

/* Send an Envelope around frame; returns its error code, and the embedded response (its
 * header included) in *data (valid until the next call). */
static int16_t envelope(rn_writer *frame, const char *principal, rn_bytes *data) {
    rn_writer b = body_for(58, 0);
    rn_write_bytes(&b, frame->buf, (int32_t)frame->len);
    rn_write_bytes(&b, principal, principal ? (int32_t)strlen(principal) : -1);
    static const uint8_t addr[4] = {10, 0, 0, 7};
    rn_write_bytes(&b, addr, 4);
    rn_write_tags(&b);
    rn_writer_free(frame);
    rn_reader r = call(58, 0, &b);
    cr_assert_eq(rn_read_bytes(&r, data), 0);
    int16_t err = i16(&r);
    cr_assert_eq(rn_read_tags(&r), 0);
    cr_assert_eq(rn_reader_remaining(&r), 0);
    return err;
}

Test(api_controller, envelope_runs_a_controller_request_and_embeds_its_response) {
    /* ListPartitionReassignments inside: answered as if sent directly, with its own
     * correlation id and response header. */
    rn_writer f = inner_frame(46, 0, 4242);
    rn_writer body = body_for(46, 0); /* compact, as the API's version is flexible */
    rn_write_i32(&body, 1000);
    rn_write_array_len(&body, -1);
    rn_write_tags(&body);
    rn_write_raw(&f, body.buf, body.len);
    rn_writer_free(&body);
    rn_bytes data;
    int16_t e0 = envelope(&f, "User:alice", &data);
    cr_assert_eq(e0, 0, "envelope error %d", e0);
    rn_reader r;
    rn_reader_init(&r, data.ptr, (size_t)data.len, true);
    cr_assert_eq(i32(&r), 4242);
    cr_assert_eq(rn_read_tags(&r), 0); /* response header v1 */
    cr_assert_eq(i32(&r), 0);          /* throttle */
    cr_assert_eq(i16(&r), 0);
    skip_string(&r);
    cr_assert_eq(array(&r), 0);
    cr_assert_eq(rn_read_tags(&r), 0);
    cr_assert_eq(rn_reader_remaining(&r), 0);

    /* Only what brokers forward: Metadata inside is refused, an unknown API or version is
     * UNSUPPORTED_VERSION, a header that does not parse INVALID_REQUEST. */
    f = inner_frame(3, 1, 1);
    rn_write_i32(&f, -1);
    cr_assert_eq(envelope(&f, "User:alice", &data), RN_KAFKA_INVALID_REQUEST);
    cr_assert_eq(data.len, -1);
    f = inner_frame(46, 9, 1);
    cr_assert_eq(envelope(&f, "User:alice", &data), RN_KAFKA_UNSUPPORTED_VERSION);
    f = inner_frame(4000, 0, 1);
    cr_assert_eq(envelope(&f, "User:alice", &data), RN_KAFKA_UNSUPPORTED_VERSION);
    f = inner_frame(46, 0, 1); /* whose request it is must be said */
    cr_assert_eq(envelope(&f, NULL, &data), RN_KAFKA_INVALID_REQUEST);
    rn_writer_init(&f, 8, false);
    rn_write_i16(&f, 46);
    cr_assert_eq(envelope(&f, "User:alice", &data), RN_KAFKA_INVALID_REQUEST);

    /* The connection still serves requests afterwards. */
    rn_writer b = body_for(46, 0);
    rn_write_i32(&b, 1000);
    rn_write_array_len(&b, -1);
    rn_write_tags(&b);
    r = call(46, 0, &b);
    cr_assert_eq(i32(&r), 0);
    cr_assert_eq(i16(&r), 0);
}
