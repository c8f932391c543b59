/* server/processor_decl.h: processors declared in the configuration file:
 *
 *   processor.<name>.script=processors/router.lua
 *   processor.<name>.inputs=orders[,payments]
 *   processor.<name>.outputs=orders.eu,orders.us
 *   processor.<name>.option.<key>=<value>     (the script's ctx.options[key])
 *   processor.<name>.stopped=true|false       (default false)
 *
 * At start each is created or redefined (positions and state are kept). */
#ifndef RN_PROCESSOR_DECL_H
#define RN_PROCESSOR_DECL_H

#include <stddef.h>

#include "config.h"
#include "processor.h"

/* The declared processors (malloc'd array of *n; free each with rn_processor_def_free,
 * then the array). -1 with a sentence in err for a malformed declaration. */
int rn_processor_decls(const rn_config *c, rn_processor_def **out, int *n, char *err,
                       size_t errlen);

#endif
