/* cli/table.h: the human output: rows of text cells printed as aligned columns under
 * a header line. */
#ifndef RUNNEL_CLI_TABLE_H
#define RUNNEL_CLI_TABLE_H

#include <stdio.h>

typedef struct cli_table cli_table;

/* ncols headers follow. */
cli_table *cli_table_new(int ncols, ...);
/* ncols cells follow (NULL prints "-"); they are copied. */
void cli_table_add(cli_table *t, ...);
void cli_table_print(const cli_table *t, FILE *f);
void cli_table_free(cli_table *t);

#endif
