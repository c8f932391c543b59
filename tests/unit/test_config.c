/* tests/unit/test_config.c: the config table and parser. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

static char path[64];

static void write_conf(const char *text) {
    snprintf(path, sizeof path, "/tmp/runnel-conf-XXXXXX");
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

Test(config, defaults) {
    rn_config c;
    rn_config_defaults(&c);
    cr_assert_eq(c.node_id, 1);
    cr_assert_eq(c.num_partitions, 1);
    cr_assert(c.auto_create_topics_enable && c.log_flush_sync);
    cr_assert_eq(c.log_retention_ms, 604800000);
    cr_assert_eq(c.message_max_bytes, 1048588);
    cr_assert_str_eq(c.data_dir, "./data");
    char err[256];
    cr_assert_eq(rn_config_finish(&c, err, sizeof err), 0, "%s", err);
    cr_assert_eq(c.listener_count, 1);
    cr_assert_str_eq(c.listener[0].host, "localhost");
    cr_assert_eq(c.listener[0].port, 9092);
    cr_assert_str_eq(c.advertised[0].host, "localhost");
    rn_config_free(&c);
}

Test(config, shipped_file_loads) {
    rn_config c;
    rn_config_defaults(&c);
    char err[256];
    cr_assert_eq(rn_config_load_file(&c, "../conf/runnel.conf", err, sizeof err) == 0 ||
                     rn_config_load_file(&c, "conf/runnel.conf", err, sizeof err) == 0,
                 1, "%s", err);
    cr_assert_eq(rn_config_finish(&c, err, sizeof err), 0, "%s", err);
    rn_config_free(&c);
}

Test(config, syntax_comments_colons_whitespace) {
    write_conf("# comment\n! also a comment\n\n  num.partitions =  6  \nlog.flush.sync: false\n"
               "data.dir=/var/lib/runnel\n");
    rn_config c;
    rn_config_defaults(&c);
    char err[256];
    cr_assert_eq(rn_config_load_file(&c, path, err, sizeof err), 0, "%s", err);
    cr_assert_eq(c.num_partitions, 6);
    cr_assert(!c.log_flush_sync);
    cr_assert_str_eq(c.data_dir, "/var/lib/runnel");
    rn_config_free(&c);
    unlink(path);
}

Test(config, unknown_key_names_file_line_and_suggests) {
    write_conf("node.id=2\n\nnum.partiton=3\n");
    rn_config c;
    rn_config_defaults(&c);
    char err[512], want[128];
    cr_assert_eq(rn_config_load_file(&c, path, err, sizeof err), -1);
    snprintf(want, sizeof want, "%s:3: unknown key 'num.partiton'", path);
    cr_assert(strstr(err, want), "%s", err);
    cr_assert(strstr(err, "did you mean 'num.partitions'"), "%s", err);
    rn_config_free(&c);
    unlink(path);
}

Test(config, bad_values) {
    const char *cases[][2] = {
        {"num.partitions=0", "below the minimum"},
        {"num.partitions=abc", "not a whole number"},
        {"num.partitions=99999999999999999999", "not a whole number"},
        {"log.flush.sync=yes", "not true or false"},
        {"log.level=loud", "not one of"},
        {"num.network.threads=65", "above the maximum"},
        {"nonsense", "expected key=value"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rn_config c;
        rn_config_defaults(&c);
        char err[512];
        cr_assert_eq(rn_config_set(&c, cases[i][0], err, sizeof err), -1, "%s", cases[i][0]);
        cr_assert(strstr(err, cases[i][1]), "%s -> %s", cases[i][0], err);
        cr_assert(strstr(err, "--set"), "%s", err);
        rn_config_free(&c);
    }
}

Test(config, set_overrides_file) {
    write_conf("num.partitions=6\n");
    rn_config c;
    rn_config_defaults(&c);
    char err[256];
    cr_assert_eq(rn_config_load_file(&c, path, err, sizeof err), 0);
    cr_assert_eq(rn_config_set(&c, "num.partitions=9", err, sizeof err), 0);
    cr_assert_eq(c.num_partitions, 9);
    rn_config_free(&c);
    unlink(path);
}

Test(config, listeners) {
    rn_config c;
    rn_config_defaults(&c);
    char err[256];
    cr_assert_eq(rn_config_set(&c, "listeners=PLAINTEXT://127.0.0.1:9000,PLAINTEXT://[::1]:9001", err, sizeof err), 0);
    cr_assert_eq(rn_config_finish(&c, err, sizeof err), 0, "%s", err);
    cr_assert_eq(c.listener_count, 2);
    cr_assert_str_eq(c.listener[1].host, "::1");
    cr_assert_eq(c.listener[1].port, 9001);
    cr_assert_str_eq(c.advertised[0].host, "127.0.0.1");
    const char *bad[] = {"listeners=FOO://h:1", "listeners=PLAINTEXT://h:99999", "listeners=h:1",
                         "listeners=PLAINTEXT://nohost"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        rn_config_set(&c, bad[i], err, sizeof err);
        cr_assert_eq(rn_config_finish(&c, err, sizeof err), -1, "%s", bad[i]);
    }
    rn_config_set(&c, "listeners=PLAINTEXT://0.0.0.0:9092", err, sizeof err);
    rn_config_set(&c, "advertised.listeners=PLAINTEXT://broker.example:19092", err, sizeof err);
    cr_assert_eq(rn_config_finish(&c, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(c.advertised[0].host, "broker.example");
    cr_assert_eq(c.advertised[0].port, 19092);
    rn_config_free(&c);
}

Test(config, retention_aliases) {
    rn_config c;
    rn_config_defaults(&c);
    char err[256];
    cr_assert_eq(rn_config_set(&c, "log.retention.hours=2", err, sizeof err), 0);
    cr_assert_eq(c.log_retention_ms, 7200000);
    cr_assert_eq(rn_config_set(&c, "log.retention.minutes=3", err, sizeof err), 0);
    cr_assert_eq(c.log_retention_ms, 180000, "minutes beat hours");
    cr_assert_eq(rn_config_set(&c, "log.retention.hours=5", err, sizeof err), 0);
    cr_assert_eq(c.log_retention_ms, 180000, "hours do not override minutes");
    cr_assert_eq(rn_config_set(&c, "log.retention.ms=42", err, sizeof err), 0);
    cr_assert_eq(rn_config_set(&c, "log.retention.minutes=7", err, sizeof err), 0);
    cr_assert_eq(c.log_retention_ms, 42, "ms beats everything");
    rn_config_free(&c);
}

Test(config, get_text_round_trips) {
    rn_config c;
    rn_config_defaults(&c);
    char buf[256], err[256];
    for (const rn_config_key *k = rn_config_keys; k->name; k++) {
        const char *v = rn_config_get_text(&c, k, buf, sizeof buf);
        char assign[512];
        snprintf(assign, sizeof assign, "%s=%s", k->name, v);
        cr_assert_eq(rn_config_set(&c, assign, err, sizeof err), 0, "%s: %s", assign, err);
    }
    rn_config_free(&c);
}
