/* plugins/host.c: the plugin host: the registry of scripts (the one validated source of
 * each, with a version that a reload bumps), one lua_State per calling thread, and the
 * hook calls with records crossing into Lua as tables.
 *
 * Invariant: a state runs a script's registry version or, if that version failed to run
 * in it, the last one that did; the registry only ever holds sources that compiled and
 * ran in a scratch state. */
#include "plugins.h"

#include <lauxlib.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rnlog.h"
#include "vm.h"

typedef struct {
    char *name;
    char *source;
    size_t len;
    uint64_t version;
    bool is_module; /* read by require(): compiled, not run, when (re)loaded */
} rn_script;

struct rn_plugins {
    uint64_t id; /* unique per open: thread-local states are matched by it, not by address */
    char *dir;
    int64_t budget;
    size_t memory_limit;
    pthread_mutex_t lock; /* scripts and vms; recursive: validating a script runs it, and
                           * its require() asks the registry for modules */
    rn_script *scripts;
    int nscripts, cap;
    rn_vm *vms;
    _Atomic uint64_t calls, errors, budget_exceeded, memory_exceeded, reloads, reload_failures;
    _Atomic uint64_t time_us;
};

/* lua_getfield without metamethods: tables a script returns (or its environment) may
 * carry __index functions, which must not run outside a protected call. */
static int raw_getfield(lua_State *L, int idx, const char *k) {
    idx = lua_absindex(L, idx);
    lua_pushstring(L, k);
    return lua_rawget(L, idx);
}

/* This thread's states, one per host (a thread may serve a few, e.g. in tests). */
#define TLS_HOSTS 4
static _Thread_local struct {
    uint64_t owner; /* the id of the host the state belongs to */
    rn_vm *vm;
} tls_states[TLS_HOSTS];
static _Atomic uint64_t next_host_id = 1;

rn_err rn_plugins_open(const rn_plugins_options *opts, rn_plugins **out, char *err, size_t errlen) {
    rn_plugins *p = calloc(1, sizeof *p);
    if (!p || !(p->dir = strdup(opts->dir ? opts->dir : "."))) {
        free(p);
        snprintf(err, errlen, "out of memory");
        return RN_ERR_NOMEM;
    }
    p->id = atomic_fetch_add(&next_host_id, 1);
    p->budget = opts->instruction_budget;
    p->memory_limit = opts->memory_limit;
    pthread_mutexattr_t ma;
    pthread_mutexattr_init(&ma);
    pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&p->lock, &ma);
    pthread_mutexattr_destroy(&ma);
    *out = p;
    return RN_KAFKA_NONE;
}

void rn_plugins_close(rn_plugins *p) {
    if (!p) return;
    while (p->vms) {
        rn_vm *n = p->vms->next;
        rn_vm_free(p->vms);
        p->vms = n;
    }
    for (int i = 0; i < p->nscripts; i++) {
        free(p->scripts[i].name);
        free(p->scripts[i].source);
    }
    free(p->scripts);
    pthread_mutex_destroy(&p->lock);
    free(p->dir);
    free(p);
}

static void unlink_vm(rn_plugins *p, rn_vm *vm) {
    pthread_mutex_lock(&p->lock);
    for (rn_vm **pp = &p->vms; *pp; pp = &(*pp)->next)
        if (*pp == vm) {
            *pp = vm->next;
            break;
        }
    pthread_mutex_unlock(&p->lock);
}

static rn_vm *thread_vm(rn_plugins *p) {
    int slot = -1;
    for (int i = 0; i < TLS_HOSTS; i++)
        if (tls_states[i].owner == p->id && tls_states[i].vm) slot = i;
    if (slot >= 0 && tls_states[slot].vm->poisoned) {
        /* A script filled this state to its cap: start clean rather than fail every
         * later call on this thread. */
        unlink_vm(p, tls_states[slot].vm);
        rn_vm_free(tls_states[slot].vm);
        tls_states[slot].vm = NULL;
        rn_log_warn("plugins: a Lua state reached its memory limit; this thread starts a new one");
    } else if (slot >= 0) {
        return tls_states[slot].vm;
    }
    rn_vm *vm = rn_vm_new(p, p->dir, p->budget, p->memory_limit);
    if (!vm) return NULL;
    pthread_mutex_lock(&p->lock);
    vm->next = p->vms;
    p->vms = vm;
    pthread_mutex_unlock(&p->lock);
    if (slot < 0) { /* a free slot, or one whose host has closed (its id is gone) */
        slot = 0;
        for (int i = 0; i < TLS_HOSTS; i++)
            if (!tls_states[i].vm) {
                slot = i;
                break;
            }
    }
    /* A state left in a reused slot still belongs to its host, which frees it at close. */
    tls_states[slot].owner = p->id;
    tls_states[slot].vm = vm;
    return vm;
}

void rn_plugins_thread_start(rn_plugins *p) {
    if (p) thread_vm(p);
}

/* A script name is a relative path inside plugins.dir ending in .lua. */
static bool script_name_ok(const char *name) {
    size_t n = strlen(name);
    if (n < 5 || n > 400 || name[0] == '/' || strcmp(name + n - 4, ".lua") != 0) return false;
    for (const char *c = name; *c; c++) {
        bool ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
                  *c == '_' || *c == '-' || *c == '.' || *c == '/';
        if (!ok) return false;
        if (c[0] == '.' && c[1] == '.') return false;
    }
    return true;
}

static char *read_script(rn_plugins *p, const char *name, size_t *len, char *err, size_t errlen) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", p->dir, name);
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "script %s: cannot open %s", name, path);
        return NULL;
    }
    size_t cap = 1 << 20;
    char *buf = malloc(cap + 1);
    size_t n = buf ? fread(buf, 1, cap + 1, f) : 0;
    fclose(f);
    if (!buf || n > cap) {
        snprintf(err, errlen, "script %s: larger than 1 MiB", name);
        free(buf);
        return NULL;
    }
    buf[n] = 0;
    *len = n;
    return buf;
}

/* Compile and run source in a scratch state; when fn is given, it must define it. */
static int validate(rn_plugins *p, const char *name, const char *src, size_t len, const char *fn,
                    char *err, size_t errlen) {
    rn_vm *vm = rn_vm_new(p, p->dir, p->budget, p->memory_limit);
    if (!vm) {
        snprintf(err, errlen, "script %s: out of memory", name);
        return -1;
    }
    int env = LUA_NOREF;
    int rc = rn_vm_load(vm, name, src, len, &env, err, errlen);
    if (rc == 0 && fn) {
        lua_rawgeti(vm->L, LUA_REGISTRYINDEX, env);
        if (raw_getfield(vm->L, -1, fn) != LUA_TFUNCTION) {
            snprintf(err, errlen, "script %s does not define a function %s()", name, fn);
            rc = -1;
        }
    }
    rn_vm_free(vm);
    return rc;
}

static rn_script *registry_find(rn_plugins *p, const char *name) {
    for (int i = 0; i < p->nscripts; i++)
        if (strcmp(p->scripts[i].name, name) == 0) return &p->scripts[i];
    return NULL;
}

/* The registry entry for name, reading and validating the file on first use. Lock held. */
static rn_script *registry_get(rn_plugins *p, const char *name, char *err, size_t errlen) {
    rn_script *s = registry_find(p, name);
    if (s) return s;
    if (!script_name_ok(name)) {
        snprintf(err, errlen, "script name '%s' must be a relative path to a .lua file inside plugins.dir",
                 name);
        return NULL;
    }
    size_t len;
    char *src = read_script(p, name, &len, err, errlen);
    if (!src) return NULL;
    if (validate(p, name, src, len, NULL, err, errlen) != 0) {
        free(src);
        return NULL;
    }
    if (p->nscripts == p->cap) {
        int cap = p->cap ? p->cap * 2 : 8;
        rn_script *ns = realloc(p->scripts, (size_t)cap * sizeof *ns);
        if (!ns) {
            free(src);
            snprintf(err, errlen, "out of memory");
            return NULL;
        }
        p->scripts = ns;
        p->cap = cap;
    }
    s = &p->scripts[p->nscripts];
    s->name = strdup(name);
    if (!s->name) {
        free(src);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->source = src;
    s->len = len;
    s->version = 1;
    s->is_module = false;
    p->nscripts++;
    rn_log_info("plugins: loaded %s", name);
    return s;
}

/* The script's environment in vm (pushed), loading or refreshing it as the registry
 * says. 0, or -1 with err. */
static int push_script_env(rn_plugins *p, rn_vm *vm, const char *name, char *err, size_t errlen) {
    rn_vm_script *vs = NULL;
    for (int i = 0; i < vm->nscripts; i++)
        if (strcmp(vm->scripts[i].name, name) == 0) vs = &vm->scripts[i];
    pthread_mutex_lock(&p->lock);
    rn_script *s = registry_get(p, name, err, errlen);
    if (!s) {
        pthread_mutex_unlock(&p->lock);
        return -1;
    }
    if (vs && vs->version == s->version) {
        pthread_mutex_unlock(&p->lock);
        lua_rawgeti(vm->L, LUA_REGISTRYINDEX, vs->env_ref);
        return 0;
    }
    uint64_t version = s->version;
    size_t len = s->len;
    char *src = malloc(len + 1);
    if (src) memcpy(src, s->source, len + 1);
    pthread_mutex_unlock(&p->lock);
    if (!src) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int env;
    int rc = rn_vm_load(vm, name, src, len, &env, err, errlen);
    free(src);
    if (rc != 0) {
        if (vs) { /* keep running the version that worked here */
            rn_log_error("plugins: %s version %llu failed to run on this thread, keeping the "
                         "previous one: %s", name, (unsigned long long)version, err);
            vs->version = version;
            lua_rawgeti(vm->L, LUA_REGISTRYINDEX, vs->env_ref);
            return 0;
        }
        return -1;
    }
    if (!vs) {
        if (vm->nscripts == vm->cap) {
            int cap = vm->cap ? vm->cap * 2 : 8;
            rn_vm_script *n = realloc(vm->scripts, (size_t)cap * sizeof *n);
            if (!n) {
                luaL_unref(vm->L, LUA_REGISTRYINDEX, env);
                snprintf(err, errlen, "out of memory");
                return -1;
            }
            vm->scripts = n;
            vm->cap = cap;
        }
        char *copy = strdup(name);
        if (!copy) {
            luaL_unref(vm->L, LUA_REGISTRYINDEX, env);
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        vs = &vm->scripts[vm->nscripts++];
        vs->name = copy;
        vs->env_ref = LUA_NOREF;
    } else {
        luaL_unref(vm->L, LUA_REGISTRYINDEX, vs->env_ref);
    }
    vs->env_ref = env;
    vs->version = version;
    lua_rawgeti(vm->L, LUA_REGISTRYINDEX, env);
    return 0;
}

rn_err rn_plugins_check(rn_plugins *p, const char *script, const char *fn, char *err,
                        size_t errlen) {
    if (!script_name_ok(script)) {
        snprintf(err, errlen, "script name '%s' must be a relative path to a .lua file inside plugins.dir",
                 script);
        return RN_KAFKA_INVALID_CONFIG;
    }
    size_t len;
    char *src = read_script(p, script, &len, err, errlen);
    if (!src) return RN_KAFKA_INVALID_CONFIG;
    int rc = validate(p, script, src, len, fn, err, errlen);
    free(src);
    return rc == 0 ? RN_KAFKA_NONE : RN_KAFKA_INVALID_CONFIG;
}

/* Compile source without running it: what a module must pass to be taken. */
static int compile_only(rn_plugins *p, const char *name, const char *src, size_t len, char *err,
                        size_t errlen) {
    rn_vm *vm = rn_vm_new(p, p->dir, p->budget, p->memory_limit);
    if (!vm) {
        snprintf(err, errlen, "%s: out of memory", name);
        return -1;
    }
    char chunk[600];
    snprintf(chunk, sizeof chunk, "@%s", name);
    int rc = luaL_loadbufferx(vm->L, src, len, chunk, "t") == LUA_OK ? 0 : -1;
    if (rc) snprintf(err, errlen, "%s", lua_tostring(vm->L, -1));
    rn_vm_free(vm);
    return rc;
}

char *rn_plugins_module_source(rn_plugins *p, const char *rel, size_t *len, char *err,
                               size_t errlen) {
    pthread_mutex_lock(&p->lock);
    rn_script *s = registry_find(p, rel);
    char *copy = NULL;
    if (!s) {
        size_t n;
        char *src = read_script(p, rel, &n, err, errlen);
        if (src && compile_only(p, rel, src, n, err, errlen) == 0 && p->nscripts == p->cap) {
            int cap = p->cap ? p->cap * 2 : 8;
            rn_script *ns = realloc(p->scripts, (size_t)cap * sizeof *ns);
            if (ns) {
                p->scripts = ns;
                p->cap = cap;
            }
        }
        if (src && !err[0] && p->nscripts < p->cap && (copy = strdup(rel))) {
            s = &p->scripts[p->nscripts++];
            *s = (rn_script){.name = copy, .source = src, .len = n, .version = 1, .is_module = true};
            src = NULL;
            rn_log_info("plugins: loaded module %s", rel);
        }
        free(src);
    }
    copy = NULL;
    if (s && (copy = malloc(s->len + 1))) {
        memcpy(copy, s->source, s->len + 1);
        *len = s->len;
    }
    pthread_mutex_unlock(&p->lock);
    return copy;
}

/* Re-read one registry entry; 1 changed, 0 unchanged, -1 refused (reason in report). */
static int reload_one(rn_plugins *p, int i, char *report, size_t len, size_t *used) {
    char err[1024];
    err[0] = 0;
    size_t n;
    char *name = p->scripts[i].name;
    bool module = p->scripts[i].is_module;
    char *src = read_script(p, name, &n, err, sizeof err);
    if (src && n == p->scripts[i].len && memcmp(src, p->scripts[i].source, n) == 0) {
        free(src);
        return 0;
    }
    int bad = !src || (module ? compile_only(p, name, src, n, err, sizeof err)
                              : validate(p, name, src, n, NULL, err, sizeof err));
    rn_script *s = &p->scripts[i]; /* validation may have grown the registry */
    if (bad) {
        free(src);
        atomic_fetch_add(&p->reload_failures, 1);
        rn_log_error("plugins: reload of %s failed, the previous version keeps running: %s", name, err);
        if (*used < len)
            *used += (size_t)snprintf(report + *used, len - *used, "%s%s", *used ? "; " : "", err);
        return -1;
    }
    free(s->source);
    s->source = src;
    s->len = n;
    s->version++;
    atomic_fetch_add(&p->reloads, 1);
    rn_log_info("plugins: reloaded %s (version %llu)", s->name, (unsigned long long)s->version);
    return 1;
}

int rn_plugins_reload(rn_plugins *p, char *report, size_t len) {
    int failed = 0, changed = 0;
    size_t used = 0;
    if (len) report[0] = 0;
    pthread_mutex_lock(&p->lock);
    /* Modules first, so scripts are validated against the modules they will get. */
    bool modules_changed = false;
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < p->nscripts; i++) {
            if (p->scripts[i].is_module != (pass == 0)) continue;
            int r = reload_one(p, i, report, len, &used);
            if (r < 0) failed++;
            if (r > 0) {
                changed++;
                if (pass == 0) modules_changed = true;
            }
        }
    /* A script's states hold the modules it required when it ran: run every script
     * again so each gets the new ones. */
    if (modules_changed)
        for (int i = 0; i < p->nscripts; i++)
            if (!p->scripts[i].is_module) p->scripts[i].version++;
    pthread_mutex_unlock(&p->lock);
    rn_log_info("plugins: reload: %d changed, %d failed", changed, failed);
    return failed;
}

void rn_plugins_get_stats(rn_plugins *p, rn_plugins_stats *o) {
    o->calls = atomic_load(&p->calls);
    o->errors = atomic_load(&p->errors);
    o->budget_exceeded = atomic_load(&p->budget_exceeded);
    o->memory_exceeded = atomic_load(&p->memory_exceeded);
    o->reloads = atomic_load(&p->reloads);
    o->reload_failures = atomic_load(&p->reload_failures);
    o->time_us = atomic_load(&p->time_us);
}

/* ---- records across the boundary -------------------------------------------------- */

static void push_bytes(lua_State *L, const uint8_t *b, int32_t len) {
    if (!b || len < 0) lua_pushnil(L);
    else lua_pushlstring(L, (const char *)b, (size_t)len);
}

void rn_plugins_push_record(lua_State *L, const rn_plugin_record *r) {
    lua_createtable(L, 0, 8);
    push_bytes(L, r->key, r->key_len);
    lua_setfield(L, -2, "key");
    push_bytes(L, r->value, r->value_len);
    lua_setfield(L, -2, "value");
    lua_pushinteger(L, r->timestamp);
    lua_setfield(L, -2, "timestamp");
    lua_pushstring(L, r->topic ? r->topic : "");
    lua_setfield(L, -2, "topic");
    if (r->partition >= 0) {
        lua_pushinteger(L, r->partition);
        lua_setfield(L, -2, "partition");
    }
    if (r->offset >= 0) {
        lua_pushinteger(L, r->offset);
        lua_setfield(L, -2, "offset");
    }
    lua_createtable(L, r->nheaders, 0);
    for (int i = 0; i < r->nheaders; i++) {
        const rn_plugin_header *h = &r->headers[i];
        /* {name, value} positionally and by name: scripts may use either */
        lua_createtable(L, 2, 2);
        push_bytes(L, h->name, h->name_len);
        lua_pushvalue(L, -1);
        lua_rawseti(L, -3, 1);
        lua_setfield(L, -2, "name");
        push_bytes(L, h->value, h->value_len);
        lua_pushvalue(L, -1);
        lua_rawseti(L, -3, 2);
        lua_setfield(L, -2, "value");
        lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, "headers");
}

/* Whether c is the config the state's cached table was made from. */
static bool config_is_cached(const rn_vm *vm, const rn_plugin_config *c) {
    int n = c ? c->n : 0;
    if (vm->config_ref == LUA_NOREF || n != vm->config_n) return false;
    const char *p = vm->config_text;
    for (int i = 0; i < n; i++) {
        size_t nl = strlen(c->names[i]), vl = strlen(c->values[i]);
        if (strcmp(p, c->names[i]) != 0) return false;
        p += nl + 1;
        if (strcmp(p, c->values[i]) != 0) return false;
        p += vl + 1;
    }
    return true;
}

/* The topic's configs as a table. Building it costs a table and a string per key on
 * every record, so each state keeps the last one and reuses it while the configs are
 * the same (they change only with AlterConfigs). Scripts get it read-only by contract. */
static void push_config(rn_vm *vm, const rn_plugin_config *c) {
    lua_State *L = vm->L;
    if (config_is_cached(vm, c)) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, vm->config_ref);
        return;
    }
    lua_createtable(L, 0, c ? c->n : 0);
    size_t len = 0;
    for (int i = 0; c && i < c->n; i++) {
        lua_pushstring(L, c->values[i]);
        lua_setfield(L, -2, c->names[i]);
        len += strlen(c->names[i]) + strlen(c->values[i]) + 2;
    }
    char *text = malloc(len + 1);
    if (!text) return; /* no cache this time */
    char *w = text;
    for (int i = 0; c && i < c->n; i++) {
        size_t nl = strlen(c->names[i]) + 1, vl = strlen(c->values[i]) + 1;
        memcpy(w, c->names[i], nl);
        w += nl;
        memcpy(w, c->values[i], vl);
        w += vl;
    }
    free(vm->config_text);
    vm->config_text = text;
    vm->config_n = c ? c->n : 0;
    luaL_unref(L, LUA_REGISTRYINDEX, vm->config_ref);
    lua_pushvalue(L, -1);
    vm->config_ref = luaL_ref(L, LUA_REGISTRYINDEX);
}

/* Push env[fn] (must be a function) after popping env. */
static int push_hook(lua_State *L, const char *script, const char *fn, char *err, size_t errlen) {
    int t = raw_getfield(L, -1, fn);
    lua_remove(L, -2);
    if (t != LUA_TFUNCTION) {
        lua_pop(L, 1);
        snprintf(err, errlen, "script %s does not define a function %s()", script, fn);
        return -1;
    }
    return 0;
}

void rn_plugins_count_failure(rn_plugins *p, rn_vm *vm) {
    atomic_fetch_add(&p->errors, 1);
    if (vm->over_budget) atomic_fetch_add(&p->budget_exceeded, 1);
    if (vm->over_memory) {
        atomic_fetch_add(&p->memory_exceeded, 1);
        vm->poisoned = true;
    }
}

int64_t rn_plugins_mono_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static rn_err partition_call(rn_plugins *p, const char *script, const rn_plugin_record *rec,
                             int32_t count, const rn_plugin_config *config, int32_t *index,
                             char *err, size_t errlen) {
    rn_vm *vm = thread_vm(p);
    if (!vm) {
        snprintf(err, errlen, "plugins: out of memory");
        return RN_ERR_NOMEM;
    }
    lua_State *L = vm->L;
    if (push_script_env(p, vm, script, err, errlen) != 0 ||
        push_hook(L, script, "partition", err, errlen) != 0) {
        atomic_fetch_add(&p->errors, 1);
        return RN_KAFKA_INVALID_RECORD;
    }
    lua_Debug fn;
    lua_pushvalue(L, -1);
    lua_getinfo(L, ">S", &fn); /* where partition() is defined, for errors about its result */
    rn_plugins_push_record(L, rec);
    lua_pushinteger(L, count);
    push_config(vm, config);
    rn_vm_arm(vm);
    if (rn_vm_pcall(vm, script, 3, 1, err, errlen) != 0) {
        rn_plugins_count_failure(p, vm);
        return RN_KAFKA_INVALID_RECORD;
    }
    lua_Integer v = 0;
    bool ok = lua_type(L, -1) == LUA_TNUMBER && lua_isinteger(L, -1);
    if (ok) v = lua_tointeger(L, -1);
    lua_pop(L, 1);
    if (!ok || v < 0 || v >= count) {
        atomic_fetch_add(&p->errors, 1);
        snprintf(err, errlen, "%s:%d: partition() returned %s for a topic of %d partitions",
                 fn.short_src, fn.linedefined,
                 ok ? "an index out of range" : "something other than an integer", count);
        return RN_KAFKA_INVALID_RECORD;
    }
    *index = (int32_t)v;
    return RN_KAFKA_NONE;
}

void rn_plugin_record_out_free(rn_plugin_record_out *o) {
    free(o->mem);
    o->mem = NULL;
}

/* Bytes of a string field (nil: null), or -1 for another type. */
static int field_bytes(lua_State *L, int idx, const char *name, const char **s, size_t *len) {
    int t = raw_getfield(L, idx, name);
    *s = NULL;
    *len = 0;
    if (t == LUA_TNIL) {
        lua_pop(L, 1);
        return 0;
    }
    if (t != LUA_TSTRING && t != LUA_TNUMBER) {
        lua_pop(L, 1);
        return -1;
    }
    *s = lua_tolstring(L, -1, len);
    return 1; /* left on the stack: the caller pops after copying */
}

/* Read the table at the top into out (one malloc'd block). */
static int read_record(lua_State *L, const rn_plugin_record *orig, rn_plugin_record_out *out,
                       const char *script, char *err, size_t errlen) {
    int t = lua_gettop(L);
    const char *key, *value;
    size_t kl, vl;
    int kf = field_bytes(L, t, "key", &key, &kl);
    int vf = field_bytes(L, t, "value", &value, &vl);
    if (kf < 0 || vf < 0) {
        snprintf(err, errlen, "%s: filter() returned a record whose key or value is not a string",
                 script);
        lua_settop(L, t);
        return -1;
    }
    int nh = 0;
    size_t hbytes = 0;
    int ht = raw_getfield(L, t, "headers");
    if (ht == LUA_TTABLE) {
        nh = (int)lua_rawlen(L, -1);
        for (int i = 1; i <= nh; i++) {
            lua_rawgeti(L, -1, i);
            if (!lua_istable(L, -1)) {
                snprintf(err, errlen, "%s: filter() returned a header that is not a table", script);
                lua_settop(L, t);
                return -1;
            }
            for (int k = 1; k <= 2; k++) {
                if (lua_rawgeti(L, -1, k) == LUA_TNIL) {
                    lua_pop(L, 1);
                    raw_getfield(L, -1, k == 1 ? "name" : "value");
                }
                size_t l = 0;
                if (lua_type(L, -1) == LUA_TSTRING) lua_tolstring(L, -1, &l);
                else if (!lua_isnil(L, -1) || k == 1) {
                    snprintf(err, errlen, "%s: filter() returned a header whose %s is not a string",
                             script, k == 1 ? "name" : "value");
                    lua_settop(L, t);
                    return -1;
                }
                hbytes += l;
                lua_pop(L, 1);
            }
            lua_pop(L, 1);
        }
    } else if (ht != LUA_TNIL) {
        snprintf(err, errlen, "%s: filter() returned headers that are not a list", script);
        lua_settop(L, t);
        return -1;
    }
    size_t total = (size_t)nh * sizeof(rn_plugin_header) + kl + vl + hbytes + 1;
    uint8_t *mem = malloc(total);
    if (!mem) {
        snprintf(err, errlen, "out of memory");
        lua_settop(L, t);
        return -1;
    }
    rn_plugin_header *hs = (rn_plugin_header *)mem;
    uint8_t *w = mem + (size_t)nh * sizeof(rn_plugin_header);
    out->mem = mem;
    out->rec = *orig;
    out->rec.key = NULL;
    out->rec.key_len = -1;
    out->rec.value = NULL;
    out->rec.value_len = -1;
    if (key) {
        memcpy(w, key, kl);
        out->rec.key = w;
        out->rec.key_len = (int32_t)kl;
        w += kl;
    }
    if (value) {
        memcpy(w, value, vl);
        out->rec.value = w;
        out->rec.value_len = (int32_t)vl;
        w += vl;
    }
    out->rec.headers = hs;
    out->rec.nheaders = nh;
    for (int i = 1; i <= nh; i++) {
        lua_rawgeti(L, -1, i);
        for (int k = 1; k <= 2; k++) {
            if (lua_rawgeti(L, -1, k) == LUA_TNIL) {
                lua_pop(L, 1);
                raw_getfield(L, -1, k == 1 ? "name" : "value");
            }
            size_t l = 0;
            const char *s = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &l) : NULL;
            if (s) memcpy(w, s, l);
            if (k == 1) {
                hs[i - 1].name = w;
                hs[i - 1].name_len = (int32_t)l;
            } else {
                hs[i - 1].value = s ? w : NULL;
                hs[i - 1].value_len = s ? (int32_t)l : -1;
            }
            w += l;
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
    }
    raw_getfield(L, t, "timestamp");
    if (lua_isinteger(L, -1)) out->rec.timestamp = lua_tointeger(L, -1);
    lua_settop(L, t);
    return 0;
}

static enum rn_filter_verdict filter_call(rn_plugins *p, const char *script,
                                          const rn_plugin_record *rec,
                                          const rn_plugin_config *config,
                                          rn_plugin_record_out *out, char *err, size_t errlen) {
    out->mem = NULL;
    rn_vm *vm = thread_vm(p);
    if (!vm) {
        snprintf(err, errlen, "plugins: out of memory");
        return RN_FILTER_ERROR;
    }
    lua_State *L = vm->L;
    int top = lua_gettop(L);
    if (push_script_env(p, vm, script, err, errlen) != 0 ||
        push_hook(L, script, "filter", err, errlen) != 0) {
        atomic_fetch_add(&p->errors, 1);
        return RN_FILTER_ERROR;
    }
    rn_plugins_push_record(L, rec);
    push_config(vm, config);
    rn_vm_arm(vm);
    if (rn_vm_pcall(vm, script, 2, 2, err, errlen) != 0) {
        rn_plugins_count_failure(p, vm);
        lua_settop(L, top);
        return RN_FILTER_ERROR;
    }
    enum rn_filter_verdict v;
    int t1 = lua_type(L, -2);
    if (t1 == LUA_TBOOLEAN) {
        v = lua_toboolean(L, -2) ? RN_FILTER_KEEP : RN_FILTER_DROP;
    } else if (t1 == LUA_TTABLE) {
        lua_pop(L, 1);
        v = read_record(L, rec, out, script, err, errlen) == 0 ? RN_FILTER_REWRITE : RN_FILTER_ERROR;
        if (v == RN_FILTER_ERROR) atomic_fetch_add(&p->errors, 1);
    } else if (t1 == LUA_TNIL) {
        const char *reason = lua_tostring(L, -1);
        snprintf(err, errlen, "%s", reason ? reason : "rejected: filter() returned nil without a reason");
        v = RN_FILTER_REJECT;
    } else {
        snprintf(err, errlen, "%s: filter() must return true, false, a record, or nil and a reason",
                 script);
        atomic_fetch_add(&p->errors, 1);
        v = RN_FILTER_ERROR;
    }
    lua_settop(L, top);
    return v;
}

rn_err rn_plugins_partition(rn_plugins *p, const char *script, const rn_plugin_record *rec,
                            int32_t count, const rn_plugin_config *config, int32_t *index,
                            char *err, size_t errlen) {
    atomic_fetch_add(&p->calls, 1);
    int64_t t0 = rn_plugins_mono_us();
    rn_err e = partition_call(p, script, rec, count, config, index, err, errlen);
    atomic_fetch_add(&p->time_us, (uint64_t)(rn_plugins_mono_us() - t0));
    return e;
}

enum rn_filter_verdict rn_plugins_filter(rn_plugins *p, const char *script,
                                         const rn_plugin_record *rec,
                                         const rn_plugin_config *config,
                                         rn_plugin_record_out *out, char *err, size_t errlen) {
    atomic_fetch_add(&p->calls, 1);
    int64_t t0 = rn_plugins_mono_us();
    enum rn_filter_verdict v = filter_call(p, script, rec, config, out, err, errlen);
    atomic_fetch_add(&p->time_us, (uint64_t)(rn_plugins_mono_us() - t0));
    return v;
}

/* ---- for processors (processor_lua.c) ---------------------------------------------- */

rn_vm *rn_plugins_vm_new(rn_plugins *p) { return rn_vm_new(p, p->dir, p->budget, p->memory_limit); }

int rn_plugins_push_env(rn_plugins *p, rn_vm *vm, const char *script, char *err, size_t errlen) {
    return push_script_env(p, vm, script, err, errlen);
}

void rn_plugins_count_call(rn_plugins *p, int64_t us) {
    atomic_fetch_add(&p->calls, 1);
    atomic_fetch_add(&p->time_us, (uint64_t)us);
}
