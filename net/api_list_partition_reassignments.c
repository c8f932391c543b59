/* net/api_list_partition_reassignments.c: ListPartitionReassignments (key 46), v0: the
 * partitions with a reassignment in flight (adding or removing replicas), read from the
 * metadata image, which every broker holds, so any broker answers. A single broker
 * never reassigns: the list is empty. */
#include <string.h>

#include "api.h"
#include "api_controller.h"
#include "authz.h"

typedef struct {
    char *name;
    int32_t npart;
    int32_t *parts;
} wanted_topic;

static void write_ids(rn_writer *w, const int32_t *ids, int n) {
    rn_write_array_len(w, n);
    for (int i = 0; i < n; i++) rn_write_i32(w, ids[i]);
}

static bool in_flight(const rn_md_partition *p) { return p && (p->nadding > 0 || p->nremoving > 0); }

static void write_partition(rn_writer *w, const rn_md_partition *p) {
    rn_write_i32(w, p->index);
    write_ids(w, p->replicas, p->nreplicas);
    write_ids(w, p->adding, p->nadding);
    write_ids(w, p->removing, p->nremoving);
    rn_write_tags(w);
}

/* One topic's entry, if any of its partitions (the wanted ones; want NULL: all) is being
 * reassigned. A partition named twice is listed once. */
static void write_topic(rn_writer *w, const rn_md_topic *t, const wanted_topic *want) {
    int n = 0;
    if (!want) {
        for (int32_t i = 0; i < t->npart; i++) n += in_flight(&t->parts[i]);
    } else {
        for (int32_t i = 0; i < want->npart; i++) {
            int32_t idx = want->parts[i];
            n += idx >= 0 && idx < t->npart && in_flight(&t->parts[idx]) &&
                 !rn_md_contains(want->parts, i, idx);
        }
    }
    if (n == 0) return;
    rn_write_string(w, t->name);
    rn_write_array_len(w, n);
    if (!want) {
        for (int32_t i = 0; i < t->npart; i++)
            if (in_flight(&t->parts[i])) write_partition(w, &t->parts[i]);
    } else {
        for (int32_t i = 0; i < want->npart; i++) {
            int32_t idx = want->parts[i];
            if (idx >= 0 && idx < t->npart && in_flight(&t->parts[idx]) &&
                !rn_md_contains(want->parts, i, idx))
                write_partition(w, &t->parts[idx]);
        }
    }
    rn_write_tags(w);
}

enum rn_api_result rn_api_list_partition_reassignments(rn_request *req) {
    rn_reader *r = &req->body;
    int32_t timeout_ms, ntopics;
    RN_R_I32(r, &timeout_ms);
    RN_R_ARRAY(r, &ntopics, 3);
    wanted_topic *want = ntopics > 0 ? rn_arena_calloc(&req->arena, (size_t)ntopics, sizeof *want)
                                     : NULL;
    if (ntopics > 0 && !want) goto err_parse;
    for (int32_t t = 0; t < ntopics; t++) {
        want[t].name = rn_api_read_name(req, r);
        if (!want[t].name) goto err_parse;
        RN_R_ARRAY(r, &want[t].npart, 4);
        if (want[t].npart > 0 &&
            !(want[t].parts = rn_arena_calloc(&req->arena, (size_t)want[t].npart, sizeof(int32_t))))
            goto err_parse;
        for (int32_t i = 0; i < want[t].npart; i++) RN_R_I32(r, &want[t].parts[i]);
        if (want[t].npart < 0) want[t].npart = 0;
        RN_R_TAGS(r);
    }
    RN_R_TAGS(r);

    rn_writer *w = &req->resp;
    rn_write_i32(w, 0); /* throttle_time_ms */
    /* Kafka: ListPartitionReassignments needs DESCRIBE on the cluster */
    if (!rn_authz(req, RN_ACL_OP_DESCRIBE, RN_ACL_RESOURCE_CLUSTER, NULL)) {
        rn_write_i16(w, rn_api_wire(req, RN_KAFKA_CLUSTER_AUTHORIZATION_FAILED));
        rn_write_string(w, NULL);
        rn_write_array_len(w, 0);
        rn_write_tags(w);
        return RN_API_DONE;
    }
    rn_write_i16(w, 0);
    rn_write_string(w, NULL);
    rn_cluster *c = rn_controller_cluster(req);
    if (!c) {
        rn_write_array_len(w, 0);
        rn_write_tags(w);
        return RN_API_DONE;
    }
    /* The count of topics is known only after walking the image: a compact array's
     * count is a varint ahead of the elements, so the topics go to a side writer. */
    rn_writer body;
    rn_writer_init(&body, 256, w->flexible);
    int n = 0;
    rn_metadata *md = rn_cluster_metadata(c);
    rn_md_read_lock(md);
    if (ntopics < 0) {
        int count;
        const rn_md_topic *topics = rn_md_topics(md, &count);
        for (int i = 0; i < count; i++) {
            size_t before = body.len;
            write_topic(&body, &topics[i], NULL);
            n += body.len != before;
        }
    } else {
        for (int32_t t = 0; t < ntopics; t++) {
            bool repeated = false;
            for (int32_t u = 0; u < t && !repeated; u++)
                repeated = strcmp(want[u].name, want[t].name) == 0;
            const rn_md_topic *topic = repeated ? NULL : rn_md_topic_get(md, want[t].name);
            if (!topic) continue; /* unknown topics have nothing in flight */
            size_t before = body.len;
            write_topic(&body, topic, &want[t]);
            n += body.len != before;
        }
    }
    rn_md_read_unlock(md);
    rn_write_array_len(w, n);
    rn_write_raw(w, body.buf, body.len);
    if (body.failed) w->failed = true;
    rn_writer_free(&body);
    rn_write_tags(w);
    return RN_API_DONE;
err_parse:
    return rn_api_malformed(req);
}
