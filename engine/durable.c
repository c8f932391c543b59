/* engine/durable.c: the sync thread (durable.h).
 *
 * Invariant: a waiter is in exactly one of: the queue, the batch being served (between
 * taking the queue and the end of its done calls), the pending list (replicated, synced,
 * its high watermarks not there yet), or nowhere (served or cancelled). The pending list
 * is only read or changed under `lock`, and its done calls run under it too (done is
 * quick and never calls the engine), so cancel finds a pending waiter or knows it is gone.
 * Cancel removes a queued or pending waiter, or waits for the batch being served. */
#include "durable.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "log.h"
#include "rnlog.h"

struct rn_durable {
    rn_store *store;
    bool sync;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t work, served;
    rn_durable_wait *queue, **tail;
    rn_durable_wait *pending;
    uint64_t turns; /* batches served: cancel waits for the one in service to end */
    bool serving, stopping, recheck;
    atomic_bool busy; /* serving || pending: a kick without it costs one load */
};

static void set_busy(rn_durable *d) {
    atomic_store(&d->busy, d->serving || d->pending != NULL);
}

/* 1: every partition reached its end; 0: not yet; else the error to finish with. */
static int wait_state(const rn_durable_wait *w) {
    int state = 1;
    for (int i = 0; i < w->n; i++) {
        int s = rn_replica_wait_state(w->parts[i], w->ends[i]);
        if (s != 1 && s != 0) return s;
        if (s == 0) state = 0;
    }
    return state;
}

/* Fsync (when sync) and publish; finish every waiter that can be. Returns the replicated
 * waiters still short of their high watermarks, linked by next. */
static rn_durable_wait *serve_batch(rn_store *store, bool sync, rn_durable_wait *batch) {
    rn_err err = sync ? rn_store_sync_wal(store) : RN_KAFKA_NONE;
    if (err) rn_log_error("durability: the WAL fsync failed: %s", rn_err_name(err));
    rn_durable_wait *held = NULL;
    for (rn_durable_wait *w = batch, *next; w; w = next) {
        next = w->next; /* done may free w (the request) */
        if (!err)
            for (int i = 0; i < w->n; i++) rn_log_publish(w->parts[i], w->ends[i]);
        int state = err || !w->replicated ? 1 : wait_state(w);
        if (state == 0) {
            w->next = held;
            held = w;
        } else {
            w->done(w, err ? err : state == 1 ? RN_KAFKA_NONE : state);
        }
    }
    return held;
}

void rn_durable_serve(rn_store *store, rn_durable_wait *batch) {
    rn_durable_wait *held = serve_batch(store, true, batch);
    for (rn_durable_wait *w = held, *next; w; w = next) {
        next = w->next;
        w->done(w, RN_KAFKA_NOT_ENOUGH_REPLICAS_AFTER_APPEND); /* nobody to hold it */
    }
}

/* Finish the pending waiters that can be (lock held). */
static void check_pending(rn_durable *d) {
    for (rn_durable_wait **pp = &d->pending; *pp;) {
        rn_durable_wait *w = *pp;
        int state = d->stopping ? RN_KAFKA_NOT_LEADER_OR_FOLLOWER : wait_state(w);
        if (state == 0) {
            pp = &w->next;
            continue;
        }
        *pp = w->next;
        w->done(w, state == 1 ? RN_KAFKA_NONE : state);
    }
}

static void *durable_main(void *arg) {
    rn_durable *d = arg;
    pthread_mutex_lock(&d->lock);
    for (;;) {
        while (!d->queue && !d->recheck && !d->stopping) pthread_cond_wait(&d->work, &d->lock);
        d->recheck = false;
        if (d->queue) {
            rn_durable_wait *batch = d->queue;
            d->queue = NULL;
            d->tail = &d->queue;
            d->serving = true;
            set_busy(d);
            pthread_mutex_unlock(&d->lock);
            rn_durable_wait *held = serve_batch(d->store, d->sync, batch);
            pthread_mutex_lock(&d->lock);
            while (held) {
                rn_durable_wait *next = held->next;
                held->next = d->pending;
                d->pending = held;
                held = next;
            }
            d->serving = false;
            set_busy(d);
            d->turns++;
            pthread_cond_broadcast(&d->served);
        }
        check_pending(d);
        set_busy(d);
        if (d->stopping && !d->queue) break;
    }
    pthread_mutex_unlock(&d->lock);
    return NULL;
}

rn_durable *rn_durable_start(rn_store *s, bool sync) {
    rn_durable *d = calloc(1, sizeof *d);
    if (!d) return NULL;
    d->store = s;
    d->sync = sync;
    d->tail = &d->queue;
    atomic_init(&d->busy, false);
    pthread_mutex_init(&d->lock, NULL);
    pthread_cond_init(&d->work, NULL);
    pthread_cond_init(&d->served, NULL);
    if (pthread_create(&d->thread, NULL, durable_main, d) != 0) {
        pthread_mutex_destroy(&d->lock);
        pthread_cond_destroy(&d->work);
        pthread_cond_destroy(&d->served);
        free(d);
        return NULL;
    }
    return d;
}

void rn_durable_stop(rn_durable *d) {
    if (!d) return;
    pthread_mutex_lock(&d->lock);
    d->stopping = true;
    pthread_cond_signal(&d->work);
    pthread_mutex_unlock(&d->lock);
    pthread_join(d->thread, NULL);
    pthread_mutex_destroy(&d->lock);
    pthread_cond_destroy(&d->work);
    pthread_cond_destroy(&d->served);
    free(d);
}

void rn_durable_add(rn_durable *d, rn_durable_wait *w) {
    w->next = NULL;
    pthread_mutex_lock(&d->lock);
    *d->tail = w;
    d->tail = &w->next;
    pthread_cond_signal(&d->work);
    pthread_mutex_unlock(&d->lock);
}

void rn_durable_kick(rn_durable *d) {
    if (!d || !atomic_load(&d->busy)) return;
    pthread_mutex_lock(&d->lock);
    if (d->pending || d->serving) { /* serving: its held waiters join pending soon */
        d->recheck = true;
        pthread_cond_signal(&d->work);
    }
    pthread_mutex_unlock(&d->lock);
}

static bool unlink_from(rn_durable_wait **pp, rn_durable_wait ***tail, rn_durable_wait *w) {
    for (; *pp; pp = &(*pp)->next)
        if (*pp == w) {
            *pp = w->next;
            if (tail && *tail == &w->next) *tail = pp;
            return true;
        }
    return false;
}

void rn_durable_cancel(rn_durable *d, rn_durable_wait *w) {
    pthread_mutex_lock(&d->lock);
    if (!unlink_from(&d->queue, &d->tail, w)) {
        /* Not queued: maybe in the batch being served. Wait that batch out: w is then
         * done, or pending. */
        uint64_t turn = d->turns;
        while (d->serving && d->turns == turn) pthread_cond_wait(&d->served, &d->lock);
        unlink_from(&d->pending, NULL, w);
        set_busy(d);
    }
    pthread_mutex_unlock(&d->lock);
}
