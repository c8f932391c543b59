/* cli/record_format.c: templates and JSON lines for consumed records (see
 * record_format.h). */
#include "record_format.h"

#include <inttypes.h>
#include <string.h>

#include "json.h"

const char *cli_format_check(const char *fmt) {
    for (const char *p = fmt; *p; p++) {
        if (*p == '%') {
            if (!p[1] || !strchr("kvpothT%", p[1])) return "unknown placeholder (use %k %v %p %o %t %h %T %%)";
            p++;
        } else if (*p == '\\') {
            if (!p[1] || !strchr("nt\\", p[1])) return "unknown escape (use \\n \\t \\\\)";
            p++;
        }
    }
    return NULL;
}

static void write_headers(FILE *f, const rd_kafka_message_t *m) {
    rd_kafka_headers_t *hdrs = NULL;
    if (rd_kafka_message_headers(m, &hdrs) || !hdrs) return;
    const char *name;
    const void *val;
    size_t size;
    for (size_t i = 0; !rd_kafka_header_get_all(hdrs, i, &name, &val, &size); i++) {
        fprintf(f, "%s%s=", i ? "," : "", name);
        if (val) fwrite(val, 1, size, f);
    }
}

void cli_format_record(FILE *f, const char *fmt, const rd_kafka_message_t *m) {
    rd_kafka_timestamp_type_t tstype;
    for (const char *p = fmt; *p; p++) {
        if (*p == '\\' && p[1]) {
            p++;
            fputc(*p == 'n' ? '\n' : *p == 't' ? '\t' : *p, f);
            continue;
        }
        if (*p != '%' || !p[1]) {
            fputc(*p, f);
            continue;
        }
        switch (*++p) {
        case 'k':
            if (m->key) fwrite(m->key, 1, m->key_len, f);
            break;
        case 'v':
            if (m->payload) fwrite(m->payload, 1, m->len, f);
            break;
        case 'p': fprintf(f, "%" PRId32, m->partition); break;
        case 'o': fprintf(f, "%" PRId64, m->offset); break;
        case 't': fprintf(f, "%" PRId64, rd_kafka_message_timestamp(m, &tstype)); break;
        case 'h': write_headers(f, m); break;
        case 'T': fputs(rd_kafka_topic_name(m->rkt), f); break;
        default: fputc(*p, f); break;
        }
    }
}

void cli_json_record(FILE *f, const rd_kafka_message_t *m) {
    rd_kafka_timestamp_type_t tstype;
    cli_json j;
    cli_json_init(&j, f);
    cli_json_begin_object(&j);
    cli_json_key(&j, "topic");
    cli_json_string(&j, rd_kafka_topic_name(m->rkt));
    cli_json_key(&j, "partition");
    cli_json_int(&j, m->partition);
    cli_json_key(&j, "offset");
    cli_json_int(&j, m->offset);
    cli_json_key(&j, "timestamp");
    cli_json_int(&j, rd_kafka_message_timestamp(m, &tstype));
    cli_json_bytes_field(&j, "key", m->key, m->key_len);
    cli_json_bytes_field(&j, "value", m->payload, m->len);
    cli_json_key(&j, "headers");
    cli_json_begin_array(&j);
    rd_kafka_headers_t *hdrs = NULL;
    if (!rd_kafka_message_headers(m, &hdrs) && hdrs) {
        const char *name;
        const void *val;
        size_t size;
        for (size_t i = 0; !rd_kafka_header_get_all(hdrs, i, &name, &val, &size); i++) {
            cli_json_begin_object(&j);
            cli_json_key(&j, "key");
            cli_json_string(&j, name);
            cli_json_bytes_field(&j, "value", val, size);
            cli_json_end_object(&j);
        }
    }
    cli_json_end_array(&j);
    cli_json_end_object(&j);
    cli_json_newline(&j);
}
