/* plugins/vm.h: one sandboxed lua_State (internal to plugins/): its memory cap, its
 * instruction budget, the environment scripts run in, and the scripts it has loaded. */
#ifndef RN_VM_H
#define RN_VM_H

#include <lua.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "plugins.h"

typedef struct rn_plugins rn_plugins;

typedef struct {
    char *name;
    uint64_t version; /* the registry version this state runs */
    int env_ref;      /* the script's environment table (LUA_REGISTRYINDEX ref) */
} rn_vm_script;

typedef struct rn_vm {
    lua_State *L;
    rn_plugins *owner;
    const char *dir;       /* plugins.dir (the owner's) */
    size_t used, limit;    /* bytes allocated, and the cap */
    int64_t budget, spent; /* instructions per call, and spent in this call */
    bool over_budget, over_memory; /* the current call broke a limit: nothing may catch it */
    bool armed;            /* a script runs: the memory cap holds */
    bool poisoned;         /* reached its memory cap: replaced before the next call */
    int config_ref;        /* the last config table pushed (LUA_NOREF: none) */
    char *config_text;     /* what it was made from: name\0value\0 ... */
    int config_n;
    int sandbox_ref;       /* the shared read-only globals scripts see through __index */
    rn_vm_script *scripts;
    int nscripts, cap;
    struct rn_vm *next;    /* the owner's list, for close */
} rn_vm;

/* A new state with the sandbox and the runnel module; NULL when out of memory. */
rn_vm *rn_vm_new(rn_plugins *owner, const char *dir, int64_t budget, size_t limit);
void rn_vm_free(rn_vm *vm);

/* Run source (the script called name) in a fresh environment, leaving nothing on the
 * stack; *env_ref gets the environment. 0, or -1 with the reason in err. */
int rn_vm_load(rn_vm *vm, const char *name, const char *source, size_t len, int *env_ref,
               char *err, size_t errlen);

/* Arm the limits for one call: the budget starts again, the flags clear. */
void rn_vm_arm(rn_vm *vm);
/* Protected call of the function below nargs arguments on the stack with a traceback
 * handler. 0, or -1 with "script:line: message" and the traceback in err (and the stack
 * back to where the function was). */
int rn_vm_pcall(rn_vm *vm, const char *script, int nargs, int nresults, char *err, size_t errlen);

/* A module's source from the host's registry (plugins/host.c): read and compiled on
 * first use, re-read by reloads, so every state requires the same version. malloc'd;
 * NULL with the reason in err. */
char *rn_plugins_module_source(rn_plugins *p, const char *rel, size_t *len, char *err,
                               size_t errlen);

/* ---- host services for processor_lua.c (host.c) ---- */
/* A state of the host's limits, owned by the caller (rn_vm_free). */
rn_vm *rn_plugins_vm_new(rn_plugins *p);
/* Push the script's environment in vm (loading the registry's version). 0 or -1 + err. */
int rn_plugins_push_env(rn_plugins *p, rn_vm *vm, const char *script, char *err, size_t errlen);
/* Count a call and its time / a failed call (poisons vm when it broke the memory cap). */
void rn_plugins_count_call(rn_plugins *p, int64_t us);
void rn_plugins_count_failure(rn_plugins *p, rn_vm *vm);
int64_t rn_plugins_mono_us(void);
/* Push a record table as hooks get it. */
void rn_plugins_push_record(lua_State *L, const rn_plugin_record *r);

/* The runnel module (plugins/runnel_lib.c): pushes the table. */
int rn_vm_open_runnel(lua_State *L);

#endif
