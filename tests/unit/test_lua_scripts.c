/* tests/unit/test_lua_scripts.c: the shipped Lua scripts (lua/) and their Lua unit tests.
 *
 * Every tests/lua/test_*.lua runs in a sandboxed state made by rn_vm_new with plugins.dir
 * = the repo's lua/ folder, so the tests see exactly what scripts see (cjson, runnel, no
 * io). Each test file gets a global `test`:
 *   test.load(name)          run lua/<name> in a fresh sandbox environment, return it
 *                            (env.partition(...), env.filter(...))
 *   test.case(name, fn)      run fn; a failure is recorded with its message and traceback,
 *                            and the file goes on with the next case
 *   test.eq(a, b [, what])   a == b (and the same math.type)
 *   test.same(a, b [, what]) deep equality of tables
 *   test.ok(v [, what])      v is truthy
 *   test.err(fn, text, ...)  fn(...) raises an error whose message contains text; returns it
 *   test.record{...}         a record table as the host builds it (defaults filled in)
 *   test.cost(fn, ...)       VM instructions fn(...) took (to the nearest 1000), the unit
 *                            of plugins.instruction.budget
 *   test.processor(script, options, inputs, outputs [, setup])
 *                            a stream processor (lua/<script>) run by a fake of the
 *                            broker's runtime: a ctx with state, emits and timers, fed
 *                            record by record (tests/lua/lib/processor.lua says how)
 * A failure names the test file and line. The last tests run the scripts through the
 * real host (plugins.h) to check the C side reads what they return. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <glob.h>
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugins.h"
#include "vm.h"

#define LUA_DIR RUNNEL_LUA_DIR
#define LUA_TESTS_DIR RUNNEL_LUA_DIR "/../tests/lua"
#define PROCESSOR_LIB LUA_TESTS_DIR "/lib/processor.lua"
#define CASE_BUDGET 200000000    /* instructions per test case: catches a script that loops */
#define STATE_MEMORY (256u << 20)

/* ---- the harness -------------------------------------------------------------------- */

typedef struct {
    rn_plugins *host; /* owns the state: require() of lib/ modules goes through it */
    rn_vm *vm;
    int cases, failed;
    char report[16384];
    size_t used;
} harness;

static void report_add(harness *h, const char *fmt, const char *a, const char *b) {
    if (h->used >= sizeof h->report - 1) return;
    int n = snprintf(h->report + h->used, sizeof h->report - h->used, fmt, a, b);
    if (n > 0) h->used += (size_t)n;
    if (h->used > sizeof h->report - 1) h->used = sizeof h->report - 1;
}

static char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n == cap) {
            cap = cap ? cap * 2 : 8192;
            char *nb = realloc(buf, cap + 1);
            if (!nb) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = nb;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0) break;
    }
    fclose(f);
    buf[n] = 0;
    *len = n;
    return buf;
}

static int traceback(lua_State *L) {
    const char *msg = lua_tostring(L, 1);
    if (!msg) msg = luaL_typename(L, 1);
    luaL_traceback(L, L, msg, 1);
    return 1;
}

/* test.load(name): the environment of lua/<name> run in a fresh sandbox environment. */
static int t_load(lua_State *L) {
    harness *h = lua_touserdata(L, lua_upvalueindex(1));
    const char *name = luaL_checkstring(L, 1);
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", h->vm->dir, name);
    size_t len;
    char *src = slurp(path, &len);
    if (!src) return luaL_error(L, "test.load: cannot read %s", path);
    char err[4096];
    int env;
    int rc = rn_vm_load(h->vm, name, src, len, &env, err, sizeof err);
    free(src);
    if (rc != 0) {
        lua_pushfstring(L, "test.load(%s): %s", name, err);
        return lua_error(L);
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, env);
    luaL_unref(L, LUA_REGISTRYINDEX, env);
    return 1;
}

/* test.case(name, fn): run fn under a fresh budget, recording a failure. */
static int t_case(lua_State *L) {
    harness *h = lua_touserdata(L, lua_upvalueindex(1));
    const char *name = luaL_checkstring(L, 1);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    h->cases++;
    lua_pushcfunction(L, traceback);
    lua_pushvalue(L, 2);
    rn_vm_arm(h->vm);
    int st = lua_pcall(L, 0, 0, -2);
    bool stopped = h->vm->over_budget || h->vm->over_memory;
    rn_vm_arm(h->vm); /* a case that broke a limit must not stop the next */
    if (st != LUA_OK) {
        h->failed++;
        report_add(h, "\n  case '%s' failed: %s", name, lua_tostring(L, -1) ? lua_tostring(L, -1) : "?");
        if (stopped) report_add(h, "%s%s", " (a sandbox limit stopped it)", "");
    }
    lua_settop(L, 2);
    return 0;
}

/* test.cost(fn, ...): the instructions fn(...) took, counted by the budget hook. */
static int t_cost(lua_State *L) {
    harness *h = lua_touserdata(L, lua_upvalueindex(1));
    luaL_checktype(L, 1, LUA_TFUNCTION);
    int64_t before = h->vm->spent;
    h->vm->spent = 0;
    lua_call(L, lua_gettop(L) - 1, 0);
    int64_t used = h->vm->spent;
    h->vm->spent = before + used;
    lua_pushinteger(L, (lua_Integer)used);
    return 1;
}

/* The helpers written in Lua: they raise errors at the caller's line (level 2). */
static const char prelude[] =
    "local test = ...\n"
    "local function show(v)\n"
    "  if type(v) == 'string' then return string.format('%q', v) end\n"
    "  if math.type(v) == 'float' then\n"
    "    local s = string.format('%.17g', v)\n"
    "    return s:find('[.eni]') and s or s .. '.0'\n"
    "  end\n"
    "  return tostring(v)\n"
    "end\n"
    "test.show = show\n"
    "local function prefix(what) return what and (what .. ': ') or '' end\n"
    "function test.eq(a, b, what)\n"
    "  if a ~= b or math.type(a) ~= math.type(b) then\n"
    "    error(prefix(what) .. 'expected ' .. show(b) .. ', got ' .. show(a), 2)\n"
    "  end\n"
    "end\n"
    "local function diff(a, b, path)\n"
    "  if type(a) ~= 'table' or type(b) ~= 'table' then\n"
    "    if a ~= b or math.type(a) ~= math.type(b) then\n"
    "      return path .. ': expected ' .. show(b) .. ', got ' .. show(a)\n"
    "    end\n"
    "    return nil\n"
    "  end\n"
    "  for k, v in pairs(b) do\n"
    "    local d = diff(a[k], v, path .. '[' .. show(k) .. ']')\n"
    "    if d then return d end\n"
    "  end\n"
    "  for k, v in pairs(a) do\n"
    "    if b[k] == nil then return path .. '[' .. show(k) .. ']: unexpected ' .. show(v) end\n"
    "  end\n"
    "  return nil\n"
    "end\n"
    "function test.same(a, b, what)\n"
    "  local d = diff(a, b, what or 'value')\n"
    "  if d then error(d, 2) end\n"
    "end\n"
    "function test.ok(v, what)\n"
    "  if not v then error(prefix(what) .. 'expected a true value, got ' .. show(v), 2) end\n"
    "  return v\n"
    "end\n"
    "function test.err(fn, text, ...)\n"
    "  local ok, e = pcall(fn, ...)\n"
    "  if ok then error('expected an error mentioning ' .. show(text) .. ', got none', 2) end\n"
    "  e = tostring(e)\n"
    "  if text and not string.find(e, text, 1, true) then\n"
    "    error('expected an error mentioning ' .. show(text) .. ', got: ' .. e, 2)\n"
    "  end\n"
    "  return e\n"
    "end\n"
    "function test.record(t)\n"
    "  local r = {topic = 'orders', timestamp = 1700000000000, headers = {}}\n"
    "  for k, v in pairs(t or {}) do r[k] = v end\n"
    "  for _, h in ipairs(r.headers) do\n"
    "    if h.name == nil then h.name = h[1] end\n"
    "    if h.value == nil then h.value = h[2] end\n"
    "  end\n"
    "  return r\n"
    "end\n";

/* Run one test file's source; 0 when every case passed and the file ran to its end. The
 * report says what failed. */
static int run_lua_test(const char *chunkname, const char *src, size_t len, int64_t budget, harness *h) {
    memset(h, 0, sizeof *h);
    /* A host owns the state, so require() finds lib/ modules through its registry, as in
     * the broker. */
    rn_plugins_options po = {.dir = LUA_DIR, .instruction_budget = budget, .memory_limit = STATE_MEMORY};
    char perr[256];
    cr_assert_eq(rn_plugins_open(&po, &h->host, perr, sizeof perr), RN_KAFKA_NONE, "%s", perr);
    h->vm = rn_vm_new(h->host, LUA_DIR, budget, STATE_MEMORY);
    cr_assert_not_null(h->vm, "rn_vm_new failed");
    lua_State *L = h->vm->L;
    char err[8192];
    int env;
    /* A fresh sandbox environment: the one an empty chunk ran in. */
    cr_assert_eq(rn_vm_load(h->vm, "(test environment)", "", 0, &env, err, sizeof err), 0, "%s", err);
    lua_rawgeti(L, LUA_REGISTRYINDEX, env);
    luaL_unref(L, LUA_REGISTRYINDEX, env);
    int envi = lua_gettop(L);

    lua_newtable(L);
    const luaL_Reg fns[] = {{"load", t_load}, {"case", t_case}, {"cost", t_cost}, {NULL, NULL}};
    lua_pushlightuserdata(L, h);
    luaL_setfuncs(L, fns, 1);
    lua_pushstring(L, chunkname[0] == '@' ? chunkname + 1 : chunkname);
    lua_setfield(L, -2, "name");
    lua_pushvalue(L, -1);
    lua_setfield(L, envi, "test");
    int testi = lua_gettop(L);

    cr_assert_eq(luaL_loadbufferx(L, prelude, sizeof prelude - 1, "=test.prelude", "t"), LUA_OK,
                 "%s", lua_tostring(L, -1));
    lua_pushvalue(L, envi);
    lua_setupvalue(L, -2, 1);
    lua_pushvalue(L, testi);
    rn_vm_arm(h->vm);
    cr_assert_eq(rn_vm_pcall(h->vm, "test.prelude", 1, 0, err, sizeof err), 0, "%s", err);

    /* test.processor: the fake processor runtime, in Lua, run with the test table. */
    size_t plen;
    char *psrc = slurp(PROCESSOR_LIB, &plen);
    cr_assert_not_null(psrc, "cannot read %s", PROCESSOR_LIB);
    int st = luaL_loadbufferx(L, psrc, plen, "@tests/lua/lib/processor.lua", "t");
    free(psrc);
    cr_assert_eq(st, LUA_OK, "%s", lua_tostring(L, -1));
    lua_pushvalue(L, envi);
    lua_setupvalue(L, -2, 1);
    lua_pushvalue(L, testi);
    rn_vm_arm(h->vm);
    cr_assert_eq(rn_vm_pcall(h->vm, PROCESSOR_LIB, 1, 0, err, sizeof err), 0, "%s", err);

    int rc = 0;
    if (luaL_loadbufferx(L, src, len, chunkname, "t") != LUA_OK) {
        report_add(h, "\n  %s%s", lua_tostring(L, -1), "");
        rc = -1;
    } else {
        lua_pushvalue(L, envi);
        lua_setupvalue(L, -2, 1);
        rn_vm_arm(h->vm);
        if (rn_vm_pcall(h->vm, chunkname, 0, 0, err, sizeof err) != 0) {
            report_add(h, "\n  the file stopped: %s%s", err, "");
            rc = -1;
        }
    }
    if (h->failed) rc = -1;
    rn_vm_free(h->vm);
    rn_plugins_close(h->host);
    h->vm = NULL;
    return rc;
}

/* ---- one Criterion test per tests/lua/test_*.lua ------------------------------------ */

struct lua_test_file {
    char name[256];
};

static void free_files(struct criterion_test_params *params) { cr_free(params->params); }

static size_t find_test_files(glob_t *g) {
    if (glob(LUA_TESTS_DIR "/test_*.lua", 0, NULL, g) != 0) return 0;
    return g->gl_pathc;
}

ParameterizedTestParameters(lua, tests) {
    glob_t g;
    size_t n = find_test_files(&g);
    struct lua_test_file *files = cr_malloc(sizeof *files * (n ? n : 1));
    for (size_t i = 0; i < n; i++) {
        const char *base = strrchr(g.gl_pathv[i], '/');
        snprintf(files[i].name, sizeof files[i].name, "%s", base ? base + 1 : g.gl_pathv[i]);
    }
    if (n) globfree(&g);
    return cr_make_param_array(struct lua_test_file, files, n, free_files);
}

ParameterizedTest(struct lua_test_file *f, lua, tests) {
    char path[4096], chunkname[300];
    snprintf(path, sizeof path, "%s/%s", LUA_TESTS_DIR, f->name);
    snprintf(chunkname, sizeof chunkname, "@tests/lua/%s", f->name);
    size_t len;
    char *src = slurp(path, &len);
    cr_assert_not_null(src, "cannot read %s", path);
    harness *h = malloc(sizeof *h);
    cr_assert_not_null(h);
    int rc = run_lua_test(chunkname, src, len, CASE_BUDGET, h);
    free(src);
    cr_log_info("%s: %d cases, %d failed", f->name, h->cases, h->failed);
    cr_expect_eq(rc, 0, "tests/lua/%s: %d of %d cases failed:%s", f->name, h->failed, h->cases,
                 h->report);
    cr_expect_gt(h->cases, 0, "tests/lua/%s ran no test.case", f->name);
    free(h);
}

/* The discovery found the files (a wrong path must not pass by running nothing). */
Test(lua, test_files_found) {
    glob_t g;
    size_t n = find_test_files(&g);
    cr_assert_geq(n, 5, "found %zu files matching %s/test_*.lua", n, LUA_TESTS_DIR);
    globfree(&g);
}

/* The harness itself: failures are counted, named with file:line, and do not stop the
 * other cases; a top-level error stops the file; a runaway case is stopped by the budget. */
Test(lua, harness_reports_failures) {
    static const char src[] =
        "test.case('passes', function() test.eq(1 + 1, 2) end)\n"
        "test.case('fails', function()\n"
        "  test.eq(1 + 1, 3, 'sum')\n"
        "end)\n"
        "test.case('loops', function() while true do end end)\n"
        "test.case('float is not integer', function() test.eq(2.0, 2) end)\n"
        "test.case('deep', function() test.same({a = {1, 2}}, {a = {1, 3}}) end)\n"
        "test.case('after', function() test.ok(test.load('partitioners/murmur2.lua').partition) end)\n";
    harness *h = malloc(sizeof *h);
    cr_assert_not_null(h);
    cr_assert_neq(run_lua_test("@tests/lua/inline.lua", src, sizeof src - 1, 1000000, h), 0);
    cr_assert_eq(h->cases, 6);
    cr_assert_eq(h->failed, 4, "%s", h->report);
    cr_assert_not_null(strstr(h->report, "tests/lua/inline.lua:3: sum: expected 3, got 2"), "%s", h->report);
    cr_assert_not_null(strstr(h->report, "case 'loops' failed"), "%s", h->report);
    cr_assert_not_null(strstr(h->report, "instruction budget"), "%s", h->report);
    cr_assert_not_null(strstr(h->report, "expected 2, got 2.0"), "%s", h->report);
    cr_assert_not_null(strstr(h->report, "value[\"a\"][2]: expected 3, got 2"), "%s", h->report);
    cr_assert_null(strstr(h->report, "'after'"), "%s", h->report);

    static const char stops[] = "test.case('one', function() end)\nerror('top level')\n"
                                "test.case('never', function() end)\n";
    cr_assert_neq(run_lua_test("@tests/lua/stops.lua", stops, sizeof stops - 1, 1000000, h), 0);
    cr_assert_eq(h->cases, 1);
    cr_assert_not_null(strstr(h->report, "tests/lua/stops.lua:2: top level"), "%s", h->report);

    static const char badload[] = "test.case('x', function() test.load('nope/none.lua') end)\n";
    cr_assert_neq(run_lua_test("@tests/lua/badload.lua", badload, sizeof badload - 1, 1000000, h), 0);
    cr_assert_not_null(strstr(h->report, "cannot read"), "%s", h->report);
    free(h);
}

/* ---- the scripts through the real host ---------------------------------------------- */

static rn_plugins *open_host(void) {
    rn_plugins_options o = {.dir = LUA_DIR, .instruction_budget = 1000000, .memory_limit = 32u << 20};
    rn_plugins *p = NULL;
    char err[512];
    cr_assert_eq(rn_plugins_open(&o, &p, err, sizeof err), RN_KAFKA_NONE, "%s", err);
    return p;
}

static rn_plugin_record text_record(const char *key, const char *value) {
    rn_plugin_record r = {.topic = "orders", .partition = -1, .offset = -1, .timestamp = 1700000000000};
    if (key) {
        r.key = (const uint8_t *)key;
        r.key_len = (int32_t)strlen(key);
    } else {
        r.key_len = -1;
    }
    if (value) {
        r.value = (const uint8_t *)value;
        r.value_len = (int32_t)strlen(value);
    } else {
        r.value_len = -1;
    }
    return r;
}

static bool bytes_eq(const uint8_t *b, int32_t len, const char *s) {
    return b && len == (int32_t)strlen(s) && memcmp(b, s, (size_t)len) == 0;
}

Test(lua_host, shipped_scripts_pass_the_host_check) {
    rn_plugins *p = open_host();
    static const char *const scripts[][2] = {
        {"partitioners/murmur2.lua", "partition"},     {"partitioners/json_field.lua", "partition"},
        {"filters/require_json_fields.lua", "filter"}, {"filters/redact.lua", "filter"},
        {"filters/field_equals.lua", "filter"},
        {"processors/windowed_aggregate.lua", "process"},
        {"processors/windowed_aggregate.lua", "on_timer"},
        {"processors/enrich_join.lua", "process"},
        {"processors/router.lua", "process"},
        {"processors/stock.lua", "process"},
        {"processors/revenue_per_minute.lua", "process"},
        {"processors/revenue_per_minute.lua", "on_timer"},
    };
    for (size_t i = 0; i < sizeof scripts / sizeof scripts[0]; i++) {
        char err[1024] = "";
        cr_expect_eq(rn_plugins_check(p, scripts[i][0], scripts[i][1], err, sizeof err), RN_KAFKA_NONE,
                     "%s: %s", scripts[i][0], err);
    }
    rn_plugins_close(p);
}

Test(lua_host, partitioners_through_the_host) {
    rn_plugins *p = open_host();
    char err[2048] = "";
    int32_t idx = -1;
    rn_plugin_config none = {0};

    /* Java: toPositive(murmur2("21")) = 1173551340; % 7 = 3, % 17 = 13 */
    rn_plugin_record r = text_record("21", NULL);
    cr_assert_eq(rn_plugins_partition(p, "partitioners/murmur2.lua", &r, 7, &none, &idx, err, sizeof err),
                 RN_KAFKA_NONE, "%s", err);
    cr_expect_eq(idx, 3);
    cr_assert_eq(rn_plugins_partition(p, "partitioners/murmur2.lua", &r, 17, &none, &idx, err, sizeof err),
                 RN_KAFKA_NONE, "%s", err);
    cr_expect_eq(idx, 13);
    /* a null key keeps the producer's partition; unknown (-1): 0 */
    r = text_record(NULL, "v");
    r.partition = 5;
    cr_assert_eq(rn_plugins_partition(p, "partitioners/murmur2.lua", &r, 7, &none, &idx, err, sizeof err),
                 RN_KAFKA_NONE, "%s", err);
    cr_expect_eq(idx, 5);
    r.partition = -1;
    cr_assert_eq(rn_plugins_partition(p, "partitioners/murmur2.lua", &r, 7, &none, &idx, err, sizeof err),
                 RN_KAFKA_NONE, "%s", err);
    cr_expect_eq(idx, 0);

    /* json_field: {"user":"user-1"} lands where key "user-1" does: 1404122828 % 12 = 8 */
    const char *names[] = {"partitioner.field"}, *values[] = {"user"};
    rn_plugin_config cfg = {names, values, 1};
    r = text_record(NULL, "{\"id\": 7, \"user\": \"user-1\"}");
    cr_assert_eq(rn_plugins_partition(p, "partitioners/json_field.lua", &r, 12, &cfg, &idx, err, sizeof err),
                 RN_KAFKA_NONE, "%s", err);
    cr_expect_eq(idx, 8);
    r = text_record(NULL, "{\"id\": 7}");
    cr_assert_eq(rn_plugins_partition(p, "partitioners/json_field.lua", &r, 12, &cfg, &idx, err, sizeof err),
                 RN_KAFKA_INVALID_RECORD);
    cr_expect_not_null(strstr(err, "partitioners/json_field.lua:"), "%s", err);
    cr_expect_not_null(strstr(err, "no field 'user'"), "%s", err);
    rn_plugins_close(p);
}

Test(lua_host, filters_through_the_host) {
    rn_plugins *p = open_host();
    char err[2048] = "";
    rn_plugin_record_out out = {0};
    const char *names[] = {"produce.filter.fields"}, *values[] = {"password, card"};
    rn_plugin_config cfg = {names, values, 1};

    /* redact: the value edited in place, the header appended, key/timestamp/headers kept */
    rn_plugin_header hs[] = {{(const uint8_t *)"trace", 5, (const uint8_t *)"abc", 3},
                             {(const uint8_t *)"nullh", 5, NULL, -1}};
    rn_plugin_record r = text_record("k1", "{\"user\":\"ann\",\"password\":\"hunter2\",\"n\":123456789012345678}");
    r.headers = hs;
    r.nheaders = 2;
    enum rn_filter_verdict v = rn_plugins_filter(p, "filters/redact.lua", &r, &cfg, &out, err, sizeof err);
    cr_assert_eq(v, RN_FILTER_REWRITE, "verdict %d: %s", v, err);
    cr_expect(bytes_eq(out.rec.value, out.rec.value_len,
                       "{\"user\":\"ann\",\"password\":\"***\",\"n\":123456789012345678}"));
    cr_expect(bytes_eq(out.rec.key, out.rec.key_len, "k1"));
    cr_expect_eq(out.rec.timestamp, 1700000000000);
    cr_assert_eq(out.rec.nheaders, 3);
    cr_expect(bytes_eq(out.rec.headers[0].name, out.rec.headers[0].name_len, "trace"));
    cr_expect(bytes_eq(out.rec.headers[0].value, out.rec.headers[0].value_len, "abc"));
    cr_expect(bytes_eq(out.rec.headers[1].name, out.rec.headers[1].name_len, "nullh"));
    cr_expect_null(out.rec.headers[1].value);
    cr_expect(bytes_eq(out.rec.headers[2].name, out.rec.headers[2].name_len, "redacted"));
    cr_expect(bytes_eq(out.rec.headers[2].value, out.rec.headers[2].value_len, "password"));
    rn_plugin_record_out_free(&out);
    r = text_record("k1", "{\"user\":\"ann\"}");
    cr_expect_eq(rn_plugins_filter(p, "filters/redact.lua", &r, &cfg, &out, err, sizeof err), RN_FILTER_KEEP,
                 "%s", err);

    /* require_json_fields: the reason reaches the caller */
    r = text_record(NULL, "{\"password\": \"x\"}");
    cr_expect_eq(rn_plugins_filter(p, "filters/require_json_fields.lua", &r, &cfg, &out, err, sizeof err),
                 RN_FILTER_REJECT);
    cr_expect_str_eq(err, "value is missing required field 'card'");
    r = text_record(NULL, "not json");
    cr_expect_eq(rn_plugins_filter(p, "filters/require_json_fields.lua", &r, &cfg, &out, err, sizeof err),
                 RN_FILTER_REJECT);
    cr_expect_str_eq(err, "value is not a JSON object");
    r = text_record(NULL, "{\"card\": 1, \"password\": null}");
    cr_expect_eq(rn_plugins_filter(p, "filters/require_json_fields.lua", &r, &cfg, &out, err, sizeof err),
                 RN_FILTER_KEEP, "%s", err);

    /* field_equals */
    const char *vnames[] = {"view.filter.field", "view.filter.value"}, *vvalues[] = {"country", "NO"};
    rn_plugin_config vcfg = {vnames, vvalues, 2};
    r = text_record(NULL, "{\"country\": \"NO\"}");
    r.partition = 3;
    r.offset = 42;
    cr_expect_eq(rn_plugins_filter(p, "filters/field_equals.lua", &r, &vcfg, &out, err, sizeof err),
                 RN_FILTER_KEEP, "%s", err);
    r = text_record(NULL, "{\"country\": \"SE\"}");
    cr_expect_eq(rn_plugins_filter(p, "filters/field_equals.lua", &r, &vcfg, &out, err, sizeof err),
                 RN_FILTER_DROP, "%s", err);
    r = text_record(NULL, NULL);
    cr_expect_eq(rn_plugins_filter(p, "filters/field_equals.lua", &r, &vcfg, &out, err, sizeof err),
                 RN_FILTER_DROP, "%s", err);
    /* a config the script needs is missing: an error naming the script and the key */
    r = text_record(NULL, "{\"country\": \"NO\"}");
    cr_expect_eq(rn_plugins_filter(p, "filters/field_equals.lua", &r, &cfg, &out, err, sizeof err),
                 RN_FILTER_ERROR);
    cr_expect_not_null(strstr(err, "filters/field_equals.lua:"), "%s", err);
    cr_expect_not_null(strstr(err, "view.filter.field"), "%s", err);
    rn_plugins_close(p);
}
