/* net/arena.c: bump allocation in chunks; freeing the arena frees every chunk. */
#include "arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define RN_ARENA_CHUNK 8192

struct rn_arena_chunk {
    rn_arena_chunk *next;
    size_t used, cap;
    max_align_t data[];
};

void *rn_arena_alloc(rn_arena *a, size_t n) {
    size_t align = sizeof(max_align_t);
    n = (n + align - 1) & ~(align - 1);
    if (n == 0) n = align;
    rn_arena_chunk *c = a->head;
    if (!c || c->cap - c->used < n) {
        size_t cap = n > RN_ARENA_CHUNK ? n : RN_ARENA_CHUNK;
        c = malloc(sizeof *c + cap);
        if (!c) return NULL;
        c->used = 0;
        c->cap = cap;
        c->next = a->head;
        a->head = c;
    }
    void *p = (char *)c->data + c->used;
    c->used += n;
    memset(p, 0, n);
    return p;
}

void *rn_arena_calloc(rn_arena *a, size_t count, size_t size) {
    if (size && count > SIZE_MAX / size) return NULL;
    return rn_arena_alloc(a, count * size);
}

char *rn_arena_strndup(rn_arena *a, const void *s, int32_t len) {
    if (len < 0 || !s) return NULL;
    char *d = rn_arena_alloc(a, (size_t)len + 1);
    if (!d) return NULL;
    memcpy(d, s, (size_t)len);
    d[len] = 0;
    return d;
}

void rn_arena_free(rn_arena *a) {
    rn_arena_chunk *c = a->head;
    while (c) {
        rn_arena_chunk *n = c->next;
        free(c);
        c = n;
    }
    a->head = NULL;
}
