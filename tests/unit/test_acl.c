/* tests/unit/test_acl.c: ACL bindings: create, describe and delete with Kafka's filter
 * rules, the authorization decision (deny wins, implied operations, wildcard and prefixed
 * resources, User:*, hosts, no ACL found), bad bindings refused, persistence. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "rnlog.h"
#include "users.h"

static char dir[64];

static void setup(void) {
    snprintf(dir, sizeof dir, "/tmp/runnel-acl-XXXXXX");
    cr_assert(mkdtemp(dir));
    rn_log_set_level(RN_LOG_ERROR);
}

static void teardown(void) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

static rn_engine *open_engine(void) {
    rn_engine_options o = {.data_dir = dir, .node_id = 1, .log_column_families = 1,
                           .default_retention_ms = -1, .default_retention_bytes = -1,
                           .default_max_message_bytes = 1 << 20, .default_partitions = 1};
    rn_engine *e = NULL;
    char err[256] = "";
    cr_assert_eq(rn_engine_open(&o, &e, err, sizeof err), 0, "%s", err);
    return e;
}

TestSuite(acl, .init = setup, .fini = teardown);

static rn_acl_binding bind(int type, const char *name, int pattern, const char *principal,
                           int op, int perm) {
    return (rn_acl_binding){(int8_t)type, (char *)name, (int8_t)pattern, (char *)principal,
                            (char *)"*", (int8_t)op, (int8_t)perm};
}

static void add(rn_acls *a, rn_acl_binding b) {
    char err[256] = "";
    cr_assert_eq(rn_acls_create(a, &b, err, sizeof err), RN_KAFKA_NONE, "%s", err);
}

static bool can(rn_acls *a, const char *who, int op, int type, const char *name) {
    return rn_acls_authorize(a, who, "10.0.0.1", op, type, name, false);
}

Test(acl, literal_allow_and_implied_describe) {
    rn_engine *e = open_engine();
    rn_acls *a = rn_engine_acls(e);
    add(a, bind(RN_ACL_RESOURCE_TOPIC, "orders", RN_ACL_PATTERN_LITERAL, "User:alice", RN_ACL_OP_READ,
                RN_ACL_PERMISSION_ALLOW));
    cr_assert(can(a, "User:alice", RN_ACL_OP_READ, RN_ACL_RESOURCE_TOPIC, "orders"));
    cr_assert(can(a, "User:alice", RN_ACL_OP_DESCRIBE, RN_ACL_RESOURCE_TOPIC, "orders"), "READ implies DESCRIBE");
    cr_assert_not(can(a, "User:alice", RN_ACL_OP_WRITE, RN_ACL_RESOURCE_TOPIC, "orders"));
    cr_assert_not(can(a, "User:bob", RN_ACL_OP_READ, RN_ACL_RESOURCE_TOPIC, "orders"));
    cr_assert_not(can(a, "User:alice", RN_ACL_OP_READ, RN_ACL_RESOURCE_TOPIC, "orders2"),
                  "no ACL names orders2 and allow_if_no_acl is false");
    cr_assert(rn_acls_authorize(a, "User:bob", "h", RN_ACL_OP_READ, RN_ACL_RESOURCE_TOPIC, "other", true),
              "no ACL for the resource: allow.everyone.if.no.acl.found decides");
    cr_assert_not(rn_acls_authorize(a, "User:bob", "h", RN_ACL_OP_READ, RN_ACL_RESOURCE_TOPIC, "orders", true),
                  "an ACL names orders, so the default does not apply");
    rn_engine_close(e);
}

Test(acl, deny_wins_and_wildcards) {
    rn_engine *e = open_engine();
    rn_acls *a = rn_engine_acls(e);
    add(a, bind(RN_ACL_RESOURCE_TOPIC, "*", RN_ACL_PATTERN_LITERAL, "User:*", RN_ACL_OP_ALL, RN_ACL_PERMISSION_ALLOW));
    add(a, bind(RN_ACL_RESOURCE_TOPIC, "secret-", RN_ACL_PATTERN_PREFIXED, "User:mallory", RN_ACL_OP_READ,
                RN_ACL_PERMISSION_DENY));
    cr_assert(can(a, "User:mallory", RN_ACL_OP_WRITE, RN_ACL_RESOURCE_TOPIC, "secret-plans"));
    cr_assert_not(can(a, "User:mallory", RN_ACL_OP_READ, RN_ACL_RESOURCE_TOPIC, "secret-plans"), "deny wins");
    cr_assert(can(a, "User:mallory", RN_ACL_OP_DESCRIBE, RN_ACL_RESOURCE_TOPIC, "secret-plans"),
              "a DENY of READ does not deny DESCRIBE");
    cr_assert(can(a, "User:mallory", RN_ACL_OP_READ, RN_ACL_RESOURCE_TOPIC, "public"));
    cr_assert(can(a, "User:anyone", RN_ACL_OP_READ, RN_ACL_RESOURCE_TOPIC, "secret-plans"));
    cr_assert_not(can(a, "User:anyone", RN_ACL_OP_READ, RN_ACL_RESOURCE_GROUP, "g"), "other resource types are apart");
    rn_acl_binding host = bind(RN_ACL_RESOURCE_GROUP, "g", RN_ACL_PATTERN_LITERAL, "User:ann", RN_ACL_OP_READ,
                               RN_ACL_PERMISSION_ALLOW);
    host.host = "10.0.0.2";
    add(a, host);
    cr_assert_not(can(a, "User:ann", RN_ACL_OP_READ, RN_ACL_RESOURCE_GROUP, "g"), "from another host");
    cr_assert(rn_acls_authorize(a, "User:ann", "10.0.0.2", RN_ACL_OP_READ, RN_ACL_RESOURCE_GROUP, "g", false));
    add(a, bind(RN_ACL_RESOURCE_CLUSTER, "kafka-cluster", RN_ACL_PATTERN_LITERAL, "User:ops", RN_ACL_OP_ALTER_CONFIGS,
                RN_ACL_PERMISSION_ALLOW));
    cr_assert(can(a, "User:ops", RN_ACL_OP_DESCRIBE_CONFIGS, RN_ACL_RESOURCE_CLUSTER, "kafka-cluster"),
              "ALTER_CONFIGS implies DESCRIBE_CONFIGS");
    rn_engine_close(e);
}

Test(acl, filters_describe_delete_and_persist) {
    rn_engine *e = open_engine();
    rn_acls *a = rn_engine_acls(e);
    add(a, bind(RN_ACL_RESOURCE_TOPIC, "orders", RN_ACL_PATTERN_LITERAL, "User:a", RN_ACL_OP_READ, RN_ACL_PERMISSION_ALLOW));
    add(a, bind(RN_ACL_RESOURCE_TOPIC, "ord", RN_ACL_PATTERN_PREFIXED, "User:b", RN_ACL_OP_WRITE, RN_ACL_PERMISSION_ALLOW));
    add(a, bind(RN_ACL_RESOURCE_TOPIC, "*", RN_ACL_PATTERN_LITERAL, "User:c", RN_ACL_OP_DESCRIBE, RN_ACL_PERMISSION_ALLOW));
    add(a, bind(RN_ACL_RESOURCE_GROUP, "orders", RN_ACL_PATTERN_LITERAL, "User:a", RN_ACL_OP_READ, RN_ACL_PERMISSION_ALLOW));
    add(a, bind(RN_ACL_RESOURCE_GROUP, "orders", RN_ACL_PATTERN_LITERAL, "User:a", RN_ACL_OP_READ, RN_ACL_PERMISSION_ALLOW));
    cr_assert_eq(rn_acls_count(a), 4, "a repeated binding is stored once");
    rn_acl_binding *v;
    int n;
    rn_acl_binding match = {RN_ACL_RESOURCE_TOPIC, "orders", RN_ACL_PATTERN_MATCH, NULL, NULL, RN_ACL_OP_ANY,
                            RN_ACL_PERMISSION_ANY};
    cr_assert_eq(rn_acls_describe(a, &match, &v, &n), 0);
    cr_assert_eq(n, 3, "MATCH finds the literal, the prefixed and the wildcard bindings");
    rn_acl_bindings_free(v, n);
    rn_acl_binding lit = {RN_ACL_RESOURCE_ANY, "orders", RN_ACL_PATTERN_LITERAL, NULL, NULL, RN_ACL_OP_ANY,
                          RN_ACL_PERMISSION_ANY};
    cr_assert_eq(rn_acls_describe(a, &lit, &v, &n), 0);
    cr_assert_eq(n, 2, "LITERAL orders on any type: the topic and the group");
    rn_acl_bindings_free(v, n);
    char err[200];
    rn_acl_binding bad = bind(RN_ACL_RESOURCE_ANY, "x", RN_ACL_PATTERN_LITERAL, "User:a", RN_ACL_OP_READ,
                              RN_ACL_PERMISSION_ALLOW);
    cr_assert_eq(rn_acls_create(a, &bad, err, sizeof err), RN_KAFKA_INVALID_REQUEST);
    bad = bind(RN_ACL_RESOURCE_TOPIC, "x", RN_ACL_PATTERN_LITERAL, "alice", RN_ACL_OP_READ, RN_ACL_PERMISSION_ALLOW);
    cr_assert_eq(rn_acls_create(a, &bad, err, sizeof err), RN_KAFKA_INVALID_REQUEST);
    cr_assert(strstr(err, "User:"), "%s", err);
    bad = bind(RN_ACL_RESOURCE_TOPIC, "x", RN_ACL_PATTERN_MATCH, "User:a", RN_ACL_OP_READ, RN_ACL_PERMISSION_ALLOW);
    cr_assert_eq(rn_acls_create(a, &bad, err, sizeof err), RN_KAFKA_INVALID_REQUEST);
    rn_engine_close(e);

    e = open_engine();
    a = rn_engine_acls(e);
    cr_assert_eq(rn_acls_count(a), 4, "bindings survive a restart");
    rn_acl_binding by_user = {RN_ACL_RESOURCE_ANY, NULL, RN_ACL_PATTERN_ANY, "User:a", NULL, RN_ACL_OP_ANY,
                              RN_ACL_PERMISSION_ANY};
    cr_assert_eq(rn_acls_delete(a, &by_user, &v, &n), 0);
    cr_assert_eq(n, 2);
    rn_acl_bindings_free(v, n);
    rn_engine_close(e);
    e = open_engine();
    cr_assert_eq(rn_acls_count(rn_engine_acls(e)), 2, "deletes survive a restart");
    cr_assert_not(can(rn_engine_acls(e), "User:a", RN_ACL_OP_READ, RN_ACL_RESOURCE_TOPIC, "orders"));
    cr_assert(can(rn_engine_acls(e), "User:b", RN_ACL_OP_WRITE, RN_ACL_RESOURCE_TOPIC, "orders"), "prefixed ord");
    rn_engine_close(e);
}

/* A cluster's bindings: the image keeps their keys; replace makes a broker's bindings
 * exactly those, in memory and on disk. SCRAM credentials follow entry by entry. */
Test(acl, replace_follows_a_clusters_keys) {
    rn_engine *e = open_engine();
    rn_acls *a = rn_engine_acls(e);
    add(a, bind(RN_ACL_RESOURCE_TOPIC, "local", RN_ACL_PATTERN_LITERAL, "User:old", RN_ACL_OP_READ,
                RN_ACL_PERMISSION_ALLOW));
    rn_acl_binding b1 = bind(RN_ACL_RESOURCE_TOPIC, "orders", RN_ACL_PATTERN_PREFIXED, "User:alice",
                             RN_ACL_OP_WRITE, RN_ACL_PERMISSION_ALLOW);
    rn_acl_binding b2 = bind(RN_ACL_RESOURCE_GROUP, "g", RN_ACL_PATTERN_LITERAL, "User:bob",
                             RN_ACL_OP_READ, RN_ACL_PERMISSION_DENY);
    char err[128];
    cr_assert(rn_acl_binding_valid(&b1, err, sizeof err));
    rn_acl_binding bad = b1;
    bad.principal = (char *)"alice";
    cr_assert_not(rn_acl_binding_valid(&bad, err, sizeof err));
    cr_assert(strstr(err, "User:"), "%s", err);
    uint8_t k1[RN_ACL_KEY_MAX], k2[RN_ACL_KEY_MAX];
    const uint8_t *keys[3] = {k1, k2, (const uint8_t *)"garbage"};
    size_t lens[3] = {rn_acl_binding_key(&b1, k1), rn_acl_binding_key(&b2, k2), 7};
    cr_assert_eq(rn_acls_replace(a, keys, lens, 3), 0, "a key that does not parse is skipped");
    cr_assert_eq(rn_acls_count(a), 2);
    cr_assert(can(a, "User:alice", RN_ACL_OP_WRITE, RN_ACL_RESOURCE_TOPIC, "orders-eu"));
    cr_assert_not(can(a, "User:old", RN_ACL_OP_READ, RN_ACL_RESOURCE_TOPIC, "local"));
    rn_engine_close(e);
    e = open_engine();
    a = rn_engine_acls(e);
    cr_assert_eq(rn_acls_count(a), 2, "replaced on disk too");
    cr_assert(can(a, "User:alice", RN_ACL_OP_WRITE, RN_ACL_RESOURCE_TOPIC, "orders-eu"));
    cr_assert_eq(rn_acls_replace(a, NULL, NULL, 0), 0);
    cr_assert_eq(rn_acls_count(a), 0);

    /* Credentials: set, then removed; a user the cluster never named stays. */
    rn_scram_credential c = {.mechanism = RN_SCRAM_SHA_256, .iterations = 4096, .salt_len = 4,
                             .key_len = 32, .salt = "salt"};
    const char *local_user = "local";
    cr_assert_eq(rn_users_write(e, NULL, NULL, 0, &local_user, &c, 1), 0);
    uint8_t uk[RN_USER_KEY_MAX], uv[RN_USER_VALUE_MAX];
    const uint8_t *ukeys[1] = {uk}, *uvals[1] = {uv};
    size_t uklen[1] = {rn_user_key(uk, "carol", RN_SCRAM_SHA_256)}, uvlen[1] = {rn_user_value(&c, uv)};
    cr_assert_eq(rn_users_follow(e, ukeys, uklen, uvals, uvlen, 1), 0);
    rn_scram_credential got;
    cr_assert_eq(rn_users_get(e, "carol", RN_SCRAM_SHA_256, &got), 0);
    cr_assert_eq(got.iterations, 4096);
    uvals[0] = NULL;
    cr_assert_eq(rn_users_follow(e, ukeys, uklen, uvals, uvlen, 1), 0);
    cr_assert_eq(rn_users_get(e, "carol", RN_SCRAM_SHA_256, &got), RN_KAFKA_RESOURCE_NOT_FOUND);
    cr_assert_eq(rn_users_get(e, "local", RN_SCRAM_SHA_256, &got), 0);
    rn_engine_close(e);
}
