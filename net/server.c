/* net/server.c: listeners on the caller's event loop, and the network threads that own
 * the connections (round-robin). Invariant: a socket is handed to exactly one thread,
 * through that thread's pending list, and from then on only that thread touches it. */
#include "server.h"

#include <errno.h>
#include <event2/listener.h>
#include <event2/thread.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "conn.h"
#include "plugins.h"
#include "rnlog.h"

struct rn_server {
    rn_server_options opts;
    rn_metrics metrics;
    struct evconnlistener *listeners[RN_SERVER_MAX_LISTENERS];
    int bound_port[RN_SERVER_MAX_LISTENERS];
    int listener_count;
    rn_net_thread *threads;
    int thread_count;
    unsigned next_thread;
    rn_tls *tls; /* SSL and SASL_SSL listeners */
};

typedef struct {
    rn_server *server;
    int index;
} rn_listener_ctx;

static rn_listener_ctx listener_ctx[RN_SERVER_MAX_LISTENERS];

const rn_server_options *rn_server_opts(const rn_server *s) { return &s->opts; }
rn_metrics *rn_server_metrics(rn_server *s) { return &s->metrics; }
rn_tls *rn_server_tls(const rn_server *s) { return s->tls; }

int rn_server_port(const rn_server *s, int listener) {
    return listener < s->listener_count ? s->bound_port[listener] : -1;
}

static void thread_notify_cb(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    rn_net_thread *t = arg;
    pthread_mutex_lock(&t->lock);
    rn_pending_fd *p = t->pending;
    t->pending = NULL;
    bool stopping = t->stopping;
    pthread_mutex_unlock(&t->lock);
    while (p) {
        rn_pending_fd *n = p->next;
        if (stopping)
            evutil_closesocket(p->fd);
        else
            rn_conn_create(t, p->fd, p->listener);
        free(p);
        p = n;
    }
    if (stopping) {
        while (t->conns) rn_conn_close(t->conns, NULL);
        /* Exit after one more turn, not at once: freed TLS bufferevents are finalized
         * by the loop, and a break would leave them (and their SSL state) behind. */
        event_base_loopexit(t->base, NULL);
    }
}

static void *thread_main(void *arg) {
    rn_net_thread *t = arg;
    /* Each network thread runs the topic hooks of its connections in its own Lua state. */
    rn_plugins_thread_start(t->server->opts.plugins);
    event_base_loop(t->base, EVLOOP_NO_EXIT_ON_EMPTY);
    return NULL;
}

static void hand_to_thread(rn_server *s, evutil_socket_t fd, int listener) {
    rn_net_thread *t = &s->threads[s->next_thread++ % (unsigned)s->thread_count];
    rn_pending_fd *p = malloc(sizeof *p);
    if (!p) {
        evutil_closesocket(fd);
        return;
    }
    p->fd = fd;
    p->listener = listener;
    pthread_mutex_lock(&t->lock);
    p->next = t->pending;
    t->pending = p;
    pthread_mutex_unlock(&t->lock);
    event_active(t->notify, EV_READ, 0);
}

static void accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                      int socklen, void *arg) {
    (void)l;
    (void)sa;
    (void)socklen;
    rn_listener_ctx *lc = arg;
    hand_to_thread(lc->server, fd, lc->index);
}

void rn_server_adopt(rn_server *s, int fd) { hand_to_thread(s, fd, 0); }

static void accept_error_cb(struct evconnlistener *l, void *arg) {
    (void)l;
    (void)arg;
    /* EMFILE and friends: log and keep listening; the next accept may succeed. */
    rn_log_error("accept failed: %s", evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
}

static int bind_listener(rn_server *s, struct event_base *base, int i, char *err, size_t errlen) {
    const rn_endpoint *ep = &s->opts.listeners[i];
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    char port[16];
    snprintf(port, sizeof port, "%d", ep->port);
    const char *host = ep->host[0] && strcmp(ep->host, "0.0.0.0") != 0 ? ep->host : NULL;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "cannot resolve listener host '%s': %s", ep->host, gai_strerror(rc));
        return -1;
    }
    listener_ctx[i].server = s;
    listener_ctx[i].index = i;
    struct evconnlistener *l = NULL;
    int last_errno = 0;
    for (struct addrinfo *ai = res; ai && !l; ai = ai->ai_next) {
        l = evconnlistener_new_bind(base, accept_cb, &listener_ctx[i],
                                    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 1024,
                                    ai->ai_addr, (int)ai->ai_addrlen);
        if (!l) last_errno = errno;
    }
    freeaddrinfo(res);
    if (!l) {
        snprintf(err, errlen, "cannot listen on %s:%d: %s", ep->host, ep->port,
                 strerror(last_errno));
        return -1;
    }
    evconnlistener_set_error_cb(l, accept_error_cb);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    s->bound_port[i] = ep->port;
    if (getsockname(evconnlistener_get_fd(l), (struct sockaddr *)&ss, &sl) == 0)
        s->bound_port[i] = ntohs(ss.ss_family == AF_INET6
                                     ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                     : ((struct sockaddr_in *)&ss)->sin_port);
    s->listeners[i] = l;
    return 0;
}

rn_server *rn_server_start(struct event_base *base, const rn_server_options *opts, char *err,
                           size_t errlen) {
    rn_server *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->opts = *opts;
    evthread_use_pthreads(); /* other threads wake this server's loops */
    for (int i = 0; i < s->opts.listener_count && !s->tls; i++)
        if (rn_security_tls(s->opts.listeners[i].protocol) &&
            !(s->tls = rn_tls_new(&s->opts.tls, err, errlen)))
            goto err;
    memset(&s->opts.tls, 0, sizeof s->opts.tls); /* the paths are not ours to keep */
    if (s->opts.network_threads < 1) s->opts.network_threads = 1;
    s->threads = calloc((size_t)s->opts.network_threads, sizeof *s->threads);
    if (!s->threads) {
        snprintf(err, errlen, "out of memory");
        goto err;
    }
    for (int i = 0; i < s->opts.network_threads; i++) {
        rn_net_thread *t = &s->threads[i];
        t->index = i;
        t->server = s;
        pthread_mutex_init(&t->lock, NULL);
        t->base = event_base_new();
        if (!t->base) {
            snprintf(err, errlen, "cannot create an event loop");
            goto err;
        }
        t->notify = event_new(t->base, -1, EV_PERSIST, thread_notify_cb, t);
        event_add(t->notify, NULL);
        if (pthread_create(&t->tid, NULL, thread_main, t) != 0) {
            snprintf(err, errlen, "cannot start a network thread");
            event_free(t->notify);
            event_base_free(t->base);
            t->base = NULL;
            goto err;
        }
        s->thread_count++;
    }
    for (int i = 0; i < s->opts.listener_count; i++) {
        if (bind_listener(s, base, i, err, errlen) < 0) goto err;
        s->listener_count++;
    }
    return s;
err:
    rn_server_stop(s);
    return NULL;
}

void rn_server_stop(rn_server *s) {
    if (!s) return;
    for (int i = 0; i < s->listener_count; i++) evconnlistener_free(s->listeners[i]);
    for (int i = 0; i < s->thread_count; i++) {
        rn_net_thread *t = &s->threads[i];
        pthread_mutex_lock(&t->lock);
        t->stopping = true;
        pthread_mutex_unlock(&t->lock);
        event_active(t->notify, EV_READ, 0);
        pthread_join(t->tid, NULL);
        event_free(t->notify);
        event_base_free(t->base);
        pthread_mutex_destroy(&t->lock);
    }
    free(s->threads);
    rn_tls_free(s->tls);
    free(s);
}
