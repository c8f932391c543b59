/* cli/json.c: the streaming JSON writer (see json.h). */
#include "json.h"

#include <inttypes.h>
#include <string.h>

void cli_json_init(cli_json *j, FILE *f) {
    memset(j, 0, sizeof *j);
    j->f = f;
}

/* Before any value: a comma if this depth already holds one (not after a key). */
static void before_value(cli_json *j) {
    if (j->after_key) {
        j->after_key = 0;
        return;
    }
    if (j->need_comma[j->depth]) fputc(',', j->f);
    j->need_comma[j->depth] = 1;
}

static void open_container(cli_json *j, char c) {
    before_value(j);
    fputc(c, j->f);
    if (j->depth + 1 < CLI_JSON_MAX_DEPTH) j->depth++;
    j->need_comma[j->depth] = 0;
}

static void close_container(cli_json *j, char c) {
    fputc(c, j->f);
    if (j->depth > 0) j->depth--;
}

void cli_json_begin_object(cli_json *j) { open_container(j, '{'); }
void cli_json_end_object(cli_json *j) { close_container(j, '}'); }
void cli_json_begin_array(cli_json *j) { open_container(j, '['); }
void cli_json_end_array(cli_json *j) { close_container(j, ']'); }

static void write_escaped(FILE *f, const char *s, size_t n) {
    fputc('"', f);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        case '\b': fputs("\\b", f); break;
        case '\f': fputs("\\f", f); break;
        default:
            if (c < 0x20 || c == 0x7f)
                fprintf(f, "\\u%04x", c);
            else
                fputc(c, f);
        }
    }
    fputc('"', f);
}

void cli_json_key(cli_json *j, const char *key) {
    before_value(j);
    write_escaped(j->f, key, strlen(key));
    fputc(':', j->f);
    j->after_key = 1;
}

void cli_json_string_len(cli_json *j, const char *s, size_t n) {
    before_value(j);
    write_escaped(j->f, s, n);
}

void cli_json_string(cli_json *j, const char *s) {
    if (!s) {
        cli_json_null(j);
        return;
    }
    cli_json_string_len(j, s, strlen(s));
}

void cli_json_int(cli_json *j, int64_t v) {
    before_value(j);
    fprintf(j->f, "%" PRId64, v);
}

void cli_json_bool(cli_json *j, int v) {
    before_value(j);
    fputs(v ? "true" : "false", j->f);
}

void cli_json_null(cli_json *j) {
    before_value(j);
    fputs("null", j->f);
}

void cli_json_newline(cli_json *j) {
    fputc('\n', j->f);
    j->need_comma[0] = 0;
}

int cli_utf8_valid(const unsigned char *p, size_t n) {
    size_t i = 0;
    while (i < n) {
        unsigned char c = p[i];
        size_t len;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            len = 2;
            cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            len = 3;
            cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            len = 4;
            cp = c & 0x07;
        } else {
            return 0;
        }
        if (i + len > n) return 0;
        for (size_t k = 1; k < len; k++) {
            if ((p[i + k] & 0xc0) != 0x80) return 0;
            cp = (cp << 6) | (p[i + k] & 0x3f);
        }
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += len;
    }
    return 1;
}

static void write_base64(FILE *f, const unsigned char *p, size_t n) {
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    fputc('"', f);
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n) v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < n) v |= p[i + 2];
        fputc(tab[(v >> 18) & 63], f);
        fputc(tab[(v >> 12) & 63], f);
        fputc(i + 1 < n ? tab[(v >> 6) & 63] : '=', f);
        fputc(i + 2 < n ? tab[v & 63] : '=', f);
    }
    fputc('"', f);
}

void cli_json_bytes_field(cli_json *j, const char *key, const void *p, size_t n) {
    cli_json_key(j, key);
    if (!p) {
        cli_json_null(j);
        return;
    }
    if (cli_utf8_valid(p, n)) {
        cli_json_string_len(j, p, n);
        return;
    }
    cli_json_null(j);
    char k2[128];
    snprintf(k2, sizeof k2, "%s_base64", key);
    cli_json_key(j, k2);
    before_value(j);
    write_base64(j->f, p, n);
}
