/* engine/processor_state.c: a step's uncommitted state writes (the overlay), read before
 * the store so a call sees its own writes, merged with the store for ordered scans,
 * rolled back when a call fails, and written with the step's outputs when it commits. */
#include <stdlib.h>
#include <string.h>

#include "processor_internal.h"

static uint32_t key_hash(const uint8_t *k, size_t n) {
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < n; i++) h = (h ^ k[i]) * 16777619u;
    return h;
}

static int key_cmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl) {
    int c = memcmp(a, b, al < bl ? al : bl);
    return c ? c : (al > bl) - (al < bl);
}

void rn_overlay_init(rn_overlay *o) { memset(o, 0, sizeof *o); }

static void undo_release(rn_overlay *o) {
    for (int i = 0; i < o->nundo; i++) free(o->undo[i].old_val);
    o->nundo = 0;
}

void rn_overlay_clear(rn_overlay *o) {
    undo_release(o);
    for (int i = 0; i < o->n; i++) {
        free(o->e[i].key);
        free(o->e[i].val);
    }
    o->n = 0;
    if (o->slots) memset(o->slots, 0, (size_t)o->nslots * sizeof *o->slots);
}

void rn_overlay_free(rn_overlay *o) {
    rn_overlay_clear(o);
    free(o->e);
    free(o->slots);
    free(o->undo);
    memset(o, 0, sizeof *o);
}

/* The slot holding key, or the empty slot where it would go. */
static int find_slot(const rn_overlay *o, const uint8_t *key, size_t kl) {
    uint32_t mask = (uint32_t)o->nslots - 1;
    for (uint32_t i = key_hash(key, kl) & mask;; i = (i + 1) & mask) {
        int s = o->slots[i];
        if (!s) return (int)i;
        const ov_entry *e = &o->e[s - 1];
        if (e->kl == kl && memcmp(e->key, key, kl) == 0) return (int)i;
    }
}

static int grow_slots(rn_overlay *o) {
    int n = o->nslots ? o->nslots * 2 : 64;
    int *ns = calloc((size_t)n, sizeof *ns);
    if (!ns) return -1;
    free(o->slots);
    o->slots = ns;
    o->nslots = n;
    for (int i = 0; i < o->n; i++) o->slots[find_slot(o, o->e[i].key, o->e[i].kl)] = i + 1;
    return 0;
}

int rn_overlay_get(const rn_overlay *o, const uint8_t *key, size_t kl, const uint8_t **val,
                   size_t *vl) {
    if (!o->nslots) return OV_ABSENT;
    int s = o->slots[find_slot(o, key, kl)];
    if (!s) return OV_ABSENT;
    const ov_entry *e = &o->e[s - 1];
    if (e->state == OV_PUT) {
        *val = e->val;
        *vl = e->vl;
    }
    return e->state;
}

int rn_overlay_set(rn_overlay *o, const uint8_t *key, size_t kl, const uint8_t *val, size_t vl) {
    if ((o->n + 1) * 2 > o->nslots && grow_slots(o) != 0) return -1;
    if (o->nundo == o->undocap) {
        int cap = o->undocap ? o->undocap * 2 : 64;
        ov_undo *nu = realloc(o->undo, (size_t)cap * sizeof *nu);
        if (!nu) return -1;
        o->undo = nu;
        o->undocap = cap;
    }
    uint8_t *copy = NULL;
    if (val) {
        copy = malloc(vl ? vl : 1);
        if (!copy) return -1;
        if (vl) memcpy(copy, val, vl);
    }
    int slot = find_slot(o, key, kl);
    int idx = o->slots[slot] - 1;
    if (idx < 0) {
        if (o->n == o->cap) {
            int cap = o->cap ? o->cap * 2 : 64;
            ov_entry *ne = realloc(o->e, (size_t)cap * sizeof *ne);
            if (!ne) {
                free(copy);
                return -1;
            }
            o->e = ne;
            o->cap = cap;
        }
        uint8_t *k = malloc(kl ? kl : 1);
        if (!k) {
            free(copy);
            return -1;
        }
        memcpy(k, key, kl);
        idx = o->n++;
        o->e[idx] = (ov_entry){.key = k, .kl = kl, .state = OV_ABSENT};
        o->slots[slot] = idx + 1;
    }
    ov_entry *e = &o->e[idx];
    o->undo[o->nundo++] = (ov_undo){idx, e->state, e->val, e->vl};
    e->val = copy;
    e->vl = val ? vl : 0;
    e->state = val ? OV_PUT : OV_DEL;
    return 0;
}

void rn_overlay_release(rn_overlay *o) { undo_release(o); }

void rn_overlay_rollback(rn_overlay *o) {
    for (int i = o->nundo - 1; i >= 0; i--) {
        ov_entry *e = &o->e[o->undo[i].idx];
        free(e->val);
        e->val = o->undo[i].old_val;
        e->vl = o->undo[i].old_vl;
        e->state = o->undo[i].old_state;
    }
    o->nundo = 0; /* entries left OV_ABSENT stay in the table: they read through */
}

void rn_overlay_write(const rn_overlay *o, rn_store *s, rn_store_batch *wb) {
    for (int i = 0; i < o->n; i++) {
        const ov_entry *e = &o->e[i];
        if (e->state == OV_PUT)
            rn_store_batch_put(wb, s, RN_CF_PROCESSORS, e->key, e->kl, e->val, e->vl);
        else if (e->state == OV_DEL)
            rn_store_batch_delete(wb, s, RN_CF_PROCESSORS, e->key, e->kl);
    }
}

static int by_key(const void *a, const void *b) {
    const ov_entry *x = *(const ov_entry *const *)a, *y = *(const ov_entry *const *)b;
    return key_cmp(x->key, x->kl, y->key, y->kl);
}

int rn_overlay_scan(const rn_overlay *o, rn_store *s, const uint8_t *lo, size_t ll,
                    const uint8_t *hi, size_t hl, int64_t limit,
                    int (*fn)(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v,
                              size_t vl),
                    void *ctx) {
    /* The overlay's keys in range, sorted (a step writes thousands at most). */
    const ov_entry **mine = malloc((size_t)(o->n ? o->n : 1) * sizeof *mine);
    if (!mine) return -1;
    int nm = 0;
    for (int i = 0; i < o->n; i++) {
        const ov_entry *e = &o->e[i];
        if (e->state == OV_ABSENT || key_cmp(e->key, e->kl, lo, ll) < 0 ||
            (hl && key_cmp(e->key, e->kl, hi, hl) >= 0))
            continue;
        mine[nm++] = e;
    }
    qsort(mine, (size_t)nm, sizeof *mine, by_key);

    rn_store_iter *it = rn_store_iter_new(s, RN_CF_PROCESSORS, lo, ll, hl ? hi : NULL, hl);
    if (!it) {
        free(mine);
        return -1;
    }
    rn_store_iter_seek(it, lo, ll);
    int m = 0, rc = 0;
    int64_t given = 0;
    for (;;) {
        if (limit > 0 && given >= limit) break;
        bool have_store = rn_store_iter_valid(it);
        size_t skl = 0, svl = 0;
        const uint8_t *sk = have_store ? rn_store_iter_key(it, &skl) : NULL;
        const ov_entry *e = m < nm ? mine[m] : NULL;
        if (!have_store && !e) break;
        int c = !have_store ? 1 : !e ? -1 : key_cmp(sk, skl, e->key, e->kl);
        if (c < 0) {
            const uint8_t *sv = rn_store_iter_value(it, &svl);
            given++;
            if (fn(ctx, sk, skl, sv, svl)) break;
            rn_store_iter_next(it);
            continue;
        }
        if (c == 0) rn_store_iter_next(it); /* the overlay's version wins */
        m++;
        if (e->state == OV_PUT) {
            given++;
            if (fn(ctx, e->key, e->kl, e->val, e->vl)) break;
        }
    }
    if (rn_store_iter_status(it) != RN_KAFKA_NONE) rc = -1;
    rn_store_iter_free(it);
    free(mine);
    return rc;
}
