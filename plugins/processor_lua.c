/* plugins/processor_lua.c: stream processors in Lua: the program engine/processor.h
 * runs. Each task owns a lua_State (the host's budget and memory cap) in which the
 * script runs once; process(record, ctx) and on_timer(timer, ctx) are called with one
 * ctx per task:
 *   ctx.name, ctx.task, ctx.options, ctx.inputs, ctx.outputs, ctx.stream_time,
 *   ctx:now(), ctx:emit(topic, key, value [, headers [, partition]]),
 *   ctx:schedule(name, at [, "event"|"wall" [, payload]]), ctx:cancel(name [, kind]),
 *   ctx.state:get(k), :put(k, v), :delete(k), :scan(prefix [, limit]) -> iterator.
 * ctx's methods reach the engine through the task (rn_proc_*) and only during a call.
 *
 * Buffers the engine hands back (a state value, scan results, encoded headers) are kept
 * in the instance until the next use, so a Lua error (which unwinds with longjmp) never
 * leaks them. */
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "batch.h"
#include "plugins.h"
#include "vm.h"

typedef struct {
    uint8_t *k, *v;
    size_t kl, vl;
} scan_item;

typedef struct {
    rn_plugins *host;
    rn_vm *vm;
    const rn_processor_def *def; /* the engine's, alive as long as the instance */
    rn_proc_task *t;
    int ctx_ref;
    bool in_call;
    uint8_t *value;      /* the last state value read */
    uint8_t *headers;    /* the last headers encoded */
    scan_item *items;    /* the last scan */
    int nitems, capitems;
} proc_inst;

static proc_inst *inst_of(lua_State *L) {
    proc_inst *in = lua_touserdata(L, lua_upvalueindex(1));
    if (!in->in_call) luaL_error(L, "ctx is usable only during process() or on_timer()");
    return in;
}

static const uint8_t *opt_bytes(lua_State *L, int idx, int32_t *len) {
    if (lua_isnoneornil(L, idx)) {
        *len = -1;
        return NULL;
    }
    size_t n;
    const char *s = luaL_checklstring(L, idx, &n);
    if (n > INT32_MAX) luaL_error(L, "a string of %zu bytes is too long", n);
    *len = (int32_t)n;
    return (const uint8_t *)s;
}

/* ---- ctx.state ---------------------------------------------------------------------- */

static int l_state_get(lua_State *L) {
    proc_inst *in = inst_of(L);
    size_t kl;
    const char *k = luaL_checklstring(L, 2, &kl);
    free(in->value);
    in->value = NULL;
    size_t vl;
    char err[256];
    int rc = rn_proc_state_get(in->t, (const uint8_t *)k, kl, &in->value, &vl, err, sizeof err);
    if (rc < 0) return luaL_error(L, "%s", err);
    if (rc == 0) {
        lua_pushnil(L);
    } else {
        lua_pushlstring(L, (const char *)in->value, vl);
        free(in->value);
        in->value = NULL;
    }
    return 1;
}

static int l_state_put(lua_State *L) {
    proc_inst *in = inst_of(L);
    size_t kl, vl = 0;
    const char *k = luaL_checklstring(L, 2, &kl);
    const char *v = lua_isnoneornil(L, 3) ? NULL : luaL_checklstring(L, 3, &vl);
    char err[256];
    int rc = v ? rn_proc_state_put(in->t, (const uint8_t *)k, kl, (const uint8_t *)v, vl, err, sizeof err)
               : rn_proc_state_delete(in->t, (const uint8_t *)k, kl, err, sizeof err);
    if (rc != 0) return luaL_error(L, "%s", err);
    return 0;
}

static int l_state_delete(lua_State *L) {
    proc_inst *in = inst_of(L);
    size_t kl;
    const char *k = luaL_checklstring(L, 2, &kl);
    char err[256];
    if (rn_proc_state_delete(in->t, (const uint8_t *)k, kl, err, sizeof err) != 0)
        return luaL_error(L, "%s", err);
    return 0;
}

static void items_clear(proc_inst *in) {
    for (int i = 0; i < in->nitems; i++) {
        free(in->items[i].k);
        free(in->items[i].v);
    }
    in->nitems = 0;
}

static int collect(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
    proc_inst *in = ctx;
    if (in->nitems == in->capitems) {
        int cap = in->capitems ? in->capitems * 2 : 64;
        scan_item *ni = realloc(in->items, (size_t)cap * sizeof *ni);
        if (!ni) return 1;
        in->items = ni;
        in->capitems = cap;
    }
    scan_item *it = &in->items[in->nitems];
    it->k = malloc(kl ? kl : 1);
    it->v = malloc(vl ? vl : 1);
    if (!it->k || !it->v) {
        free(it->k);
        free(it->v);
        return 1;
    }
    if (kl) memcpy(it->k, k, kl);
    if (vl) memcpy(it->v, v, vl);
    it->kl = kl;
    it->vl = vl;
    in->nitems++;
    return 0;
}

static int scan_next(lua_State *L) {
    lua_Integer i = lua_tointeger(L, lua_upvalueindex(3)) + 1;
    if (lua_rawgeti(L, lua_upvalueindex(1), i) == LUA_TNIL) return 1;
    lua_rawgeti(L, lua_upvalueindex(2), i);
    lua_pushinteger(L, i);
    lua_replace(L, lua_upvalueindex(3));
    return 2;
}

static int l_state_scan(lua_State *L) {
    proc_inst *in = inst_of(L);
    size_t pl;
    const char *prefix = luaL_optlstring(L, 2, "", &pl);
    lua_Integer limit = luaL_optinteger(L, 3, 0);
    items_clear(in);
    char err[256];
    if (rn_proc_state_scan(in->t, (const uint8_t *)prefix, pl, limit, collect, in, err,
                           sizeof err) != 0)
        return luaL_error(L, "%s", err);
    lua_createtable(L, in->nitems, 0);
    lua_createtable(L, in->nitems, 0);
    for (int i = 0; i < in->nitems; i++) {
        lua_pushlstring(L, (const char *)in->items[i].k, in->items[i].kl);
        lua_rawseti(L, -3, i + 1);
        lua_pushlstring(L, (const char *)in->items[i].v, in->items[i].vl);
        lua_rawseti(L, -2, i + 1);
    }
    items_clear(in);
    lua_pushinteger(L, 0);
    lua_pushcclosure(L, scan_next, 3);
    return 1;
}

/* ---- ctx ---------------------------------------------------------------------------- */

/* headers: nil, {{name, value}, ...} or {name = value, ...}; encoded into in->headers. */
static size_t encode_headers(lua_State *L, proc_inst *in, int idx, int32_t *count) {
    *count = 0;
    free(in->headers);
    in->headers = NULL;
    if (lua_isnoneornil(L, idx)) return 0;
    luaL_checktype(L, idx, LUA_TTABLE);
    /* two passes: the size, then the bytes */
    size_t need = 0, len = 0;
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1 && !(in->headers = malloc(need ? need : 1))) luaL_error(L, "out of memory");
        lua_pushnil(L);
        while (lua_next(L, idx)) {
            const char *name, *value;
            size_t nl, vl = 0;
            if (lua_type(L, -2) == LUA_TNUMBER && lua_type(L, -1) == LUA_TTABLE) {
                lua_rawgeti(L, -1, 1);
                lua_rawgeti(L, -2, 2);
                name = lua_tolstring(L, -2, &nl);
                value = lua_isnil(L, -1) ? NULL : lua_tolstring(L, -1, &vl);
                if (!name || (!value && !lua_isnil(L, -1)))
                    luaL_error(L, "a header must be {name, value} with strings");
            } else if (lua_type(L, -2) == LUA_TSTRING) {
                lua_pushvalue(L, -2);
                lua_pushvalue(L, -2);
                name = lua_tolstring(L, -2, &nl);
                value = lua_tolstring(L, -1, &vl);
                if (!value) luaL_error(L, "header '%s' must have a string value", name);
            } else {
                return (size_t)luaL_error(L, "headers must be {{name, value}, ...} or {name = value, ...}");
            }
            if (pass == 0) {
                need += RN_RECORD_HEADER_OVERHEAD + nl + vl;
                (*count)++;
            } else {
                len += rn_record_header_put(in->headers + len, (const uint8_t *)name, (int32_t)nl,
                                            (const uint8_t *)value, (int32_t)vl);
            }
            lua_pop(L, 3);
        }
    }
    return len;
}

static int l_emit(lua_State *L) {
    proc_inst *in = inst_of(L);
    const char *topic = luaL_checkstring(L, 2);
    int32_t kl, vl, count;
    const uint8_t *k = opt_bytes(L, 3, &kl), *v = opt_bytes(L, 4, &vl);
    size_t hl = encode_headers(L, in, 5, &count);
    lua_Integer part = -1;
    if (!lua_isnoneornil(L, 6)) {
        part = luaL_checkinteger(L, 6);
        if (part < 0 || part > INT32_MAX) return luaL_error(L, "partition %I is out of range", part);
    }
    char err[1024];
    if (rn_proc_emit(in->t, topic, k, kl, v, vl, in->headers, hl, count, (int32_t)part, err,
                     sizeof err) != 0)
        return luaL_error(L, "%s", err);
    return 0;
}

static int timer_kind(lua_State *L, int idx) {
    const char *k = luaL_optstring(L, idx, "event");
    if (strcmp(k, "event") == 0) return RN_TIMER_EVENT;
    if (strcmp(k, "wall") == 0) return RN_TIMER_WALL;
    return luaL_error(L, "timer kind must be \"event\" or \"wall\", not \"%s\"", k);
}

static int l_schedule(lua_State *L) {
    proc_inst *in = inst_of(L);
    size_t nl, pl = 0;
    const char *name = luaL_checklstring(L, 2, &nl);
    lua_Integer at = luaL_checkinteger(L, 3);
    int kind = timer_kind(L, 4);
    const char *payload = lua_isnoneornil(L, 5) ? NULL : luaL_checklstring(L, 5, &pl);
    char err[256];
    if (rn_proc_schedule(in->t, kind, name, nl, at, (const uint8_t *)payload, pl, err, sizeof err) != 0)
        return luaL_error(L, "%s", err);
    return 0;
}

static int l_cancel(lua_State *L) {
    proc_inst *in = inst_of(L);
    size_t nl;
    const char *name = luaL_checklstring(L, 2, &nl);
    char err[256];
    if (rn_proc_cancel(in->t, timer_kind(L, 3), name, nl, err, sizeof err) != 0)
        return luaL_error(L, "%s", err);
    return 0;
}

static int l_now(lua_State *L) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    lua_pushinteger(L, (lua_Integer)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
    return 1;
}

/* ctx.options: a read-only view of the options (scripts of every task share the
 * processor's definition; a write would be a bug that only one task sees). */
static int options_write(lua_State *L) { return luaL_error(L, "ctx.options is read-only"); }

static int options_next(lua_State *L) {
    lua_settop(L, 2);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_pushvalue(L, 2);
    if (lua_next(L, 3)) return 2;
    lua_pushnil(L);
    return 1;
}

static int options_pairs(lua_State *L) {
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_pushcclosure(L, options_next, 1);
    lua_pushvalue(L, 1);
    lua_pushnil(L);
    return 3;
}

/* Wraps the table on the top of the stack in a read-only proxy (replacing it). */
static void make_read_only(lua_State *L) {
    lua_newtable(L);             /* proxy */
    lua_createtable(L, 0, 4);    /* its metatable */
    lua_pushvalue(L, -3);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, options_write);
    lua_setfield(L, -2, "__newindex");
    lua_pushvalue(L, -3);
    lua_pushcclosure(L, options_pairs, 1);
    lua_setfield(L, -2, "__pairs");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
    lua_remove(L, -2);
}

static void push_strv(lua_State *L, char *const *v, int n) {
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) {
        lua_pushstring(L, v[i]);
        lua_rawseti(L, -2, i + 1);
    }
}

static void set_methods(lua_State *L, proc_inst *in, const luaL_Reg *fns) {
    for (; fns->name; fns++) {
        lua_pushlightuserdata(L, in);
        lua_pushcclosure(L, fns->func, 1);
        lua_setfield(L, -2, fns->name);
    }
}

/* The ctx table of the task (in the registry): plain fields and the methods. */
static int make_ctx(lua_State *L) {
    proc_inst *in = lua_touserdata(L, 1);
    const rn_processor_def *d = in->def;
    lua_createtable(L, 0, 12);
    lua_pushstring(L, d->name);
    lua_setfield(L, -2, "name");
    lua_pushinteger(L, rn_proc_task_index(in->t));
    lua_setfield(L, -2, "task");
    lua_createtable(L, 0, d->noptions);
    for (int i = 0; i < d->noptions; i++) {
        lua_pushstring(L, d->option_values[i]);
        lua_setfield(L, -2, d->option_names[i]);
    }
    make_read_only(L);
    lua_setfield(L, -2, "options");
    push_strv(L, d->inputs, d->ninputs);
    lua_setfield(L, -2, "inputs");
    push_strv(L, d->outputs, d->noutputs);
    lua_setfield(L, -2, "outputs");
    lua_pushinteger(L, -1);
    lua_setfield(L, -2, "stream_time");
    static const luaL_Reg ctx_fns[] = {
        {"emit", l_emit}, {"schedule", l_schedule}, {"cancel", l_cancel}, {"now", l_now}, {NULL, NULL}};
    set_methods(L, in, ctx_fns);
    lua_createtable(L, 0, 4);
    static const luaL_Reg state_fns[] = {{"get", l_state_get}, {"put", l_state_put},
                                         {"delete", l_state_delete}, {"scan", l_state_scan},
                                         {NULL, NULL}};
    set_methods(L, in, state_fns);
    lua_setfield(L, -2, "state");
    return 1;
}

/* ---- the program ---------------------------------------------------------------------- */

static void inst_drop_vm(proc_inst *in) {
    if (!in->vm) return;
    rn_vm_free(in->vm);
    in->vm = NULL;
}

/* A state running the script, and the ctx. 0, or -1 with err. */
static int inst_load(proc_inst *in, char *err, size_t errlen) {
    in->vm = rn_plugins_vm_new(in->host);
    if (!in->vm) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    lua_State *L = in->vm->L;
    if (rn_plugins_push_env(in->host, in->vm, in->def->script, err, errlen) != 0) {
        inst_drop_vm(in);
        return -1;
    }
    lua_pop(L, 1);
    lua_pushcfunction(L, make_ctx);
    lua_pushlightuserdata(L, in);
    if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
        snprintf(err, errlen, "making ctx: %s", lua_tostring(L, -1));
        inst_drop_vm(in);
        return -1;
    }
    in->ctx_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return 0;
}

static void *prog_open(void *ctx, const rn_processor_def *def, rn_proc_task *t, char *err,
                       size_t errlen) {
    proc_inst *in = calloc(1, sizeof *in);
    if (!in) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    in->host = ctx;
    in->def = def;
    in->t = t;
    if (inst_load(in, err, errlen) != 0) {
        free(in);
        return NULL;
    }
    return in;
}

static void prog_close(void *p) {
    proc_inst *in = p;
    inst_drop_vm(in);
    free(in->value);
    free(in->headers);
    items_clear(in);
    free(in->items);
    free(in);
}

/* Push env[fn] for the script (the registry's current version). */
static int push_fn(proc_inst *in, const char *fn, char *err, size_t errlen) {
    lua_State *L = in->vm->L;
    if (rn_plugins_push_env(in->host, in->vm, in->def->script, err, errlen) != 0) return -1;
    lua_pushstring(L, fn);
    int ty = lua_rawget(L, -2);
    lua_remove(L, -2);
    if (ty != LUA_TFUNCTION) {
        lua_pop(L, 1);
        snprintf(err, errlen, "%s does not define %s()", in->def->script, fn);
        return -1;
    }
    return 0;
}

/* Call the function below the argument on the stack with (arg, ctx). */
static int call(proc_inst *in, char *err, size_t errlen) {
    lua_State *L = in->vm->L;
    lua_rawgeti(L, LUA_REGISTRYINDEX, in->ctx_ref);
    lua_pushinteger(L, rn_proc_stream_time(in->t));
    lua_setfield(L, -2, "stream_time");
    int64_t t0 = rn_plugins_mono_us();
    rn_vm_arm(in->vm);
    in->in_call = true;
    int rc = rn_vm_pcall(in->vm, in->def->script, 2, 0, err, errlen);
    in->in_call = false;
    rn_plugins_count_call(in->host, rn_plugins_mono_us() - t0);
    if (rc != 0) {
        rn_plugins_count_failure(in->host, in->vm);
        if (in->vm->poisoned) { /* the state hit its memory cap: start clean */
            char why[256];
            inst_drop_vm(in);
            if (inst_load(in, why, sizeof why) != 0) {
                snprintf(err + strlen(err), errlen - strlen(err), " (and reloading failed: %s)", why);
                return -2;
            }
        }
    }
    return rc;
}

static int prog_process(void *p, const rn_proc_record *r, char *err, size_t errlen) {
    proc_inst *in = p;
    if (!in->vm) {
        if (inst_load(in, err, errlen) != 0) return -1;
    }
    if (push_fn(in, "process", err, errlen) != 0) return -1;
    rn_plugin_header hs[64], *h = hs;
    int n = 0;
    if (r->header_count > 64) h = malloc((size_t)r->header_count * sizeof *h);
    if (!h) {
        lua_pop(in->vm->L, 1);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    rn_record rr = {.headers = r->headers, .headers_len = r->headers_len,
                    .header_count = r->header_count};
    size_t pos = 0;
    while (n < r->header_count &&
           rn_record_header_next(&rr, &pos, &h[n].name, &h[n].name_len, &h[n].value,
                                 &h[n].value_len) == 1) {
        if (h[n].value_len < 0) h[n].value = NULL;
        n++;
    }
    rn_plugin_record pr = {.topic = r->topic, .partition = r->partition, .offset = r->offset,
                           .timestamp = r->timestamp, .key = r->key, .key_len = r->key_len,
                           .value = r->value, .value_len = r->value_len, .headers = h,
                           .nheaders = n};
    rn_plugins_push_record(in->vm->L, &pr);
    if (h != hs) free(h);
    return call(in, err, errlen) == 0 ? 0 : -1;
}

static int prog_timer(void *p, const rn_proc_timer *tm, char *err, size_t errlen) {
    proc_inst *in = p;
    if (!in->vm) {
        if (inst_load(in, err, errlen) != 0) return -1;
    }
    if (push_fn(in, "on_timer", err, errlen) != 0) return -1;
    lua_State *L = in->vm->L;
    lua_createtable(L, 0, 4);
    lua_pushlstring(L, tm->name, tm->name_len);
    lua_setfield(L, -2, "name");
    lua_pushstring(L, tm->kind == RN_TIMER_EVENT ? "event" : "wall");
    lua_setfield(L, -2, "kind");
    lua_pushinteger(L, tm->at);
    lua_setfield(L, -2, "at");
    if (tm->payload) {
        lua_pushlstring(L, (const char *)tm->payload, tm->payload_len);
        lua_setfield(L, -2, "payload");
    }
    return call(in, err, errlen) == 0 ? 0 : -1;
}

static int prog_check(void *ctx, const char *script, char *err, size_t errlen) {
    return rn_plugins_check(ctx, script, "process", err, errlen) == RN_KAFKA_NONE ? 0 : -1;
}

static int prog_partition(void *ctx, const char *script, const rn_proc_record *r, int32_t count,
                          const char *const *names, const char *const *values, int nconfigs,
                          int32_t *index, char *err, size_t errlen) {
    rn_plugin_header hs[64];
    int n = 0;
    rn_record rr = {.headers = r->headers, .headers_len = r->headers_len,
                    .header_count = r->header_count};
    size_t pos = 0;
    while (n < 64 && n < r->header_count &&
           rn_record_header_next(&rr, &pos, &hs[n].name, &hs[n].name_len, &hs[n].value,
                                 &hs[n].value_len) == 1) {
        if (hs[n].value_len < 0) hs[n].value = NULL;
        n++;
    }
    rn_plugin_record pr = {.topic = r->topic, .partition = -1, .offset = -1,
                           .timestamp = r->timestamp, .key = r->key, .key_len = r->key_len,
                           .value = r->value, .value_len = r->value_len, .headers = hs,
                           .nheaders = n};
    rn_plugin_config cfg = {names, values, nconfigs};
    return rn_plugins_partition(ctx, script, &pr, count, &cfg, index, err, errlen) == RN_KAFKA_NONE
               ? 0
               : -1;
}

void rn_plugins_processor_program(rn_plugins *p, rn_proc_program *out) {
    *out = (rn_proc_program){.open = prog_open, .process = prog_process, .timer = prog_timer,
                             .close = prog_close, .check = prog_check,
                             .partition = prog_partition, .ctx = p};
}
