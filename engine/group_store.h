/* engine/group_store.h: how groups and committed offsets are kept in the groups column
 * family (internal to engine/). The coordinator's in-memory state is the truth for
 * membership; these records let it come back after a restart. Offsets live only here.
 *
 *   'G' group_id                        -> group record (below)
 *   'O' BE16 len group_id BE8 len topic BE32 partition -> offset record
 *
 * The group id is length-prefixed in offset keys so that one group's offsets are one
 * contiguous key range ('O' BE16 len group_id is their prefix) however ids compare.
 *
 *   group record                        offset record
 *   +---------+----------------------+  +---------+---------+---------+---------+------+
 *   | ver = 1 | protocol_type  str16 |  | ver = 1 | offset  | epoch   | commit  | meta |
 *   | generation BE32                |  |         | BE64    | BE32    | ts BE64 | str16|
 *   | protocol_name str16            |  +---------+---------+---------+---------+------+
 *   | leader str16 | state_ts BE64   |
 *   | nmembers BE32, then per member:|   str16: BE16 length (0xFFFF = null), bytes
 *   |  member_id, instance_id,       |   bytes32: BE32 length, bytes
 *   |  client_id, client_host str16, |
 *   |  session, rebalance BE32,      |
 *   |  nprotocols BE32, then each:   |   every protocol the member offered, so that
 *   |   name str16, metadata bytes32 |   after a restart its rejoin is recognised
 *   |  assignment bytes32            |   and new members are checked against all
 *   +--------------------------------+ */
#ifndef RN_GROUP_STORE_H
#define RN_GROUP_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "group.h"
#include "store.h"

#define RN_GROUP_ID_MAX 1024 /* longer ids get INVALID_GROUP_ID (keys must stay bounded) */

/* A protocol a member offers (its name and the member's subscription for it). */
typedef struct {
    char *name;
    uint8_t *metadata;
    size_t metadata_len;
} rn_group_record_protocol;

/* A member as stored: its protocols in order of preference, and its assignment. */
typedef struct {
    char *member_id, *group_instance_id, *client_id, *client_host;
    int32_t session_timeout_ms, rebalance_timeout_ms;
    rn_group_record_protocol *protocols;
    int nprotocols;
    uint8_t *assignment;
    size_t assignment_len;
} rn_group_record_member;

typedef struct {
    char *protocol_type, *protocol_name, *leader; /* NULL: none */
    int32_t generation_id;
    int64_t state_timestamp; /* wall-clock ms when the group entered its state */
    rn_group_record_member *members;
    int nmembers;
} rn_group_record;

/* Encode into a malloc'd buffer (*out, *len); RN_ERR_NOMEM. */
rn_err rn_group_record_encode(const rn_group_record *g, uint8_t **out, size_t *len);
/* Decode (every string and buffer malloc'd; free with rn_group_record_clear).
 * RN_KAFKA_KAFKA_STORAGE_ERROR when the bytes do not parse. */
rn_err rn_group_record_decode(const uint8_t *v, size_t len, rn_group_record *out);
void rn_group_record_clear(rn_group_record *g);

/* Keys. Each returns the key length written into buf (which has RN_GROUP_KEY_MAX bytes). */
#define RN_GROUP_KEY_MAX (1 + 2 + RN_GROUP_ID_MAX + 1 + 255 + 4)
size_t rn_group_key(uint8_t *buf, const char *group_id);
size_t rn_offset_key(uint8_t *buf, const char *group_id, const char *topic, int32_t partition);
/* The prefix of every offset key of a group ([lo, hi) in hi's successor form). */
size_t rn_offset_key_prefix(uint8_t *buf, const char *group_id);
/* Parse an offset key: group id into group (RN_GROUP_ID_MAX + 1), topic into topic (256),
 * partition. -1 when it is not an offset key. */
int rn_offset_key_parse(const uint8_t *k, size_t kl, char *group, char *topic, int32_t *partition);

/* Offset record values. */
size_t rn_offset_value_encode(uint8_t *buf, size_t cap, int64_t offset, int32_t leader_epoch,
                              int64_t commit_timestamp, const char *metadata);
/* *metadata is malloc'd or NULL. -1 when the bytes do not parse. */
int rn_offset_value_decode(const uint8_t *v, size_t len, int64_t *offset, int32_t *leader_epoch,
                           int64_t *commit_timestamp, char **metadata);

#endif
