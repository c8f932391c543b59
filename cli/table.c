/* cli/table.c: aligned text columns (see table.h). */
#include "table.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

struct cli_table {
    int ncols;
    size_t nrows, cap;
    char **cells; /* (nrows + 1) * ncols, row 0 is the header */
};

static void add_row(cli_table *t, va_list ap) {
    if (t->nrows + 1 >= t->cap) {
        t->cap = t->cap ? t->cap * 2 : 8;
        t->cells = realloc(t->cells, t->cap * (size_t)t->ncols * sizeof *t->cells);
        if (!t->cells) abort();
    }
    for (int c = 0; c < t->ncols; c++) {
        const char *s = va_arg(ap, const char *);
        t->cells[t->nrows * (size_t)t->ncols + (size_t)c] = strdup(s ? s : "-");
    }
    t->nrows++;
}

cli_table *cli_table_new(int ncols, ...) {
    cli_table *t = calloc(1, sizeof *t);
    if (!t) abort();
    t->ncols = ncols;
    va_list ap;
    va_start(ap, ncols);
    add_row(t, ap);
    va_end(ap);
    return t;
}

void cli_table_add(cli_table *t, ...) {
    va_list ap;
    va_start(ap, t);
    add_row(t, ap);
    va_end(ap);
}

void cli_table_print(const cli_table *t, FILE *f) {
    size_t *w = calloc((size_t)t->ncols, sizeof *w);
    if (!w) abort();
    for (size_t r = 0; r < t->nrows; r++)
        for (int c = 0; c < t->ncols; c++) {
            size_t l = strlen(t->cells[r * (size_t)t->ncols + (size_t)c]);
            if (l > w[c]) w[c] = l;
        }
    for (size_t r = 0; r < t->nrows; r++) {
        for (int c = 0; c < t->ncols; c++) {
            const char *s = t->cells[r * (size_t)t->ncols + (size_t)c];
            if (c == t->ncols - 1)
                fprintf(f, "%s\n", s);
            else
                fprintf(f, "%-*s  ", (int)w[c], s);
        }
    }
    free(w);
}

void cli_table_free(cli_table *t) {
    if (!t) return;
    for (size_t i = 0; i < t->nrows * (size_t)t->ncols; i++) free(t->cells[i]);
    free(t->cells);
    free(t);
}
