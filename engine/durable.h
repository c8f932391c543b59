/* engine/durable.h: the engine's sync thread (internal to engine/): appenders that did not
 * wait for their fsync (rn_partition_append_nowait) queue an rn_durable_wait; the thread
 * takes everything queued, fsyncs the WAL once for all of it (rn_store_sync_wal), then
 * advances each waiter's high watermarks and calls its done. One fsync per turn, however
 * many producers: group commit without any network thread waiting for the disk. */
#ifndef RN_DURABLE_H
#define RN_DURABLE_H

#include "engine.h"
#include "store.h"

typedef struct rn_durable rn_durable;

/* NULL when the thread cannot start (then callers sync themselves). */
rn_durable *rn_durable_start(rn_store *s);
/* Serve what is queued, then stop. */
void rn_durable_stop(rn_durable *d);
void rn_durable_add(rn_durable *d, rn_durable_wait *w);
void rn_durable_cancel(rn_durable *d, rn_durable_wait *w);
/* One turn of the thread's work, on the calling thread: fsync, publish, call each done
 * (batch linked by next; done may free its waiter). Also for an engine without the thread. */
void rn_durable_serve(rn_store *store, rn_durable_wait *batch);

#endif
