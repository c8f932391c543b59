/* engine/users.h: users and their SCRAM credentials, kept in the meta column family.
 * Only the salt, the iteration count, StoredKey and ServerKey are stored (RFC 5802):
 * never a password, and nothing a client could replay. The key derivation itself lives
 * in net/scram.c; the engine only stores what it is given.
 *
 *   meta key   'S' | user name (1..RN_USER_NAME_MAX bytes, no NUL) | 0x00 | mechanism
 *   value      0x01 | iterations BE32 | salt_len u8 | salt | key_len u8
 *              | StoredKey (key_len) | ServerKey (key_len)
 *
 * The 0x00 after the name keeps one user's mechanisms together and sorts "al" before
 * "alice". Every function is thread-safe (RocksDB is). */
#ifndef RN_USERS_H
#define RN_USERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "error.h"

/* Kafka's ScramMechanism ids, as AlterUserScramCredentials carries them. */
#define RN_SCRAM_SHA_256 1
#define RN_SCRAM_SHA_512 2
#define RN_SCRAM_SALT_MAX 128
#define RN_SCRAM_KEY_MAX 64 /* SHA-512 */
#define RN_USER_NAME_MAX 256

/* Kafka's UNACCEPTABLE_CREDENTIAL (93), not yet a row of engine/error.h. */
#ifndef RN_KAFKA_UNACCEPTABLE_CREDENTIAL
#define RN_KAFKA_UNACCEPTABLE_CREDENTIAL 93
#endif

typedef struct {
    int8_t mechanism;   /* RN_SCRAM_SHA_* */
    int32_t iterations;
    uint8_t salt_len, key_len;
    uint8_t salt[RN_SCRAM_SALT_MAX];
    uint8_t stored_key[RN_SCRAM_KEY_MAX];
    uint8_t server_key[RN_SCRAM_KEY_MAX];
} rn_scram_credential;

typedef struct {
    char *name;           /* owned by the list */
    int8_t mechanisms[2]; /* RN_SCRAM_SHA_* present, in id order */
    int32_t iterations[2];
    int nmechanisms;
} rn_user_info;

/* A user name the store accepts: 1..RN_USER_NAME_MAX bytes without NUL. */
bool rn_user_name_valid(const char *name, size_t len);

/* The credential of (user, mechanism) into *out. RN_KAFKA_RESOURCE_NOT_FOUND when there
 * is none, RN_KAFKA_KAFKA_STORAGE_ERROR when it cannot be read. */
rn_err rn_users_get(rn_engine *e, const char *user, int8_t mechanism, rn_scram_credential *out);

/* Apply a set of changes in one write: every deletion, then every upsert (cred[i] for
 * user[i]). Deleting a credential that does not exist is the caller's check
 * (rn_users_get). The caller keeps ownership of everything. */
rn_err rn_users_write(rn_engine *e, const char *const *del_user, const int8_t *del_mechanism,
                      int ndel, const char *const *put_user, const rn_scram_credential *put_cred,
                      int nput);

/* The users with credentials, in name order: every user (user == NULL) or that one (an
 * empty list when it has none). *out is malloc'd; free it with rn_user_infos_free. */
rn_err rn_users_list(rn_engine *e, const char *user, rn_user_info **out, int *count);
void rn_user_infos_free(rn_user_info *v, int count);

/* ---- a cluster's credentials (engine/metadata.h keeps them as these key/value pairs) -- */

#define RN_USER_KEY_MAX (1 + RN_USER_NAME_MAX + 2)
#define RN_USER_VALUE_MAX (1 + 4 + 1 + RN_SCRAM_SALT_MAX + 1 + 2 * RN_SCRAM_KEY_MAX)
/* The store's key of (user, mechanism) into key (RN_USER_KEY_MAX bytes); its length. */
size_t rn_user_key(uint8_t *key, const char *user, int8_t mechanism);
/* A credential's value in the store into value (RN_USER_VALUE_MAX bytes); its length. */
size_t rn_user_value(const rn_scram_credential *cred, uint8_t *value);
/* Apply a cluster's credentials in one write: each key gets its value, or is deleted
 * when its value is NULL. Pairs that do not decode are skipped (an error in the log). */
rn_err rn_users_follow(rn_engine *e, const uint8_t *const *keys, const size_t *klens,
                       const uint8_t *const *values, const size_t *vlens, int n);

#endif
