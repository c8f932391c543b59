/* engine/durable.h: the engine's sync thread (internal to engine/): appenders that did not
 * wait for their fsync (rn_partition_append_nowait) queue an rn_durable_wait; the thread
 * takes everything queued, fsyncs the WAL once for all of it (rn_store_sync_wal), then
 * advances each waiter's high watermarks and calls its done. One fsync per turn, however
 * many producers: group commit without any network thread waiting for the disk.
 *
 * Replicated waits (acks=all) whose high watermarks have not reached their ends after
 * that are held as pending and re-checked whenever rn_durable_kick says a high watermark
 * moved or a partition changed role. */
#ifndef RN_DURABLE_H
#define RN_DURABLE_H

#include <stdbool.h>

#include "engine.h"
#include "store.h"

typedef struct rn_durable rn_durable;

/* NULL when the thread cannot start (then callers sync themselves). sync: fsync the WAL
 * each turn (log.flush.sync); without it the thread only holds replicated waits. */
rn_durable *rn_durable_start(rn_store *s, bool sync);
/* Serve what is queued, fail what is pending (RN_KAFKA_NOT_LEADER_OR_FOLLOWER), stop. */
void rn_durable_stop(rn_durable *d);
void rn_durable_add(rn_durable *d, rn_durable_wait *w);
void rn_durable_cancel(rn_durable *d, rn_durable_wait *w);
/* A high watermark moved or a role changed: re-check the pending waits. Call it without
 * any partition lock held. NULL d: nothing. */
void rn_durable_kick(rn_durable *d);
/* One turn of the thread's work, on the calling thread: fsync, publish, call each done
 * (batch linked by next; done may free its waiter). For an engine without the thread: a
 * replicated wait not satisfied at once gets RN_KAFKA_NOT_ENOUGH_REPLICAS_AFTER_APPEND. */
void rn_durable_serve(rn_store *store, rn_durable_wait *batch);

#endif
