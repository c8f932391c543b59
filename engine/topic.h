/* engine/topic.h: a topic (internal to engine/): its partitions and configs, the sorted
 * registry of live topics, and the topic's record in the meta family.
 *
 *   meta: 't' + topic name -> topic id[16], count BE32, partition ids BE32 x count,
 *                             nconfigs BE32, (BE16 len, name, BE16 len, value) x nconfigs
 *
 * The registry has no lock of its own: the engine's rwlock guards it. */
#ifndef RN_TOPIC_H
#define RN_TOPIC_H

#include <stdint.h>

#include "engine.h"
#include "store.h"
#include "topic_config.h"

typedef struct rn_topic {
    char *name;
    uint8_t id[16];
    int32_t npart;
    rn_partition **parts; /* owned, npart entries */
    rn_topic_configs configs;
    rn_topic_settings settings;
    struct rn_topic *next_dead; /* once deleted: the engine keeps it until close */
} rn_topic;

typedef struct {
    rn_topic **v; /* sorted by name */
    int n, cap;
} rn_topic_registry;

/* The topic called name, or NULL; *pos (may be NULL) gets where it is or would go. */
rn_topic *rn_topic_find(const rn_topic_registry *r, const char *name, int *pos);
/* Add t (the registry owns it from now on): -1 if its name is taken or out of memory. */
int rn_topic_insert(rn_topic_registry *r, rn_topic *t);
/* Take the topic called name out of the registry (the caller owns it), or NULL. */
rn_topic *rn_topic_remove(rn_topic_registry *r, const char *name);
/* Free the registry and every topic in it. */
void rn_topic_registry_free(rn_topic_registry *r);

/* Free t with its partitions and configs. NULL is fine. */
void rn_topic_free(rn_topic *t);

/* Add t's record to b (partition ids from t->parts). RN_ERR_NOMEM. */
rn_err rn_topic_put(rn_store *s, rn_store_batch *b, const rn_topic *t);
/* Add the removal of t's record to b. */
void rn_topic_put_delete(rn_store *s, rn_store_batch *b, const rn_topic *t);

/* A record read back: the topic (name, id, configs; no partitions yet: *out->parts has
 * room for *nids and is all NULL) and its partition ids (*ids malloc'd, caller frees).
 * RN_KAFKA_KAFKA_STORAGE_ERROR when the bytes do not parse. */
rn_err rn_topic_decode(const char *name, const uint8_t *v, size_t len, int32_t max_partitions,
                       rn_topic **out, uint32_t **ids, int32_t *nids);
/* The name in a record's key, into name (256 bytes); -1 if the key is not a topic's. */
int rn_topic_key_name(const uint8_t *key, size_t len, char name[256]);
/* The bounds of every topic record's key in the meta family: [lo, hi), one byte each. */
#define RN_TOPIC_KEY_LO 't'
#define RN_TOPIC_KEY_HI 'u'

/* t as rn_engine_topics gives it (m's strings and arrays malloc'd). -1: no memory. */
int rn_topic_snapshot(const rn_topic *t, rn_topic_meta *m);

#endif
