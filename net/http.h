/* net/http.h: the broker's HTTP endpoint: /health, /ready, /metrics (Prometheus text),
 * /v1/plugins and POST /v1/plugins/reload, /v1/processors, and the web console at / with
 * the /v1 JSON it reads (net/http_console.h). Served on the loop it is started on. */
#ifndef RN_HTTP_H
#define RN_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "engine.h"
#include "plugins.h"
#include "processor.h"
#include "server.h"

struct event_base;
typedef struct rn_http rn_http;

typedef struct {
    char host[256];
    int port;            /* 0: any free port */
    rn_server *server;   /* request counters */
    rn_engine *engine;   /* partitions and groups */
    rn_plugins *plugins; /* may be NULL */
    rn_processors *processors; /* may be NULL */
    bool console_actions; /* http.console.actions.enable: the console's actions are allowed */
    struct rn_cluster *cluster; /* NULL: a single broker; else /ready waits for it */
} rn_http_options;

/* Bind and serve on base. NULL with a sentence in err when it cannot listen. */
rn_http *rn_http_start(struct event_base *base, const rn_http_options *opts, char *err,
                       size_t errlen);
int rn_http_port(const rn_http *h);
void rn_http_stop(rn_http *h);

#endif
