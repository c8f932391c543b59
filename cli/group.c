/* cli/group.c: `runnel group list|describe|delete`: ListConsumerGroups,
 * DescribeConsumerGroups (members and their assignments), ListConsumerGroupOffsets
 * against the high watermarks (lag), DeleteGroups. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "json.h"
#include "table.h"

#define WATERMARK_TIMEOUT_MS 5000

static const cli_option no_options[] = {{NULL, NULL, NULL}};

/* ---- group list ---- */

typedef struct {
    const char *id;
    const char *state;
    int simple;
} group_row;

static int by_group(const void *x, const void *y) {
    return strcmp(((const group_row *)x)->id, ((const group_row *)y)->id);
}

static int group_list(cli_args *a) {
    rd_kafka_t *rk = cli_admin_new(a);
    if (!rk) return CLI_FAILED;
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *o = cli_admin_options(rk, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPS);
    rd_kafka_ListConsumerGroups(rk, o, q);
    rd_kafka_AdminOptions_destroy(o);
    int rc = CLI_FAILED;
    rd_kafka_event_t *ev = cli_admin_wait(q, RD_KAFKA_EVENT_LISTCONSUMERGROUPS_RESULT, "cannot list groups");
    if (ev) {
        const rd_kafka_ListConsumerGroups_result_t *res = rd_kafka_event_ListConsumerGroups_result(ev);
        size_t n, nerr;
        const rd_kafka_ConsumerGroupListing_t **gs = rd_kafka_ListConsumerGroups_result_valid(res, &n);
        const rd_kafka_error_t **errs = rd_kafka_ListConsumerGroups_result_errors(res, &nerr);
        for (size_t i = 0; i < nerr; i++) cli_error("listing groups: %s", rd_kafka_error_string(errs[i]));
        group_row *rows = calloc(n + 1, sizeof *rows);
        if (!rows) abort();
        for (size_t i = 0; i < n; i++) {
            rows[i].id = rd_kafka_ConsumerGroupListing_group_id(gs[i]);
            rows[i].state = rd_kafka_consumer_group_state_name(rd_kafka_ConsumerGroupListing_state(gs[i]));
            rows[i].simple = rd_kafka_ConsumerGroupListing_is_simple_consumer_group(gs[i]);
        }
        /* ListGroups before v4 carries no state: ask DescribeConsumerGroups. */
        rd_kafka_event_t *dev = NULL;
        if (n) {
            const char **ids = calloc(n, sizeof *ids);
            if (!ids) abort();
            for (size_t i = 0; i < n; i++) ids[i] = rows[i].id;
            o = cli_admin_options(rk, RD_KAFKA_ADMIN_OP_DESCRIBECONSUMERGROUPS);
            rd_kafka_DescribeConsumerGroups(rk, ids, n, o, q);
            rd_kafka_AdminOptions_destroy(o);
            free(ids);
            dev = cli_admin_wait(q, RD_KAFKA_EVENT_DESCRIBECONSUMERGROUPS_RESULT, "cannot describe groups");
        }
        if (dev) {
            size_t nd;
            const rd_kafka_ConsumerGroupDescription_t **ds =
                rd_kafka_DescribeConsumerGroups_result_groups(rd_kafka_event_DescribeConsumerGroups_result(dev), &nd);
            for (size_t d = 0; d < nd; d++)
                for (size_t i = 0; i < n; i++)
                    if (!rd_kafka_ConsumerGroupDescription_error(ds[d]) &&
                        !strcmp(rows[i].id, rd_kafka_ConsumerGroupDescription_group_id(ds[d])) &&
                        rd_kafka_ConsumerGroupListing_state(gs[i]) == RD_KAFKA_CONSUMER_GROUP_STATE_UNKNOWN)
                        rows[i].state =
                            rd_kafka_consumer_group_state_name(rd_kafka_ConsumerGroupDescription_state(ds[d]));
        }
        qsort(rows, n, sizeof *rows, by_group);
        if (a->json) {
            cli_json j;
            cli_json_init(&j, stdout);
            cli_json_begin_array(&j);
            for (size_t i = 0; i < n; i++) {
                cli_json_begin_object(&j);
                cli_json_key(&j, "group");
                cli_json_string(&j, rows[i].id);
                cli_json_key(&j, "state");
                cli_json_string(&j, rows[i].state);
                cli_json_key(&j, "simple");
                cli_json_bool(&j, rows[i].simple);
                cli_json_end_object(&j);
            }
            cli_json_end_array(&j);
            cli_json_newline(&j);
        } else {
            cli_table *t = cli_table_new(3, "GROUP", "STATE", "TYPE");
            for (size_t i = 0; i < n; i++)
                cli_table_add(t, rows[i].id, rows[i].state, rows[i].simple ? "simple" : "consumer");
            cli_table_print(t, stdout);
            cli_table_free(t);
        }
        free(rows);
        if (dev) rd_kafka_event_destroy(dev);
        rc = nerr ? CLI_FAILED : CLI_OK;
        rd_kafka_event_destroy(ev);
    }
    rd_kafka_queue_destroy(q);
    rd_kafka_destroy(rk);
    return rc;
}

const cli_command cli_group_list = {
    "group list", "", "list consumer groups and their states", NULL, no_options, 0, 0, group_list,
};

/* ---- group describe ---- */

typedef struct {
    char *topic;
    int32_t partition;
    int64_t committed; /* -1: none */
    int64_t high;      /* -1: unknown */
    const char *member; /* consumer id of the member it is assigned to, or NULL */
} lag_row;

typedef struct {
    lag_row *rows;
    size_t n;
} lag_table;

static lag_row *lag_find(lag_table *t, const char *topic, int32_t partition) {
    for (size_t i = 0; i < t->n; i++)
        if (t->rows[i].partition == partition && !strcmp(t->rows[i].topic, topic)) return &t->rows[i];
    t->rows = realloc(t->rows, (t->n + 1) * sizeof *t->rows);
    if (!t->rows) abort();
    lag_row *r = &t->rows[t->n++];
    memset(r, 0, sizeof *r);
    r->topic = strdup(topic);
    r->partition = partition;
    r->committed = -1;
    r->high = -1;
    return r;
}

static int by_topic_partition(const void *x, const void *y) {
    const lag_row *a = x, *b = y;
    int c = strcmp(a->topic, b->topic);
    return c ? c : (a->partition > b->partition) - (a->partition < b->partition);
}

/* The group's committed offsets into t. librdkafka 2.0.2 asks for "all partitions"
 * with an empty topic array rather than null, which gets nothing back: ask for every
 * partition of every topic in the metadata instead. */
static int committed_offsets(rd_kafka_t *rk, const char *group, lag_table *t) {
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t merr = rd_kafka_metadata(rk, 1, NULL, &md, 10000);
    if (merr) {
        cli_error("cannot read the topics for group %s: %s", group, rd_kafka_err2str(merr));
        return CLI_FAILED;
    }
    rd_kafka_topic_partition_list_t *all = rd_kafka_topic_partition_list_new(16);
    for (int i = 0; i < md->topic_cnt; i++) {
        if (!strcmp(md->topics[i].topic, "__consumer_offsets")) continue;
        for (int k = 0; k < md->topics[i].partition_cnt; k++)
            rd_kafka_topic_partition_list_add(all, md->topics[i].topic, md->topics[i].partitions[k].id);
    }
    rd_kafka_metadata_destroy(md);
    if (!all->cnt) {
        rd_kafka_topic_partition_list_destroy(all);
        return CLI_OK;
    }
    rd_kafka_ListConsumerGroupOffsets_t *req = rd_kafka_ListConsumerGroupOffsets_new(group, all);
    rd_kafka_topic_partition_list_destroy(all);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *o = cli_admin_options(rk, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS);
    rd_kafka_ListConsumerGroupOffsets(rk, &req, 1, o, q);
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_ListConsumerGroupOffsets_destroy(req);
    char what[512];
    snprintf(what, sizeof what, "cannot fetch the committed offsets of group %s", group);
    int rc = CLI_FAILED;
    rd_kafka_event_t *ev = cli_admin_wait(q, RD_KAFKA_EVENT_LISTCONSUMERGROUPOFFSETS_RESULT, what);
    if (ev) {
        size_t n;
        const rd_kafka_group_result_t **gr =
            rd_kafka_ListConsumerGroupOffsets_result_groups(rd_kafka_event_ListConsumerGroupOffsets_result(ev), &n);
        rc = CLI_OK;
        for (size_t i = 0; i < n; i++) {
            const rd_kafka_error_t *e = rd_kafka_group_result_error(gr[i]);
            if (e) {
                cli_error("%s: %s", what, rd_kafka_error_string(e));
                rc = CLI_FAILED;
                continue;
            }
            const rd_kafka_topic_partition_list_t *ps = rd_kafka_group_result_partitions(gr[i]);
            for (int k = 0; ps && k < ps->cnt; k++) {
                if (ps->elems[k].err || ps->elems[k].offset < 0) continue;
                lag_row *r = lag_find(t, ps->elems[k].topic, ps->elems[k].partition);
                r->committed = ps->elems[k].offset;
            }
        }
        rd_kafka_event_destroy(ev);
    }
    rd_kafka_queue_destroy(q);
    return rc;
}

static void json_partitions(cli_json *j, const rd_kafka_topic_partition_list_t *ps) {
    cli_json_begin_array(j);
    for (int k = 0; ps && k < ps->cnt; k++) {
        cli_json_begin_object(j);
        cli_json_key(j, "topic");
        cli_json_string(j, ps->elems[k].topic);
        cli_json_key(j, "partition");
        cli_json_int(j, ps->elems[k].partition);
        cli_json_end_object(j);
    }
    cli_json_end_array(j);
}

static void print_describe(const cli_args *a, const rd_kafka_ConsumerGroupDescription_t *d, lag_table *lt) {
    const char *group = rd_kafka_ConsumerGroupDescription_group_id(d);
    const char *state = rd_kafka_consumer_group_state_name(rd_kafka_ConsumerGroupDescription_state(d));
    const char *protocol = rd_kafka_ConsumerGroupDescription_partition_assignor(d);
    const rd_kafka_Node_t *coord = rd_kafka_ConsumerGroupDescription_coordinator(d);
    size_t nm = rd_kafka_ConsumerGroupDescription_member_count(d);
    int64_t total = 0;
    for (size_t i = 0; i < lt->n; i++)
        if (lt->rows[i].committed >= 0 && lt->rows[i].high >= 0)
            total += lt->rows[i].high > lt->rows[i].committed ? lt->rows[i].high - lt->rows[i].committed : 0;
    if (a->json) {
        cli_json j;
        cli_json_init(&j, stdout);
        cli_json_begin_object(&j);
        cli_json_key(&j, "group");
        cli_json_string(&j, group);
        cli_json_key(&j, "state");
        cli_json_string(&j, state);
        cli_json_key(&j, "protocol");
        cli_json_string(&j, protocol && *protocol ? protocol : NULL);
        cli_json_key(&j, "coordinator");
        if (coord)
            cli_json_int(&j, rd_kafka_Node_id(coord));
        else
            cli_json_null(&j);
        cli_json_key(&j, "members");
        cli_json_begin_array(&j);
        for (size_t i = 0; i < nm; i++) {
            const rd_kafka_MemberDescription_t *m = rd_kafka_ConsumerGroupDescription_member(d, i);
            cli_json_begin_object(&j);
            cli_json_key(&j, "member_id");
            cli_json_string(&j, rd_kafka_MemberDescription_consumer_id(m));
            cli_json_key(&j, "group_instance_id");
            cli_json_string(&j, rd_kafka_MemberDescription_group_instance_id(m));
            cli_json_key(&j, "client_id");
            cli_json_string(&j, rd_kafka_MemberDescription_client_id(m));
            cli_json_key(&j, "host");
            cli_json_string(&j, rd_kafka_MemberDescription_host(m));
            cli_json_key(&j, "assignment");
            const rd_kafka_MemberAssignment_t *as = rd_kafka_MemberDescription_assignment(m);
            json_partitions(&j, as ? rd_kafka_MemberAssignment_partitions(as) : NULL);
            cli_json_end_object(&j);
        }
        cli_json_end_array(&j);
        cli_json_key(&j, "offsets");
        cli_json_begin_array(&j);
        for (size_t i = 0; i < lt->n; i++) {
            const lag_row *r = &lt->rows[i];
            cli_json_begin_object(&j);
            cli_json_key(&j, "topic");
            cli_json_string(&j, r->topic);
            cli_json_key(&j, "partition");
            cli_json_int(&j, r->partition);
            cli_json_key(&j, "committed");
            if (r->committed >= 0) cli_json_int(&j, r->committed); else cli_json_null(&j);
            cli_json_key(&j, "high");
            if (r->high >= 0) cli_json_int(&j, r->high); else cli_json_null(&j);
            cli_json_key(&j, "lag");
            if (r->committed >= 0 && r->high >= 0)
                cli_json_int(&j, r->high > r->committed ? r->high - r->committed : 0);
            else
                cli_json_null(&j);
            cli_json_key(&j, "member_id");
            cli_json_string(&j, r->member);
            cli_json_end_object(&j);
        }
        cli_json_end_array(&j);
        cli_json_key(&j, "total_lag");
        cli_json_int(&j, total);
        cli_json_end_object(&j);
        cli_json_newline(&j);
        return;
    }
    printf("group %s: state %s, protocol %s, coordinator %d, %zu member%s\n\n", group, state,
           protocol && *protocol ? protocol : "-", coord ? rd_kafka_Node_id(coord) : -1, nm, nm == 1 ? "" : "s");
    if (nm) {
        cli_table *t = cli_table_new(4, "MEMBER", "CLIENT", "HOST", "PARTITIONS");
        for (size_t i = 0; i < nm; i++) {
            const rd_kafka_MemberDescription_t *m = rd_kafka_ConsumerGroupDescription_member(d, i);
            const rd_kafka_MemberAssignment_t *as = rd_kafka_MemberDescription_assignment(m);
            const rd_kafka_topic_partition_list_t *ps = as ? rd_kafka_MemberAssignment_partitions(as) : NULL;
            char buf[1024] = "";
            size_t off = 0;
            for (int k = 0; ps && k < ps->cnt && off < sizeof buf; k++)
                off += (size_t)snprintf(buf + off, sizeof buf - off, "%s%s:%d", k ? "," : "", ps->elems[k].topic,
                                        (int)ps->elems[k].partition);
            cli_table_add(t, rd_kafka_MemberDescription_consumer_id(m), rd_kafka_MemberDescription_client_id(m),
                          rd_kafka_MemberDescription_host(m), buf[0] ? buf : "-");
        }
        cli_table_print(t, stdout);
        cli_table_free(t);
        printf("\n");
    }
    if (!lt->n) {
        printf("no committed offsets\n");
        return;
    }
    cli_table *t = cli_table_new(5, "TOPIC", "PARTITION", "COMMITTED", "HIGH", "LAG");
    for (size_t i = 0; i < lt->n; i++) {
        const lag_row *r = &lt->rows[i];
        char p[16], c[24] = "-", h[24] = "-", l[24] = "-";
        snprintf(p, sizeof p, "%d", (int)r->partition);
        if (r->committed >= 0) snprintf(c, sizeof c, "%" PRId64, r->committed);
        if (r->high >= 0) snprintf(h, sizeof h, "%" PRId64, r->high);
        if (r->committed >= 0 && r->high >= 0)
            snprintf(l, sizeof l, "%" PRId64, r->high > r->committed ? r->high - r->committed : 0);
        cli_table_add(t, r->topic, p, c, h, l);
    }
    cli_table_print(t, stdout);
    cli_table_free(t);
    printf("\ntotal lag %" PRId64 "\n", total);
}

static int group_describe(cli_args *a) {
    const char *group = a->positional[0];
    rd_kafka_t *rk = cli_admin_new(a);
    if (!rk) return CLI_FAILED;
    int rc = CLI_FAILED;
    lag_table lt = {0};
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *o = cli_admin_options(rk, RD_KAFKA_ADMIN_OP_DESCRIBECONSUMERGROUPS);
    rd_kafka_DescribeConsumerGroups(rk, &group, 1, o, q);
    rd_kafka_AdminOptions_destroy(o);
    char what[512];
    snprintf(what, sizeof what, "cannot describe group %s", group);
    rd_kafka_event_t *ev = cli_admin_wait(q, RD_KAFKA_EVENT_DESCRIBECONSUMERGROUPS_RESULT, what);
    if (!ev) goto out;
    size_t n;
    const rd_kafka_ConsumerGroupDescription_t **ds =
        rd_kafka_DescribeConsumerGroups_result_groups(rd_kafka_event_DescribeConsumerGroups_result(ev), &n);
    if (n != 1) {
        cli_error("%s: the broker returned %zu groups", what, n);
        goto out;
    }
    const rd_kafka_error_t *e = rd_kafka_ConsumerGroupDescription_error(ds[0]);
    if (e) {
        cli_error("%s: %s", what, rd_kafka_error_string(e));
        goto out;
    }
    if (committed_offsets(rk, group, &lt) != CLI_OK) goto out;
    rd_kafka_consumer_group_state_t state = rd_kafka_ConsumerGroupDescription_state(ds[0]);
    size_t nm = rd_kafka_ConsumerGroupDescription_member_count(ds[0]);
    if (state == RD_KAFKA_CONSUMER_GROUP_STATE_DEAD && !nm && !lt.n) {
        cli_error("group %s does not exist", group);
        goto out;
    }
    /* Assigned partitions without a commit are shown too, with their member. */
    for (size_t i = 0; i < nm; i++) {
        const rd_kafka_MemberDescription_t *m = rd_kafka_ConsumerGroupDescription_member(ds[0], i);
        const rd_kafka_MemberAssignment_t *as = rd_kafka_MemberDescription_assignment(m);
        const rd_kafka_topic_partition_list_t *ps = as ? rd_kafka_MemberAssignment_partitions(as) : NULL;
        for (int k = 0; ps && k < ps->cnt; k++)
            lag_find(&lt, ps->elems[k].topic, ps->elems[k].partition)->member =
                rd_kafka_MemberDescription_consumer_id(m);
    }
    if (lt.n) qsort(lt.rows, lt.n, sizeof *lt.rows, by_topic_partition);
    for (size_t i = 0; i < lt.n; i++) {
        int64_t low, high;
        if (!rd_kafka_query_watermark_offsets(rk, lt.rows[i].topic, lt.rows[i].partition, &low, &high,
                                              WATERMARK_TIMEOUT_MS))
            lt.rows[i].high = high;
    }
    print_describe(a, ds[0], &lt);
    rc = CLI_OK;
out:
    for (size_t i = 0; i < lt.n; i++) free(lt.rows[i].topic);
    free(lt.rows);
    if (ev) rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_destroy(rk);
    return rc;
}

const cli_command cli_group_describe = {
    "group describe", "G", "a group's state, members, assignments, committed offsets and lag",
    "Lag is the partition's high watermark minus the group's committed offset.\n",
    no_options, 1, 1, group_describe,
};

/* ---- group delete ---- */

static int group_delete(cli_args *a) {
    const char *group = a->positional[0];
    rd_kafka_t *rk = cli_admin_new(a);
    if (!rk) return CLI_FAILED;
    rd_kafka_DeleteGroup_t *dg = rd_kafka_DeleteGroup_new(group);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *o = cli_admin_options(rk, RD_KAFKA_ADMIN_OP_DELETEGROUPS);
    rd_kafka_DeleteGroups(rk, &dg, 1, o, q);
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_DeleteGroup_destroy(dg);
    char what[512];
    snprintf(what, sizeof what, "cannot delete group %s", group);
    int rc = CLI_FAILED;
    rd_kafka_event_t *ev = cli_admin_wait(q, RD_KAFKA_EVENT_DELETEGROUPS_RESULT, what);
    if (ev) {
        size_t n;
        const rd_kafka_group_result_t **gr =
            rd_kafka_DeleteGroups_result_groups(rd_kafka_event_DeleteGroups_result(ev), &n);
        rc = CLI_OK;
        for (size_t i = 0; i < n; i++) {
            const rd_kafka_error_t *e = rd_kafka_group_result_error(gr[i]);
            if (!e) continue;
            cli_error("%s: %s", what, rd_kafka_error_string(e));
            rc = CLI_FAILED;
        }
        rd_kafka_event_destroy(ev);
    }
    if (rc == CLI_OK) {
        if (a->json) {
            cli_json j;
            cli_json_init(&j, stdout);
            cli_json_begin_object(&j);
            cli_json_key(&j, "group");
            cli_json_string(&j, group);
            cli_json_key(&j, "deleted");
            cli_json_bool(&j, 1);
            cli_json_end_object(&j);
            cli_json_newline(&j);
        } else {
            printf("deleted group %s\n", group);
        }
    }
    rd_kafka_queue_destroy(q);
    rd_kafka_destroy(rk);
    return rc;
}

const cli_command cli_group_delete = {
    "group delete", "G", "delete a group and its committed offsets (it must have no members)",
    NULL, no_options, 1, 1, group_delete,
};
