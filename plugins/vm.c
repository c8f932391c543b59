/* plugins/vm.c: a sandboxed lua_State. Scripts see a fresh environment of safe globals
 * (no io, os.execute, debug, dofile, loadfile; load of text only; require from
 * plugins.dir and an allow-list of Debian C modules), run under an instruction budget
 * per call (a count hook) and a memory cap per state (our lua_Alloc). Once a call breaks
 * a limit, the sandbox's pcall/xpcall rethrow instead of catching: a script cannot trap
 * its own stop. */
#include "vm.h"

#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HOOK_EVERY 1000            /* instructions between budget checks */

/* C modules a script may require: Debian packages, looked up by the real require. */
static const char *const allowed_c_modules[] = {"cjson", "cjson.safe", NULL};

static rn_vm *vm_of(lua_State *L) { return *(rn_vm **)lua_getextraspace(L); }

static void *vm_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
    rn_vm *vm = ud;
    if (!ptr) osize = 0; /* osize is then a type tag, not a size */
    if (nsize == 0) {
        free(ptr);
        vm->used -= osize;
        return NULL;
    }
    /* The cap holds while a script runs (armed); the host's own pushes of records and
     * configs between calls are not refused, so they never fail outside a protected
     * call (which would abort). A record larger than the cap then fails inside the
     * script, as it should. */
    if (vm->armed && nsize > osize && vm->used + (nsize - osize) > vm->limit) return NULL;
    void *p = realloc(ptr, nsize);
    if (!p) return NULL;
    vm->used = vm->used - osize + nsize;
    return p;
}

static void budget_hook(lua_State *L, lua_Debug *ar) {
    (void)ar;
    rn_vm *vm = vm_of(L);
    vm->spent += HOOK_EVERY;
    if (vm->over_budget || (vm->budget > 0 && vm->spent > vm->budget)) {
        vm->over_budget = true;
        /* Name the line that was running: the hook's frame is that function's. */
        lua_Debug where;
        if (lua_getstack(L, 0, &where) && lua_getinfo(L, "Sl", &where) && where.currentline > 0)
            luaL_error(L, "%s:%d: instruction budget of %I exceeded", where.short_src,
                       where.currentline, (lua_Integer)vm->budget);
        luaL_error(L, "instruction budget of %I exceeded", (lua_Integer)vm->budget);
    }
}

/* ---- the sandbox's own versions of risky base functions ---------------------------- */

/* Whether a limit was broken in this call. A memory error is one only when Lua gives up
 * (LUA_ERRMEM, after its emergency collection): a refusal it recovered from is not. */
static int stop_if_over(lua_State *L, int status) {
    rn_vm *vm = vm_of(L);
    if (status == LUA_ERRMEM) vm->over_memory = true;
    return vm->over_budget || vm->over_memory;
}

static int sb_pcall(lua_State *L) {
    luaL_checkany(L, 1);
    int status = lua_pcall(L, lua_gettop(L) - 1, LUA_MULTRET, 0);
    if (status != LUA_OK && stop_if_over(L, status)) return lua_error(L);
    lua_pushboolean(L, status == LUA_OK);
    lua_insert(L, 1);
    return lua_gettop(L);
}

/* The user's message handler runs with hooks off (Lua runs handlers that way): once a
 * limit is broken it is skipped, so it cannot loop unbudgeted. */
static int xpcall_handler(lua_State *L) {
    rn_vm *vm = vm_of(L);
    if (vm->over_budget || vm->over_memory) return 1; /* the error object, unchanged */
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, 1);
    return 1;
}

static int sb_xpcall(lua_State *L) {
    int n = lua_gettop(L);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    lua_pushvalue(L, 2);
    lua_pushcclosure(L, xpcall_handler, 1);
    lua_replace(L, 2);
    lua_pushboolean(L, 1);
    lua_pushvalue(L, 1);
    lua_rotate(L, 3, 2); /* f, msgh, true, f, args... */
    int status = lua_pcall(L, n - 2, LUA_MULTRET, 2);
    if (status != LUA_OK && stop_if_over(L, status)) return lua_error(L);
    lua_pushboolean(L, status == LUA_OK);
    lua_replace(L, 3);
    return lua_gettop(L) - 2;
}

/* setmetatable without finalizers: Lua runs __gc with hooks off, where a loop could never
 * be stopped. */
static int sb_setmetatable(lua_State *L) {
    if (lua_type(L, 2) == LUA_TTABLE) {
        lua_pushliteral(L, "__gc");
        if (lua_rawget(L, 2) != LUA_TNIL) return luaL_error(L, "__gc metamethods are not allowed");
        lua_pop(L, 1);
    }
    lua_getfield(L, LUA_REGISTRYINDEX, "rn.setmetatable");
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, 1);
    return 1;
}

/* Strings share one metatable with every script: do not hand it out. */
static int sb_getmetatable(lua_State *L) {
    luaL_checkany(L, 1);
    if (lua_type(L, 1) == LUA_TSTRING) return 0;
    if (!lua_getmetatable(L, 1)) return 0;
    luaL_getmetafield(L, 1, "__metatable");
    return 1;
}

static void push_env(lua_State *L);

/* load(text [, chunkname [, mode [, env]]]): text only, never bytecode; without env the
 * chunk gets a fresh sandbox environment (never the real globals). */
static int sb_load(lua_State *L) {
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    const char *chunkname = luaL_optstring(L, 2, "=(load)");
    if (luaL_loadbufferx(L, s, len, chunkname, "t") != LUA_OK) {
        lua_pushnil(L);
        lua_insert(L, -2);
        return 2;
    }
    if (lua_gettop(L) >= 5 && !lua_isnoneornil(L, 4)) lua_pushvalue(L, 4);
    else push_env(L);
    lua_setupvalue(L, -2, 1);
    return 1;
}

static bool module_name_ok(const char *name) {
    if (!name[0] || name[0] == '.') return false;
    for (const char *c = name; *c; c++) {
        bool ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
                  *c == '_' || *c == '-' || *c == '.';
        if (!ok || (c[0] == '.' && c[1] == '.')) return false;
    }
    return true;
}

/* require(name): an allowed C module through the real require, or name.lua (dots are
 * folders) from plugins.dir run in a sandbox environment; cached per state. */
static void shallow_copy_top(lua_State *L) {
    lua_newtable(L);
    lua_pushnil(L);
    while (lua_next(L, -3)) {
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_settable(L, -4);
    }
    lua_remove(L, -2);
}

static int sb_require(lua_State *L) {
    const char *name = luaL_checkstring(L, 1);
    /* Each environment has its own loaded modules (upvalue 1): one script replacing a
     * module's function cannot change it for another. */
    lua_pushvalue(L, lua_upvalueindex(1));
    if (lua_getfield(L, -1, name) != LUA_TNIL) return 1;
    lua_pop(L, 1);
    for (int i = 0; allowed_c_modules[i]; i++)
        if (strcmp(name, allowed_c_modules[i]) == 0) {
            lua_getfield(L, LUA_REGISTRYINDEX, "rn.require");
            lua_pushstring(L, name);
            lua_call(L, 1, 1);
            /* lua-cjson keeps its settings per instance: each environment gets its own
             * (new()), so one script's cjson.decode_max_depth cannot change another's. */
            if (lua_istable(L, -1) && lua_getfield(L, -1, "new") == LUA_TFUNCTION) {
                lua_call(L, 0, 1);
                lua_remove(L, -2);
            } else {
                lua_pop(L, 1);
            }
            if (lua_istable(L, -1)) shallow_copy_top(L);
            lua_pushvalue(L, -1);
            lua_setfield(L, -3, name);
            return 1;
        }
    if (!module_name_ok(name))
        return luaL_error(L, "require '%s': not an allowed module name", name);
    char rel[512], err[5000];
    snprintf(rel, sizeof rel, "%s", name);
    for (char *c = rel; *c; c++)
        if (*c == '.') *c = '/';
    strncat(rel, ".lua", sizeof rel - strlen(rel) - 1);
    size_t len;
    err[0] = 0;
    if (!vm_of(L)->owner) return luaL_error(L, "require '%s': no plugin host", name);
    char *src = rn_plugins_module_source(vm_of(L)->owner, rel, &len, err, sizeof err);
    if (!src) return luaL_error(L, "require '%s': %s (modules come from plugins.dir or: cjson)", name, err);
    char chunkname[520];
    snprintf(chunkname, sizeof chunkname, "@%s", rel);
    int st = luaL_loadbufferx(L, src, len, chunkname, "t");
    free(src);
    if (st != LUA_OK) return lua_error(L);
    push_env(L);
    lua_setupvalue(L, -2, 1);
    lua_call(L, 0, 1);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        lua_pushboolean(L, 1);
    }
    lua_pushvalue(L, -1);
    lua_setfield(L, -3, name);
    return 1;
}

/* ---- environments ------------------------------------------------------------------ */

static void copy_library(lua_State *L, const char *lib, const char *const *only) {
    lua_newtable(L);
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    lua_getfield(L, -1, lib);
    lua_remove(L, -2);
    if (only) {
        for (int i = 0; only[i]; i++) {
            lua_getfield(L, -1, only[i]);
            lua_setfield(L, -3, only[i]);
        }
    } else {
        lua_pushnil(L);
        while (lua_next(L, -2)) {
            lua_pushvalue(L, -2);
            lua_insert(L, -2);
            lua_settable(L, -5);
        }
    }
    lua_pop(L, 1);
}

/* Push a new environment: the safe globals, copies of the libraries (a script changing
 * string.format changes its own copy), _G pointing at itself. */
static void push_env(lua_State *L) {
    static const char *const base_fns[] = {"assert", "error", "ipairs", "next", "pairs", "select",
                                           "tonumber", "tostring", "type", "rawequal", "rawget",
                                           "rawlen", "rawset", NULL};
    static const char *const os_fns[] = {"time", "clock", "date", "difftime", NULL};
    lua_newtable(L);
    lua_pushglobaltable(L);
    for (int i = 0; base_fns[i]; i++) {
        lua_getfield(L, -1, base_fns[i]);
        lua_setfield(L, -3, base_fns[i]);
    }
    lua_getfield(L, -1, "_VERSION");
    lua_setfield(L, -3, "_VERSION");
    lua_pop(L, 1);
    const struct {
        const char *name;
        lua_CFunction fn;
    } own[] = {{"pcall", sb_pcall}, {"xpcall", sb_xpcall}, {"getmetatable", sb_getmetatable},
               {"setmetatable", sb_setmetatable}, {"load", sb_load}};
    for (size_t i = 0; i < sizeof own / sizeof own[0]; i++) {
        lua_pushcfunction(L, own[i].fn);
        lua_setfield(L, -2, own[i].name);
    }
    lua_newtable(L); /* this environment's loaded modules */
    lua_pushcclosure(L, sb_require, 1);
    lua_setfield(L, -2, "require");
    /* No coroutine: the budget hook is per thread, a coroutine would run unbudgeted. */
    const char *const libs[] = {"string", "table", "math", "utf8"};
    for (size_t i = 0; i < sizeof libs / sizeof libs[0]; i++) {
        copy_library(L, libs[i], NULL);
        lua_setfield(L, -2, libs[i]);
    }
    copy_library(L, "os", os_fns);
    lua_setfield(L, -2, "os");
    lua_getfield(L, -1, "table");
    lua_getfield(L, -1, "unpack");
    lua_setfield(L, -3, "unpack");
    lua_pop(L, 1);
    lua_getfield(L, LUA_REGISTRYINDEX, "rn.runnel");
    shallow_copy_top(L); /* its own copy, like the libraries */
    lua_setfield(L, -2, "runnel");
    lua_pushvalue(L, -1);
    lua_setfield(L, -2, "_G");
}

rn_vm *rn_vm_new(rn_plugins *owner, const char *dir, int64_t budget, size_t limit) {
    rn_vm *vm = calloc(1, sizeof *vm);
    if (!vm) return NULL;
    vm->owner = owner;
    vm->dir = dir;
    vm->budget = budget;
    vm->limit = limit ? limit : (64u << 20);
    vm->L = lua_newstate(vm_alloc, vm);
    if (!vm->L) {
        free(vm);
        return NULL;
    }
    *(rn_vm **)lua_getextraspace(vm->L) = vm;
    lua_State *L = vm->L;
    luaL_openlibs(L); /* the real libraries stay out of the scripts' reach */
    lua_getglobal(L, "require");
    lua_setfield(L, LUA_REGISTRYINDEX, "rn.require");
    lua_getglobal(L, "setmetatable");
    lua_setfield(L, LUA_REGISTRYINDEX, "rn.setmetatable");
    /* The real require serves only the allow-listed C modules: never a file from the
     * working directory, never a Lua file at all. */
    lua_getglobal(L, "package");
    lua_pushliteral(L, "");
    lua_setfield(L, -2, "path");
    lua_pushliteral(L, "/usr/lib/x86_64-linux-gnu/lua/5.4/?.so;/usr/lib/lua/5.4/?.so;"
                       "/usr/local/lib/lua/5.4/?.so");
    lua_setfield(L, -2, "cpath");
    lua_pop(L, 1);
    luaL_requiref(L, "runnel", rn_vm_open_runnel, 0);
    lua_setfield(L, LUA_REGISTRYINDEX, "rn.runnel");
    vm->sandbox_ref = LUA_NOREF;
    vm->config_ref = LUA_NOREF;
    return vm;
}

void rn_vm_free(rn_vm *vm) {
    if (!vm) return;
    for (int i = 0; i < vm->nscripts; i++) free(vm->scripts[i].name);
    free(vm->scripts);
    free(vm->config_text);
    lua_close(vm->L);
    free(vm);
}

void rn_vm_arm(rn_vm *vm) {
    vm->spent = 0;
    vm->armed = true;
    vm->over_budget = vm->over_memory = false;
    lua_sethook(vm->L, budget_hook, LUA_MASKCOUNT, HOOK_EVERY);
}

static int traceback(lua_State *L) {
    const char *msg = lua_tostring(L, 1);
    if (!msg) msg = luaL_typename(L, 1);
    luaL_traceback(L, L, msg, 1);
    return 1;
}

int rn_vm_pcall(rn_vm *vm, const char *script, int nargs, int nresults, char *err, size_t errlen) {
    lua_State *L = vm->L;
    int base = lua_gettop(L) - nargs;
    lua_pushcfunction(L, traceback);
    lua_insert(L, base);
    int st = lua_pcall(L, nargs, nresults, base);
    vm->armed = false;
    lua_remove(L, base);
    if (st == LUA_ERRMEM) vm->over_memory = true;
    if (st == LUA_OK) return 0;
    /* Lua's own message (with the script's file:line and the traceback), and what a
     * broken limit means. */
    const char *msg = lua_tostring(L, -1) ? lua_tostring(L, -1) : "error";
    if (vm->over_memory)
        snprintf(err, errlen, "%s: memory limit of %zu bytes exceeded (%s)", script, vm->limit, msg);
    else if (vm->over_budget)
        snprintf(err, errlen, "%s (the script was stopped)", msg);
    else
        snprintf(err, errlen, "%s", msg);
    lua_pop(L, 1);
    if (vm->over_memory) lua_gc(L, LUA_GCCOLLECT);
    return -1;
}

int rn_vm_load(rn_vm *vm, const char *name, const char *source, size_t len, int *env_ref,
               char *err, size_t errlen) {
    lua_State *L = vm->L;
    char chunkname[600];
    snprintf(chunkname, sizeof chunkname, "@%s", name);
    rn_vm_arm(vm);
    if (luaL_loadbufferx(L, source, len, chunkname, "t") != LUA_OK) {
        snprintf(err, errlen, "%s", lua_tostring(L, -1));
        lua_pop(L, 1);
        return -1;
    }
    push_env(L);
    lua_pushvalue(L, -1);
    lua_insert(L, -3); /* env, chunk, env */
    lua_setupvalue(L, -2, 1);
    if (rn_vm_pcall(vm, name, 0, 0, err, errlen) != 0) {
        lua_pop(L, 1);
        return -1;
    }
    *env_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return 0;
}
