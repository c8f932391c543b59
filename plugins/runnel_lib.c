/* plugins/runnel_lib.c: the `runnel` module scripts get: the Java client's murmur2 (so a
 * broker-side partitioner places keys exactly where Java producers do), crc32, the clock
 * and the broker's log. */
#include <lauxlib.h>
#include <stdint.h>
#include <time.h>
#include <zlib.h>

#include "murmur2.h"
#include "rnlog.h"
#include "vm.h"

static int l_murmur2(lua_State *L) {
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    lua_pushinteger(L, rn_murmur2((const uint8_t *)s, len));
    return 1;
}

static int l_crc32(lua_State *L) {
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    lua_pushinteger(L, (lua_Integer)crc32(0L, (const Bytef *)s, (uInt)len));
    return 1;
}

static int l_now_ms(lua_State *L) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    lua_pushinteger(L, (lua_Integer)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
    return 1;
}

/* runnel.log(level, msg): level is "error", "warn", "info" or "debug". The line names
 * the script and line that logged. */
static int l_log(lua_State *L) {
    const char *level = luaL_checkstring(L, 1);
    const char *msg = luaL_checkstring(L, 2);
    int lv = rn_log_level_parse(level);
    if (lv < 0) return luaL_error(L, "runnel.log: unknown level '%s'", level);
    luaL_where(L, 1);
    rn_log_write((enum rn_log_level)lv, "lua %s%s", lua_tostring(L, -1), msg);
    return 0;
}

int rn_vm_open_runnel(lua_State *L) {
    static const luaL_Reg fns[] = {{"murmur2", l_murmur2}, {"crc32", l_crc32},
                                   {"now_ms", l_now_ms},   {"log", l_log},
                                   {NULL, NULL}};
    luaL_newlib(L, fns);
    return 1;
}
