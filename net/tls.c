/* net/tls.c: the OpenSSL context and libevent's OpenSSL bufferevents (tls.h).
 * Invariant: the context is built once before any connection and only read after, so
 * the network threads share it without locks (OpenSSL 3 reference-counts safely). */
#include "tls.h"

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct rn_tls {
    SSL_CTX *ctx;
};

static int password_cb(char *buf, int size, int rwflag, void *u) {
    (void)rwflag;
    const char *pw = u;
    int n = (int)strlen(pw);
    if (n > size) n = size;
    memcpy(buf, pw, (size_t)n);
    return n;
}

static void ssl_err(char *err, size_t errlen, const char *what, const char *file) {
    char e[256];
    ERR_error_string_n(ERR_peek_last_error(), e, sizeof e);
    ERR_clear_error();
    snprintf(err, errlen, "%s %s: %s", what, file, e);
}

rn_tls *rn_tls_new(const rn_tls_options *o, char *err, size_t errlen) {
    if (!o->certificate_location || !*o->certificate_location || !o->key_location ||
        !*o->key_location) {
        snprintf(err, errlen,
                 "an SSL or SASL_SSL listener needs ssl.certificate.location and ssl.key.location");
        return NULL;
    }
    rn_tls *t = calloc(1, sizeof *t);
    if (!t) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    t->ctx = SSL_CTX_new(TLS_server_method());
    if (!t->ctx) {
        ssl_err(err, errlen, "cannot create a TLS context", "");
        goto err;
    }
    SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION);
    /* libevent may retry a write from a moved buffer. */
    SSL_CTX_set_mode(t->ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_ENABLE_PARTIAL_WRITE);
    if (o->key_password && *o->key_password) {
        SSL_CTX_set_default_passwd_cb(t->ctx, password_cb);
        SSL_CTX_set_default_passwd_cb_userdata(t->ctx, (void *)o->key_password);
    }
    if (SSL_CTX_use_certificate_chain_file(t->ctx, o->certificate_location) != 1) {
        ssl_err(err, errlen, "ssl.certificate.location: cannot load", o->certificate_location);
        goto err;
    }
    if (SSL_CTX_use_PrivateKey_file(t->ctx, o->key_location, SSL_FILETYPE_PEM) != 1) {
        ssl_err(err, errlen, "ssl.key.location: cannot load", o->key_location);
        goto err;
    }
    SSL_CTX_set_default_passwd_cb_userdata(t->ctx, NULL);
    if (SSL_CTX_check_private_key(t->ctx) != 1) {
        ssl_err(err, errlen, "ssl.key.location: the key does not match the certificate in",
                o->certificate_location);
        goto err;
    }
    if (o->ca_location && *o->ca_location) {
        if (SSL_CTX_load_verify_locations(t->ctx, o->ca_location, NULL) != 1) {
            ssl_err(err, errlen, "ssl.ca.location: cannot load", o->ca_location);
            goto err;
        }
        STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(o->ca_location);
        if (names) SSL_CTX_set_client_CA_list(t->ctx, names);
    } else if (o->client_auth != RN_TLS_CLIENT_AUTH_NONE) {
        snprintf(err, errlen, "ssl.client.auth=%s needs ssl.ca.location to verify client certificates",
                 o->client_auth == RN_TLS_CLIENT_AUTH_REQUIRED ? "required" : "requested");
        goto err;
    }
    if (o->client_auth == RN_TLS_CLIENT_AUTH_REQUIRED)
        SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    else if (o->client_auth == RN_TLS_CLIENT_AUTH_REQUESTED)
        SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER, NULL);
    return t;
err:
    rn_tls_free(t);
    return NULL;
}

void rn_tls_free(rn_tls *t) {
    if (!t) return;
    SSL_CTX_free(t->ctx);
    free(t);
}

struct bufferevent *rn_tls_bufferevent(rn_tls *t, struct event_base *base, evutil_socket_t fd) {
    SSL *ssl = SSL_new(t->ctx);
    if (!ssl) {
        evutil_closesocket(fd);
        return NULL;
    }
    struct bufferevent *bev = bufferevent_openssl_socket_new(base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                                             BEV_OPT_CLOSE_ON_FREE);
    if (!bev) {
        SSL_free(ssl);
        evutil_closesocket(fd);
        return NULL;
    }
    /* A client that closes without close_notify is an EOF, not an error. */
    bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
    return bev;
}

int rn_tls_peer_subject(struct bufferevent *bev, char *buf, size_t len) {
    SSL *ssl = bufferevent_openssl_get_ssl(bev);
    X509 *cert = ssl ? SSL_get1_peer_certificate(ssl) : NULL;
    if (!cert) return -1;
    int rc = -1;
    BIO *mem = BIO_new(BIO_s_mem());
    if (mem && X509_NAME_print_ex(mem, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253) >= 0) {
        int n = BIO_read(mem, buf, (int)len - 1);
        if (n >= 0) {
            buf[n] = 0;
            rc = 0;
        }
    }
    BIO_free(mem);
    X509_free(cert);
    return rc;
}

const char *rn_tls_error(struct bufferevent *bev, char *buf, size_t len) {
    unsigned long e = bufferevent_get_openssl_error(bev);
    if (!e) {
        snprintf(buf, len, "%s", evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
        return buf;
    }
    char first[256];
    ERR_error_string_n(e, first, sizeof first);
    snprintf(buf, len, "TLS: %s", first);
    while (bufferevent_get_openssl_error(bev)) { /* drain the rest */
    }
    return buf;
}
