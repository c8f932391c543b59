/* bench/harness/nats_js.c: the NATS JetStream side of the benchmarks (libnats): STREAMS
 * file-storage streams PREFIX0..PREFIX<STREAMS-1> (subject = stream name) stand in for
 * a topic's partitions, one connection for one client; a record is a message of SIZE
 * bytes, acknowledged by the server's PubAck (JetStream's only publish acknowledgement).
 *
 *   nats_js URL create  PREFIX STREAMS                  file-storage streams, R1, defaults;
 *                                                        on failure "result streams=<made>"
 *   nats_js URL produce PREFIX STREAMS COUNT SIZE DEPTH async publish round robin, DEPTH
 *                                                        PubAcks outstanding at most
 *   nats_js URL read    PREFIX STREAMS                  catch-up: ephemeral pull consumers
 *                                                        (AckNone), one thread per stream
 *   nats_js URL group   PREFIX STREAMS                  durable pull consumers (AckAll, one
 *                                                        ack per fetched batch)
 *   nats_js URL latency PREFIX STREAMS RATE SECONDS SIZE
 *                 fixed-rate async publish, push consumers (AckNone) in the same process
 *   nats_js URL ping                                     JetStream's stream count (exit 1
 *                                                        while it does not answer)
 *
 * Prints one "result" line (see common.h). */
#include <pthread.h>
#include <stdatomic.h>

#include <nats/nats.h>

#include "common.h"

#define FETCH_BATCH 1000
#define DURABLE "bench"

static const char *url;

static void check(natsStatus s, const char *what) {
    if (s != NATS_OK) bench_die(what, natsStatus_GetText(s));
}

static void check_js(natsStatus s, jsErrCode jerr, const char *what) {
    if (s != NATS_OK) {
        fprintf(stderr, "harness: %s: %s (JetStream error %d: %s)\n", what, natsStatus_GetText(s), (int)jerr,
                nats_GetLastError(NULL));
        exit(1);
    }
}

static void open_js(natsConnection **nc, jsCtx **js, int64_t max_pending, jsPubAckErrHandler on_err) {
    natsOptions *o;
    check(natsOptions_Create(&o), "options");
    check(natsOptions_SetURL(o, url), "url");
    check(natsOptions_SetTimeout(o, 10000), "timeout");
    check(natsConnection_Connect(nc, o), "connect");
    natsOptions_Destroy(o);
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = 30000;
    if (max_pending) jo.PublishAsync.MaxPending = max_pending;
    jo.PublishAsync.ErrHandler = on_err;
    jo.PublishAsync.StallWait = 30000;
    check(natsConnection_JetStream(js, *nc, &jo), "jetstream");
}

static void stream_name(char *buf, size_t n, const char *prefix, long long i) { snprintf(buf, n, "%s%lld", prefix, i); }

static int cmd_ping(void) {
    natsConnection *nc;
    jsCtx *js;
    open_js(&nc, &js, 0, NULL);
    jsAccountInfo *ai = NULL;
    jsErrCode jerr = 0;
    natsStatus s = js_GetAccountInfo(&ai, js, NULL, &jerr);
    if (s == NATS_OK) printf("result streams=%lld\n", (long long)ai->Streams);
    if (ai) jsAccountInfo_Destroy(ai);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    return s == NATS_OK ? 0 : 1;
}

static int cmd_create(const char *prefix, long long streams) {
    natsConnection *nc;
    jsCtx *js;
    open_js(&nc, &js, 0, NULL);
    int64_t t0 = bench_now_ns();
    for (long long i = 0; i < streams; i++) {
        char name[256];
        stream_name(name, sizeof name, prefix, i);
        const char *subjects[] = {name};
        jsStreamConfig cfg;
        jsStreamConfig_Init(&cfg);
        cfg.Name = name;
        cfg.Subjects = subjects;
        cfg.SubjectsLen = 1;
        cfg.Storage = js_FileStorage;
        jsStreamInfo *si = NULL;
        jsErrCode jerr = 0;
        natsStatus s = js_AddStream(&si, js, &cfg, NULL, &jerr);
        if (s != NATS_OK) {
            /* How far it got is a figure too (a server out of file descriptors, say). */
            fprintf(stderr, "harness: add stream %s: %s (JetStream error %d: %s)\n", name, natsStatus_GetText(s),
                    (int)jerr, nats_GetLastError(NULL));
            printf("result streams=%lld seconds=%.3f failed_at=%lld\n", i, (double)(bench_now_ns() - t0) / 1e9, i);
            return 1;
        }
        jsStreamInfo_Destroy(si);
    }
    printf("result streams=%lld seconds=%.3f\n", streams, (double)(bench_now_ns() - t0) / 1e9);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    return 0;
}

static atomic_llong publish_errors;

static void on_pub_err(jsCtx *js, jsPubAckErr *pae, void *closure) {
    (void)js, (void)closure;
    if (atomic_fetch_add(&publish_errors, 1) == 0)
        fprintf(stderr, "harness: publish failed: %s\n", pae->ErrText ? pae->ErrText : natsStatus_GetText(pae->Err));
}

static int cmd_produce(const char *prefix, long long streams, long long count, size_t size, long long depth) {
    natsConnection *nc;
    jsCtx *js;
    open_js(&nc, &js, depth, on_pub_err);
    char *payload = malloc(size * 2 + 1);
    char (*subjects)[64] = calloc((size_t)streams, 64);
    if (!payload || !subjects) abort();
    bench_fill(payload, size * 2 + 1);
    for (long long i = 0; i < streams; i++) stream_name(subjects[i], 64, prefix, i);
    int64_t t0 = bench_now_ns();
    for (long long i = 0; i < count; i++)
        check(js_PublishAsync(js, subjects[i % streams], payload + i % (long long)(size + 1), (int)size, NULL),
              "publish");
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = 120000;
    check(js_PublishAsyncComplete(js, &po), "publish complete");
    int64_t dt = bench_now_ns() - t0;
    long long failed = atomic_load(&publish_errors);
    bench_print_rate(count - failed, (count - failed) * (long long)size, dt);
    free(payload);
    free(subjects);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    return failed != 0;
}

/* ---- read / group: one pulling thread per stream ---- */

typedef struct {
    jsCtx *js;
    char name[64];
    int durable;
    long long records, bytes;
} reader;

static void *read_stream(void *arg) {
    reader *r = arg;
    jsErrCode jerr = 0;
    jsStreamInfo *si = NULL;
    check_js(js_GetStreamInfo(&si, r->js, r->name, NULL, &jerr), jerr, "stream info");
    long long want = (long long)si->State.Msgs;
    jsStreamInfo_Destroy(si);
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = r->name;
    so.Config.DeliverPolicy = js_DeliverAll;
    so.Config.AckPolicy = r->durable ? js_AckAll : js_AckNone;
    so.Config.MaxAckPending = 4 * FETCH_BATCH;
    natsSubscription *sub = NULL;
    check_js(js_PullSubscribe(&sub, r->js, r->name, r->durable ? DURABLE : NULL, NULL, &so, &jerr), jerr,
             "pull subscribe");
    while (r->records < want) {
        natsMsgList list = {0};
        natsStatus s = natsSubscription_Fetch(&list, sub, FETCH_BATCH, 5000, &jerr);
        if (s == NATS_TIMEOUT) break;
        check_js(s, jerr, "fetch");
        for (int i = 0; i < list.Count; i++) r->bytes += natsMsg_GetDataLength(list.Msgs[i]);
        r->records += list.Count;
        if (r->durable && list.Count) check(natsMsg_Ack(list.Msgs[list.Count - 1], NULL), "ack");
        natsMsgList_Destroy(&list);
    }
    natsSubscription_Unsubscribe(sub);
    natsSubscription_Destroy(sub);
    return NULL;
}

static int cmd_read(const char *prefix, long long streams, int durable) {
    natsConnection *nc;
    jsCtx *js;
    open_js(&nc, &js, 0, NULL);
    reader *rs = calloc((size_t)streams, sizeof *rs);
    pthread_t *th = calloc((size_t)streams, sizeof *th);
    if (!rs || !th) abort();
    int64_t t0 = bench_now_ns();
    for (long long i = 0; i < streams; i++) {
        rs[i].js = js, rs[i].durable = durable;
        stream_name(rs[i].name, sizeof rs[i].name, prefix, i);
        pthread_create(&th[i], NULL, read_stream, &rs[i]);
    }
    long long records = 0, bytes = 0;
    for (long long i = 0; i < streams; i++) {
        pthread_join(th[i], NULL);
        records += rs[i].records, bytes += rs[i].bytes;
    }
    bench_print_rate(records, bytes, bench_now_ns() - t0);
    free(rs);
    free(th);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    return 0;
}

/* ---- latency ---- */

static long long lat_total, lat_warm;
static atomic_llong lat_got;
static pthread_mutex_t lat_lock = PTHREAD_MUTEX_INITIALIZER;
static bench_samples lat;

static void on_msg(natsConnection *nc, natsSubscription *sub, natsMsg *m, void *closure) {
    (void)nc, (void)sub, (void)closure;
    int64_t now = bench_now_ns(), due;
    long long seq;
    if (!bench_unstamp(natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m), &due, &seq) && seq >= lat_warm &&
        seq < lat_total) {
        pthread_mutex_lock(&lat_lock);
        bench_samples_add(&lat, now - due);
        pthread_mutex_unlock(&lat_lock);
        atomic_fetch_add(&lat_got, 1);
    }
    natsMsg_Destroy(m);
}

static int cmd_latency(const char *prefix, long long streams, long long rate, long long seconds, size_t size) {
    if (rate < 1 || seconds < 2 || size < 16) bench_die("usage", "RATE >= 1, SECONDS >= 2, SIZE >= 16");
    lat_total = rate * seconds, lat_warm = rate;
    natsConnection *nc;
    jsCtx *js;
    open_js(&nc, &js, 100000, on_pub_err);
    natsSubscription **subs = calloc((size_t)streams, sizeof *subs);
    char (*subjects)[64] = calloc((size_t)streams, 64);
    char *buf = malloc(size);
    if (!subs || !subjects || !buf) abort();
    for (long long i = 0; i < streams; i++) {
        stream_name(subjects[i], 64, prefix, i);
        jsSubOptions so;
        jsSubOptions_Init(&so);
        so.Stream = subjects[i];
        so.Config.DeliverPolicy = js_DeliverNew;
        so.Config.AckPolicy = js_AckNone;
        jsErrCode jerr = 0;
        check_js(js_Subscribe(&subs[i], js, subjects[i], on_msg, NULL, NULL, &so, &jerr), jerr, "subscribe");
    }
    bench_fill(buf, size);
    bench_pacer pace;
    bench_pacer_init(&pace, (double)rate);
    long long sent = 0;
    while (sent < lat_total) {
        long long due = bench_pacer_wait(&pace, sent);
        for (; sent < due && sent < lat_total; sent++) {
            bench_stamp(buf, size, bench_pacer_due_ns(&pace, sent), sent);
            check(js_PublishAsync(js, subjects[sent % streams], buf, (int)size, NULL), "publish");
        }
    }
    double sent_rate = (double)sent / ((double)(bench_now_ns() - pace.start_ns) / 1e9);
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = 30000;
    check(js_PublishAsyncComplete(js, &po), "publish complete");
    int64_t deadline = bench_now_ns() + 10LL * 1000000000;
    while (atomic_load(&lat_got) < lat_total - lat_warm && bench_now_ns() < deadline) bench_sleep_ns(10000000);
    for (long long i = 0; i < streams; i++) {
        natsSubscription_Unsubscribe(subs[i]);
        natsSubscription_Destroy(subs[i]);
    }
    pthread_mutex_lock(&lat_lock);
    long long lost = lat_total - lat_warm - (long long)lat.n;
    bench_print_latency(&lat, "lost=%lld publish_errors=%lld sent_rate=%.0f", lost,
                        (long long)atomic_load(&publish_errors), sent_rate);
    pthread_mutex_unlock(&lat_lock);
    free(subs);
    free(subjects);
    free(buf);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    return lost != 0;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: nats_js URL ping|create|produce|read|group|latency PREFIX STREAMS ...\n");
        return 2;
    }
    url = argv[1];
    const char *cmd = argv[2];
    if (!strcmp(cmd, "ping")) return cmd_ping();
    if (argc < 5) return 2;
    const char *prefix = argv[3];
    long long streams = bench_arg(argv[4], "STREAMS");
    if (streams < 1) bench_die("STREAMS", "at least 1");
    if (!strcmp(cmd, "create") && argc == 5) return cmd_create(prefix, streams);
    if (!strcmp(cmd, "produce") && argc == 8)
        return cmd_produce(prefix, streams, bench_arg(argv[5], "COUNT"), (size_t)bench_arg(argv[6], "SIZE"),
                           bench_arg(argv[7], "DEPTH"));
    if ((!strcmp(cmd, "read") || !strcmp(cmd, "group")) && argc == 5)
        return cmd_read(prefix, streams, !strcmp(cmd, "group"));
    if (!strcmp(cmd, "latency") && argc == 8)
        return cmd_latency(prefix, streams, bench_arg(argv[5], "RATE"), bench_arg(argv[6], "SECONDS"),
                           (size_t)bench_arg(argv[7], "SIZE"));
    fprintf(stderr, "nats_js: bad arguments for %s\n", cmd);
    return 2;
}
