/* tests/unit/test_engine.c: the storage engine through its public contract (engine.h),
 * on a real RocksDB in a temporary directory: opening and reopening, topics, partitions,
 * topic configs, producer ids. The partition log itself is in test_log.c. */
#include "engine_fixture.h"

TestSuite(engine, .init = setup, .fini = teardown);

static const char *config_value(rn_engine *e, const char *topic, const char *name,
                                rn_config_entry *out) {
    rn_config_entry *ce;
    int n;
    cr_assert_eq(rn_engine_describe_topic_configs(e, topic, &ce, &n), 0);
    static char value[64];
    bool found = false;
    for (int i = 0; i < n; i++)
        if (!strcmp(ce[i].name, name)) {
            snprintf(value, sizeof value, "%s", ce[i].value ? ce[i].value : "(null)");
            if (out) *out = ce[i];
            found = true;
        }
    rn_config_entries_free(ce, n);
    cr_assert(found, "%s is described", name);
    if (out) out->name = out->value = NULL; /* freed above */
    return value;
}

Test(engine, topics_records_offsets_survive_reopen) {
    rn_engine *e = open_engine(1 << 20);
    rn_config_kv cfg[] = {{"retention.ms", "123456"}};
    cr_assert_eq(rn_engine_create_topic(e, "orders", 3, cfg, 1, false, NULL, 0), 0);
    rn_partition *p = partition(e, "orders", 2);
    cr_assert_eq(append(p, "a", 5, 1000), 0);
    cr_assert_eq(append(p, "b", 3, 2000), 5);
    int64_t pid1;
    int16_t ep;
    cr_assert_eq(rn_engine_init_producer_id(e, &pid1, &ep), 0);
    char cid[64];
    snprintf(cid, sizeof cid, "%s", rn_engine_cluster_id(e));
    rn_engine_close(e);

    e = open_engine(1 << 20);
    cr_assert_str_eq(rn_engine_cluster_id(e), cid);
    p = partition(e, "orders", 2);
    rn_partition_offsets off = offsets(p);
    cr_assert_eq(off.high_watermark, 8);
    cr_assert_eq(off.log_end_offset, 8);
    cr_assert_eq(off.log_start_offset, 0);
    cr_assert_gt(off.size_bytes, 0);
    cr_assert_eq(append(p, "c", 1, 3000), 8, "appends continue after reopen");
    cr_assert_eq(offsets(partition(e, "orders", 0)).log_end_offset, 0);
    int64_t pid2;
    cr_assert_eq(rn_engine_init_producer_id(e, &pid2, &ep), 0);
    cr_assert_gt(pid2, pid1, "producer ids are never reused");
    cr_assert_str_eq(config_value(e, "orders", "retention.ms", NULL), "123456");
    rn_engine_close(e);
}

Test(engine, cluster_id_is_22_base64url_characters) {
    rn_engine *e = open_engine(1 << 20);
    const char *id = rn_engine_cluster_id(e);
    cr_assert_eq(strlen(id), 22);
    cr_assert_eq(strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
                 22);
    cr_assert_eq(rn_engine_node_id(e), 1);
    rn_engine_close(e);
}

Test(engine, log_families_are_fixed_at_creation) {
    rn_engine_options o = fixture_opts(1 << 20);
    o.log_column_families = 3;
    rn_engine *e = open_with(&o);
    rn_engine_create_topic(e, "t", 6, NULL, 0, false, NULL, 0);
    for (int i = 0; i < 6; i++) append(partition(e, "t", i), "f", 1 + i, 1);
    rn_engine_close(e);
    o.log_column_families = 5; /* ignored with a warning: ids would map to other families */
    e = open_with(&o);
    for (int i = 0; i < 6; i++) {
        rn_partition *p = partition(e, "t", i);
        cr_assert_eq(offsets(p).log_end_offset, 1 + i);
        collect c = read_all(p, 0);
        cr_assert_eq(c.batches, 1);
        free(c.copy);
    }
    rn_engine_close(e);
}

Test(engine, producer_ids_survive_a_crash_mid_block) {
    rn_engine *e = open_engine(1 << 20);
    int64_t id, last = -1;
    int16_t epoch;
    for (int i = 0; i < 1005; i++) { /* into a second block */
        cr_assert_eq(rn_engine_init_producer_id(e, &id, &epoch), 0);
        cr_assert_gt(id, last);
        cr_assert_eq(epoch, 0);
        last = id;
    }
    rn_engine_close(e);
    e = open_engine(1 << 20);
    cr_assert_eq(rn_engine_init_producer_id(e, &id, &epoch), 0);
    cr_assert_gt(id, last, "the rest of the block is skipped, never reused");
    rn_engine_close(e);
}

Test(engine, delete_and_recreate_topic) {
    rn_engine *e = open_engine(1 << 20);
    rn_engine_create_topic(e, "t", 2, NULL, 0, false, NULL, 0);
    rn_engine_create_topic(e, "other", 1, NULL, 0, false, NULL, 0);
    rn_partition *old = partition(e, "t", 0);
    append(old, "old", 4, 1);
    append(partition(e, "other", 0), "kept", 2, 1);
    cr_assert_eq(rn_engine_delete_topic(e, "t"), 0);
    cr_assert_eq(rn_engine_delete_topic(e, "t"), RN_KAFKA_UNKNOWN_TOPIC_OR_PARTITION);
    rn_append_result r;
    uint8_t b[512];
    size_t n = batch_of(b, sizeof b, "z", 1, 1, -1, -1, -1);
    cr_assert_eq(rn_partition_append(old, b, n, &r), RN_KAFKA_UNKNOWN_TOPIC_OR_PARTITION,
                 "a handle outlives its topic and says so");
    size_t bytes;
    collect c = {0};
    cr_assert_eq(rn_partition_read(old, 0, 100, true, collect_sink, &c, NULL, &bytes),
                 RN_KAFKA_UNKNOWN_TOPIC_OR_PARTITION);
    rn_partition_offsets off;
    cr_assert_eq(rn_partition_offsets_get(old, &off), RN_KAFKA_UNKNOWN_TOPIC_OR_PARTITION);
    rn_err err;
    cr_assert_null(rn_engine_partition(e, "t", 0, &err));
    cr_assert_eq(err, RN_KAFKA_UNKNOWN_TOPIC_OR_PARTITION);
    cr_assert_eq(rn_engine_create_topic(e, "t", 1, NULL, 0, false, NULL, 0), 0);
    rn_partition *fresh = partition(e, "t", 0);
    cr_assert_neq(fresh, old);
    cr_assert_eq(offsets(fresh).high_watermark, 0, "a recreated topic starts empty");
    rn_engine_close(e);
    e = open_engine(1 << 20);
    rn_topic_meta *tm;
    int count;
    rn_engine_topics(e, NULL, 0, &tm, &count);
    cr_assert_eq(count, 2);
    cr_assert_str_eq(tm[1].name, "t");
    cr_assert_eq(tm[1].partition_count, 1);
    rn_topic_meta_free(tm, count);
    cr_assert_eq(offsets(partition(e, "t", 0)).log_end_offset, 0, "the old log stays gone");
    cr_assert_eq(offsets(partition(e, "other", 0)).log_end_offset, 2, "other topics untouched");
    rn_engine_close(e);
}

Test(engine, create_partitions_and_validation) {
    rn_engine *e = open_engine(1 << 20);
    char msg[256];
    cr_assert_eq(rn_engine_create_topic(e, "bad name", 1, NULL, 0, false, msg, sizeof msg),
                 RN_KAFKA_INVALID_TOPIC_EXCEPTION);
    cr_assert_eq(rn_engine_create_topic(e, "t", 0, NULL, 0, false, msg, sizeof msg),
                 RN_KAFKA_INVALID_PARTITIONS);
    rn_config_kv bad[] = {{"retention.ms", "soon"}};
    cr_assert_eq(rn_engine_create_topic(e, "t", 1, bad, 1, false, msg, sizeof msg),
                 RN_KAFKA_INVALID_CONFIG);
    cr_assert(strstr(msg, "retention.ms"), "%s", msg);
    cr_assert_eq(rn_engine_create_topic(e, "t", 2, NULL, 0, true, NULL, 0), 0);
    rn_err err;
    cr_assert_null(rn_engine_partition(e, "t", 0, &err), "validate_only creates nothing");
    cr_assert_eq(rn_engine_create_topic(e, "t", 2, NULL, 0, false, NULL, 0), 0);
    cr_assert_eq(rn_engine_create_topic(e, "t", 2, NULL, 0, false, msg, sizeof msg),
                 RN_KAFKA_TOPIC_ALREADY_EXISTS);
    cr_assert_eq(rn_engine_create_topic(e, "dflt", -1, NULL, 0, false, NULL, 0), 0);
    cr_assert_null(rn_engine_partition(e, "dflt", 1, &err), "-1: num.partitions (1)");
    cr_assert_eq(rn_engine_create_partitions(e, "t", 2, false, msg, sizeof msg),
                 RN_KAFKA_INVALID_PARTITIONS);
    cr_assert_eq(rn_engine_create_partitions(e, "nope", 3, false, msg, sizeof msg),
                 RN_KAFKA_UNKNOWN_TOPIC_OR_PARTITION);
    cr_assert_eq(rn_engine_create_partitions(e, "t", 5, true, msg, sizeof msg), 0);
    cr_assert_null(rn_engine_partition(e, "t", 2, &err), "validate_only grows nothing");
    cr_assert_eq(rn_engine_create_partitions(e, "t", 5, false, msg, sizeof msg), 0);
    append(partition(e, "t", 4), "new", 2, 1);
    rn_engine_close(e);
    e = open_engine(1 << 20);
    cr_assert_eq(offsets(partition(e, "t", 4)).log_end_offset, 2, "new partitions persist");
    cr_assert_null(rn_engine_partition(e, "t", 5, &err));
    rn_engine_close(e);
}

Test(engine, topic_names) {
    cr_assert(rn_topic_name_valid("a.b_c-D9", 8));
    cr_assert_not(rn_topic_name_valid(".", 1));
    cr_assert_not(rn_topic_name_valid("..", 2));
    cr_assert_not(rn_topic_name_valid("", 0));
    cr_assert_not(rn_topic_name_valid("a/b", 3));
    char longest[251];
    memset(longest, 'x', sizeof longest);
    cr_assert(rn_topic_name_valid(longest, 249));
    cr_assert_not(rn_topic_name_valid(longest, 250));
}

Test(engine, topics_snapshot_sorted_and_filtered) {
    rn_engine *e = open_engine(1 << 20);
    rn_engine_create_topic(e, "b", 2, NULL, 0, false, NULL, 0);
    rn_engine_create_topic(e, "a", 1, NULL, 0, false, NULL, 0);
    rn_topic_meta *tm;
    int count;
    cr_assert_eq(rn_engine_topics(e, NULL, 0, &tm, &count), 0);
    cr_assert_eq(count, 2);
    cr_assert(!strcmp(tm[0].name, "a") && !strcmp(tm[1].name, "b"));
    cr_assert_eq(tm[1].partition_count, 2);
    cr_assert(tm[1].partitions[1].index == 1 && tm[1].partitions[1].leader_epoch == 0);
    cr_assert(memcmp(tm[0].topic_id, tm[1].topic_id, 16) != 0);
    rn_topic_meta_free(tm, count);
    const char *names[] = {"b", "missing", "b"};
    cr_assert_eq(rn_engine_topics(e, names, 3, &tm, &count), 0);
    cr_assert_eq(count, 1, "absent names are left out, repeats answered once");
    cr_assert_str_eq(tm[0].name, "b");
    rn_topic_meta_free(tm, count);
    rn_engine_close(e);
}

/* ---- configs ----------------------------------------------------------------------- */

Test(engine, alter_configs_is_atomic) {
    rn_engine *e = open_engine(1 << 20);
    rn_engine_create_topic(e, "t", 1, NULL, 0, false, NULL, 0);
    char msg[256];
    rn_config_alter ops[] = {{"retention.ms", "1000", RN_CONFIG_SET}, {"nope", "1", RN_CONFIG_SET}};
    cr_assert_eq(rn_engine_alter_topic_configs(e, "t", ops, 2, true, false, msg, sizeof msg),
                 RN_KAFKA_INVALID_CONFIG);
    cr_assert(strstr(msg, "nope"), "the unknown key is named: %s", msg);
    rn_config_entry ce;
    config_value(e, "t", "retention.ms", &ce);
    cr_assert(ce.is_default, "nothing changed");
    rn_config_alter badval[] = {{"retention.ms", "1000", RN_CONFIG_SET},
                                {"max.message.bytes", "-5", RN_CONFIG_SET}};
    cr_assert_eq(rn_engine_alter_topic_configs(e, "t", badval, 2, true, false, msg, sizeof msg),
                 RN_KAFKA_INVALID_CONFIG);
    cr_assert(strstr(msg, "max.message.bytes"), "%s", msg);
    config_value(e, "t", "retention.ms", &ce);
    cr_assert(ce.is_default, "nothing changed");
    rn_config_alter ok[] = {{"retention.ms", "1000", RN_CONFIG_SET},
                            {"max.message.bytes", "100", RN_CONFIG_SET}};
    cr_assert_eq(rn_engine_alter_topic_configs(e, "t", ok, 2, true, true, msg, sizeof msg), 0);
    config_value(e, "t", "retention.ms", &ce);
    cr_assert(ce.is_default, "validate_only changes nothing");
    cr_assert_eq(rn_engine_alter_topic_configs(e, "t", ok, 2, true, false, msg, sizeof msg), 0);
    rn_partition *p = partition(e, "t", 0);
    uint8_t b[4096];
    size_t len = batch_of(b, sizeof b, "big", 20, 1, -1, -1, -1);
    rn_append_result r;
    cr_assert_eq(rn_partition_append(p, b, len, &r), RN_KAFKA_MESSAGE_TOO_LARGE,
                 "a config change reaches the partitions at once");
    rn_config_alter del[] = {{"max.message.bytes", NULL, RN_CONFIG_DELETE}};
    cr_assert_eq(rn_engine_alter_topic_configs(e, "t", del, 1, true, false, msg, sizeof msg), 0);
    cr_assert_eq(rn_partition_append(p, b, len, &r), 0);
    cr_assert_eq(rn_engine_alter_topic_configs(e, "nope", ok, 2, true, false, msg, sizeof msg),
                 RN_KAFKA_UNKNOWN_TOPIC_OR_PARTITION);
    rn_engine_close(e);
    e = open_engine(1 << 20);
    cr_assert_str_eq(config_value(e, "t", "retention.ms", NULL), "1000", "configs persist");
    config_value(e, "t", "max.message.bytes", &ce);
    cr_assert(ce.is_default);
    rn_engine_close(e);
}

Test(engine, alter_configs_replaces_incremental_edits) {
    rn_engine *e = open_engine(1 << 20);
    rn_config_kv cfg[] = {{"retention.ms", "1000"}, {"segment.ms", "5000"}};
    rn_engine_create_topic(e, "t", 1, cfg, 2, false, NULL, 0);
    rn_config_alter set[] = {{"retention.bytes", "4096", RN_CONFIG_SET}};
    cr_assert_eq(rn_engine_alter_topic_configs(e, "t", set, 1, false, false, NULL, 0), 0);
    rn_config_entry ce;
    config_value(e, "t", "retention.ms", &ce);
    cr_assert(ce.is_default, "AlterConfigs: what is not given goes back to its default");
    cr_assert_str_eq(config_value(e, "t", "retention.bytes", NULL), "4096");
    char msg[256];
    rn_config_alter append_op[] = {{"retention.ms", "5", RN_CONFIG_APPEND}};
    cr_assert_eq(rn_engine_alter_topic_configs(e, "t", append_op, 1, true, false, msg, sizeof msg),
                 RN_KAFKA_INVALID_CONFIG, "APPEND only on lists");
    rn_config_alter list_ops[] = {{"cleanup.policy", "delete", RN_CONFIG_APPEND}};
    cr_assert_eq(rn_engine_alter_topic_configs(e, "t", list_ops, 1, true, false, msg, sizeof msg), 0);
    cr_assert_str_eq(config_value(e, "t", "cleanup.policy", NULL), "delete");
    rn_config_alter compact[] = {{"cleanup.policy", "compact", RN_CONFIG_APPEND}};
    cr_assert_eq(rn_engine_alter_topic_configs(e, "t", compact, 1, true, false, msg, sizeof msg),
                 RN_KAFKA_INVALID_CONFIG);
    cr_assert(strstr(msg, "not supported yet"), "%s", msg);
    rn_config_alter sub[] = {{"cleanup.policy", "delete", RN_CONFIG_SUBTRACT}};
    cr_assert_eq(rn_engine_alter_topic_configs(e, "t", sub, 1, true, false, msg, sizeof msg), 0);
    config_value(e, "t", "cleanup.policy", &ce);
    cr_assert(ce.is_default, "an emptied list returns to its default");
    rn_config_alter badop[] = {{"retention.ms", "1", 9}};
    cr_assert_eq(rn_engine_alter_topic_configs(e, "t", badop, 1, true, false, msg, sizeof msg),
                 RN_KAFKA_INVALID_REQUEST);
    rn_engine_close(e);
}

Test(engine, config_values_checked_against_the_table) {
    rn_engine *e = open_engine(1 << 20);
    char msg[256];
    struct {
        const char *name, *value;
        bool ok;
    } cases[] = {
        {"cleanup.policy", "delete", true},
        {"cleanup.policy", "compact", false},
        {"cleanup.policy", "compact,delete", false},
        {"compression.type", "producer", true},
        {"compression.type", "gzip", false},
        {"message.timestamp.type", "LogAppendTime", true},
        {"message.timestamp.type", "logappendtime", false},
        {"min.insync.replicas", "1", true},
        {"min.insync.replicas", "0", false},
        {"retention.bytes", "-1", true},
        {"retention.bytes", "-2", false},
        {"retention.ms", "99999999999999", true},
        {"retention.ms", "12x", false},
        {"max.message.bytes", "3000000000", false},
        {"segment.bytes", "13", false},
        {"segment.bytes", "1048576", true},
        {"segment.ms", "0", false},
        {"unclean.leader.election.enable", "true", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rn_config_kv kv[] = {{cases[i].name, cases[i].value}};
        msg[0] = 0;
        rn_err err = rn_engine_create_topic(e, "t", 1, kv, 1, true, msg, sizeof msg);
        cr_assert_eq(err, cases[i].ok ? 0 : RN_KAFKA_INVALID_CONFIG, "%s=%s: %s",
                     cases[i].name, cases[i].value, msg);
        if (!cases[i].ok) cr_assert(strstr(msg, cases[i].name), "%s", msg);
    }
    rn_engine_close(e);
}

Test(engine, describe_configs_defaults_and_sources) {
    rn_engine_options o = fixture_opts(1 << 20);
    o.default_retention_ms = 604800000;
    o.default_log_append_time = true;
    rn_engine *e = open_with(&o);
    rn_config_kv cfg[] = {{"retention.bytes", "1000"}};
    rn_engine_create_topic(e, "t", 1, cfg, 1, false, NULL, 0);
    rn_config_entry ce;
    cr_assert_str_eq(config_value(e, "t", "retention.ms", &ce), "604800000");
    cr_assert(ce.is_default && ce.source == RN_CONFIG_SOURCE_STATIC_BROKER && ce.type == 5);
    cr_assert_str_eq(config_value(e, "t", "retention.bytes", &ce), "1000");
    cr_assert(!ce.is_default && ce.source == RN_CONFIG_SOURCE_DYNAMIC_TOPIC);
    cr_assert_str_eq(config_value(e, "t", "segment.bytes", &ce), "1073741824");
    cr_assert(ce.is_default && ce.source == RN_CONFIG_SOURCE_DEFAULT && ce.type == 3);
    cr_assert(ce.doc && strstr(ce.doc, "no effect"));
    cr_assert_str_eq(config_value(e, "t", "message.timestamp.type", NULL), "LogAppendTime");
    cr_assert_str_eq(config_value(e, "t", "max.message.bytes", NULL), "1048576");
    cr_assert_str_eq(config_value(e, "t", "cleanup.policy", &ce), "delete");
    cr_assert_eq(ce.type, 7);
    rn_config_entry *all;
    int n;
    cr_assert_eq(rn_engine_describe_topic_configs(e, "nope", &all, &n),
                 RN_KAFKA_UNKNOWN_TOPIC_OR_PARTITION);
    /* The broker default applies to appends too: LogAppendTime here. */
    rn_append_result r;
    uint8_t b[512];
    size_t len = batch_of(b, sizeof b, "x", 1, 1, -1, -1, -1);
    cr_assert_eq(rn_partition_append(partition(e, "t", 0), b, len, &r), 0);
    cr_assert_gt(r.log_append_time, 0);
    rn_engine_close(e);
}
