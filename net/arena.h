/* net/arena.h: a request's memory. Everything a handler allocates while serving one
 * request comes from its arena and is freed in one call when the response is sent;
 * nothing from an arena outlives its request. */
#ifndef RN_ARENA_H
#define RN_ARENA_H

#include <stddef.h>
#include <stdint.h>

typedef struct rn_arena_chunk rn_arena_chunk;
typedef struct {
    rn_arena_chunk *head;
} rn_arena;

static inline void rn_arena_init(rn_arena *a) { a->head = NULL; }
/* n bytes aligned for any type, zeroed; NULL when out of memory. */
void *rn_arena_alloc(rn_arena *a, size_t n);
/* count elements of size each, checking the product for overflow; zeroed. */
void *rn_arena_calloc(rn_arena *a, size_t count, size_t size);
/* A NUL-terminated copy of len bytes (len -1: NULL). */
char *rn_arena_strndup(rn_arena *a, const void *s, int32_t len);
void rn_arena_free(rn_arena *a);

#endif
