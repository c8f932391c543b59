/* tests/fuzz/fuzz_config.c: libFuzzer target for the configuration file. Each input is
 * a whole server.properties-style file: read with rn_config_load_file, then
 * rn_config_finish (listeners, cross-key rules) and the processor declarations
 * (processor.<name>.<field>). Any crash, sanitizer report or leak is a finding; a
 * rejected file must come with a message. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "processor_decl.h"

static char path[] = "/tmp/runnel-fuzz-config-XXXXXX";

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    int fd = mkstemp(path);
    if (fd < 0) abort();
    close(fd);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    FILE *f = fopen(path, "wb");
    if (!f) abort();
    fwrite(data, 1, size, f);
    fclose(f);
    rn_config c;
    rn_config_defaults(&c);
    char err[1024] = "";
    if (rn_config_load_file(&c, path, err, sizeof err) == 0) {
        if (rn_config_finish(&c, err, sizeof err) == 0) {
            rn_processor_def *defs;
            int n;
            err[0] = 0;
            if (rn_processor_decls(&c, &defs, &n, err, sizeof err) == 0) {
                for (int i = 0; i < n; i++) rn_processor_def_free(&defs[i]);
                free(defs);
            } else if (!err[0]) {
                abort(); /* refused without saying why */
            }
        } else if (!err[0]) {
            abort();
        }
    } else if (!err[0]) {
        abort();
    }
    rn_config_free(&c);
    return 0;
}
