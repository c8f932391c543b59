/* engine/durable.c: the sync thread (durable.h).
 *
 * Invariant: a waiter is in exactly one of: the queue, the batch being served (between
 * taking the queue and the end of its done calls), or nowhere (served or cancelled).
 * Cancel removes a queued waiter, or waits for the batch being served to finish. */
#include "durable.h"

#include <pthread.h>
#include <stdlib.h>

#include "log.h"
#include "rnlog.h"

struct rn_durable {
    rn_store *store;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t work, served;
    rn_durable_wait *queue, **tail;
    bool serving, stopping;
};

void rn_durable_serve(rn_store *store, rn_durable_wait *batch) {
    rn_err err = rn_store_sync_wal(store);
    if (err) rn_log_error("durability: the WAL fsync failed: %s", rn_err_name(err));
    for (rn_durable_wait *w = batch, *next; w; w = next) {
        next = w->next; /* done may free w (the request) */
        if (!err)
            for (int i = 0; i < w->n; i++) rn_log_publish(w->parts[i], w->ends[i]);
        w->done(w, err);
    }
}

static void *durable_main(void *arg) {
    rn_durable *d = arg;
    pthread_mutex_lock(&d->lock);
    for (;;) {
        while (!d->queue && !d->stopping) pthread_cond_wait(&d->work, &d->lock);
        if (!d->queue) break; /* stopping, nothing left */
        rn_durable_wait *batch = d->queue;
        d->queue = NULL;
        d->tail = &d->queue;
        d->serving = true;
        pthread_mutex_unlock(&d->lock);
        rn_durable_serve(d->store, batch);
        pthread_mutex_lock(&d->lock);
        d->serving = false;
        pthread_cond_broadcast(&d->served);
    }
    pthread_mutex_unlock(&d->lock);
    return NULL;
}

rn_durable *rn_durable_start(rn_store *s) {
    rn_durable *d = calloc(1, sizeof *d);
    if (!d) return NULL;
    d->store = s;
    d->tail = &d->queue;
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

void rn_durable_cancel(rn_durable *d, rn_durable_wait *w) {
    pthread_mutex_lock(&d->lock);
    for (rn_durable_wait **pp = &d->queue; *pp; pp = &(*pp)->next)
        if (*pp == w) {
            *pp = w->next;
            if (d->tail == &w->next) d->tail = pp;
            pthread_mutex_unlock(&d->lock);
            return;
        }
    /* Not queued: being served now, or done already. Wait out the batch in service. */
    while (d->serving) pthread_cond_wait(&d->served, &d->lock);
    pthread_mutex_unlock(&d->lock);
}
