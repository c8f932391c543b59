/* server/processor_decl.c: processor.<name>.<field> lines into processor definitions. */
#include "processor_decl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const fields[] = {".script", ".inputs", ".outputs", ".stopped"};

/* Split "a, b,c" into a fresh array; empty items are skipped. -1 when out of memory. */
static int split_list(const char *s, char ***out, int *n) {
    *out = NULL;
    *n = 0;
    char *copy = strdup(s);
    if (!copy) return -1;
    for (char *save = NULL, *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ' || *tok == '\t') tok++;
        char *e = tok + strlen(tok);
        while (e > tok && (e[-1] == ' ' || e[-1] == '\t')) *--e = 0;
        if (!*tok) continue;
        char **nv = realloc(*out, (size_t)(*n + 1) * sizeof *nv);
        if (!nv || !(nv[*n] = strdup(tok))) {
            if (nv) *out = nv;
            free(copy);
            return -1;
        }
        *out = nv;
        (*n)++;
    }
    free(copy);
    return 0;
}

static rn_processor_def *def_for(rn_processor_def **defs, int *n, const char *name, size_t nl) {
    for (int i = 0; i < *n; i++)
        if (strlen((*defs)[i].name) == nl && strncmp((*defs)[i].name, name, nl) == 0) return &(*defs)[i];
    rn_processor_def *nd = realloc(*defs, (size_t)(*n + 1) * sizeof *nd);
    if (!nd) return NULL;
    *defs = nd;
    rn_processor_def *d = &nd[(*n)++];
    memset(d, 0, sizeof *d);
    d->name = strndup(name, nl);
    return d->name ? d : NULL;
}

static int add_option(rn_processor_def *d, const char *k, const char *v) {
    char **nn = realloc(d->option_names, (size_t)(d->noptions + 1) * sizeof *nn);
    if (nn) d->option_names = nn;
    char **nv = realloc(d->option_values, (size_t)(d->noptions + 1) * sizeof *nv);
    if (nv) d->option_values = nv;
    if (!nn || !nv) return -1;
    nn[d->noptions] = strdup(k);
    nv[d->noptions] = strdup(v);
    if (!nn[d->noptions] || !nv[d->noptions]) {
        free(nn[d->noptions]);
        free(nv[d->noptions]);
        return -1;
    }
    d->noptions++;
    return 0;
}

int rn_processor_decls(const rn_config *c, rn_processor_def **out, int *n, char *err,
                       size_t errlen) {
    rn_processor_def *defs = NULL;
    int nd = 0, rc = 0;
    if (errlen) err[0] = 0;
    for (int i = 0; i < c->nprocessor_keys && rc == 0; i++) {
        const char *key = c->processor_keys[i], *value = c->processor_values[i];
        const char *opt = strstr(key, ".option.");
        int field = -1;
        size_t nl = 0;
        if (opt) {
            nl = (size_t)(opt - key);
        } else {
            for (int f = 0; f < 4 && field < 0; f++) {
                size_t kl = strlen(key), fl = strlen(fields[f]);
                if (kl > fl && strcmp(key + kl - fl, fields[f]) == 0) {
                    field = f;
                    nl = kl - fl;
                }
            }
        }
        if (nl == 0) {
            snprintf(err, errlen, "processor.%s: expected processor.<name>.script, .inputs, "
                     ".outputs, .stopped or .option.<key>", key);
            rc = -1;
            break;
        }
        rn_processor_def *d = def_for(&defs, &nd, key, nl);
        if (!d) {
            rc = -1;
            snprintf(err, errlen, "out of memory");
            break;
        }
        if (opt) {
            if (!opt[8]) {
                snprintf(err, errlen, "processor.%s: an option needs a name", key);
                rc = -1;
            } else if (add_option(d, opt + 8, value) != 0) {
                snprintf(err, errlen, "out of memory");
                rc = -1;
            }
            continue;
        }
        switch (field) {
        case 0:
            free(d->script);
            if (!(d->script = strdup(value))) rc = -1;
            break;
        case 1:
            for (int j = 0; j < d->ninputs; j++) free(d->inputs[j]);
            free(d->inputs);
            rc = split_list(value, &d->inputs, &d->ninputs);
            break;
        case 2:
            for (int j = 0; j < d->noutputs; j++) free(d->outputs[j]);
            free(d->outputs);
            rc = split_list(value, &d->outputs, &d->noutputs);
            break;
        default:
            if (strcmp(value, "true") && strcmp(value, "false")) {
                snprintf(err, errlen, "processor.%s: '%s' is not true or false", key, value);
                rc = -1;
            }
            d->stopped = strcmp(value, "true") == 0;
        }
        if (rc && !err[0]) snprintf(err, errlen, "out of memory");
    }
    for (int i = 0; i < nd && rc == 0; i++)
        if (!defs[i].script || defs[i].ninputs == 0) {
            snprintf(err, errlen, "processor.%s: needs .script and .inputs", defs[i].name);
            rc = -1;
        }
    if (rc) {
        for (int i = 0; i < nd; i++) rn_processor_def_free(&defs[i]);
        free(defs);
        return -1;
    }
    *out = defs;
    *n = nd;
    return 0;
}
