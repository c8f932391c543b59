/* cli/json.h: a small streaming JSON writer for the CLI's --json output: objects,
 * arrays, keys and scalars, with the commas placed for you and strings escaped. */
#ifndef RUNNEL_CLI_JSON_H
#define RUNNEL_CLI_JSON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CLI_JSON_MAX_DEPTH 32

typedef struct {
    FILE *f;
    int depth;
    int after_key;                         /* the next value follows "key": */
    int need_comma[CLI_JSON_MAX_DEPTH];    /* a value was written at this depth */
} cli_json;

void cli_json_init(cli_json *j, FILE *f);
void cli_json_begin_object(cli_json *j);
void cli_json_end_object(cli_json *j);
void cli_json_begin_array(cli_json *j);
void cli_json_end_array(cli_json *j);
void cli_json_key(cli_json *j, const char *key);
void cli_json_string(cli_json *j, const char *s);                /* NULL writes null */
void cli_json_string_len(cli_json *j, const char *s, size_t n);  /* bytes taken as UTF-8 */
void cli_json_int(cli_json *j, int64_t v);
void cli_json_bool(cli_json *j, int v);
void cli_json_null(cli_json *j);
/* Ends a top-level document with a newline. */
void cli_json_newline(cli_json *j);

/* Bytes: a JSON string when they are valid UTF-8, else a base64 string under
 * "<key>_base64" with "<key>": null. Writes the key itself. */
void cli_json_bytes_field(cli_json *j, const char *key, const void *p, size_t n);
int cli_utf8_valid(const unsigned char *p, size_t n);

#endif
