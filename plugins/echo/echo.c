/*
 * plugins/echo/echo.c — echo.Server: a line-echo TCP server on 127.0.0.1,
 * driven by fd watches (th_watch_fds / WatchMessage) instead of threads.
 *
 * Protocol:
 *   init             listens on 127.0.0.1, an ephemeral port
 *   Port (any body)  -> Port, body: the port number as decimal text
 *   TCP              every complete line ("...\n") a client sends comes
 *                    back to it; a line longer than ECHO_LINE_MAX is sent
 *                    back in pieces of that size; EOF (or an error) closes
 *                    the client. Past ECHO_MAX_CLIENTS clients, a new
 *                    connection is closed at once.
 * Every callback renews the watch (the listening socket and the clients):
 * a watch lasts until the actor's next callback. Teardown closes all.
 * All state lives in the actor's state block (no globals).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "thespian/actor.h"
#include "thespian/json.h"

#define ECHO_MAX_CLIENTS 32
#define ECHO_LINE_MAX 4096

typedef struct {
    int fd;                     /* -1: free */
    size_t len;
    char buf[ECHO_LINE_MAX];
} client_t;

typedef struct {
    int lfd;
    int port;
    client_t c[ECHO_MAX_CLIENTS];
} server_t;

static void
rewatch(th_ctx_t *ctx, server_t *s)
{
    int fds[ECHO_MAX_CLIENTS + 1];
    size_t n = 0;
    if (s->lfd >= 0)
        fds[n++] = s->lfd;
    for (int i = 0; i < ECHO_MAX_CLIENTS; i++)
        if (s->c[i].fd >= 0)
            fds[n++] = s->c[i].fd;
    th_watch_fds(ctx, fds, n);
}

static int
server_init(th_ctx_t *ctx, void *state)
{
    server_t *s = state;
    for (int i = 0; i < ECHO_MAX_CLIENTS; i++)
        s->c[i].fd = -1;
    s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s->lfd < 0)
        return th_fail(ctx, "socket failed");
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    if (bind(s->lfd, (struct sockaddr *)&a, sizeof a) != 0 ||
        listen(s->lfd, 16) != 0 ||
        getsockname(s->lfd, (struct sockaddr *)&a, &al) != 0) {
        close(s->lfd);
        s->lfd = -1;
        return th_fail(ctx, "cannot listen on 127.0.0.1");
    }
    s->port = ntohs(a.sin_port);
    th_log(ctx, TH_LOG_INFO, "echo: listening on 127.0.0.1:%d", s->port);
    rewatch(ctx, s);
    return 0;
}

/* All of buf to a non-blocking socket (waits a little when it is full). */
static int
send_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t w = send(fd, buf, len, MSG_NOSIGNAL);
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct pollfd p = {.fd = fd, .events = POLLOUT};
            if (poll(&p, 1, 1000) <= 0)
                return -1;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        buf += w;
        len -= (size_t)w;
    }
    return 0;
}

static void
drop(client_t *c)
{
    close(c->fd);
    c->fd = -1;
    c->len = 0;
}

/* Read what is waiting, echo each complete line. */
static void
serve(client_t *c)
{
    for (;;) {
        ssize_t r = recv(c->fd, c->buf + c->len, sizeof c->buf - c->len, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (r <= 0) {
            drop(c); /* EOF or error */
            return;
        }
        c->len += (size_t)r;
        size_t done = 0;
        for (size_t i = 0; i < c->len; i++)
            if (c->buf[i] == '\n') {
                if (send_all(c->fd, c->buf + done, i + 1 - done) != 0) {
                    drop(c);
                    return;
                }
                done = i + 1;
            }
        if (done == 0 && c->len == sizeof c->buf) /* a line too long */
            done = c->len, (void)send_all(c->fd, c->buf, c->len);
        memmove(c->buf, c->buf + done, c->len - done);
        c->len -= done;
    }
}

static void
accept_all(th_ctx_t *ctx, server_t *s)
{
    for (;;) {
        int fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return; /* EAGAIN: no more waiting */
        int i = 0;
        while (i < ECHO_MAX_CLIENTS && s->c[i].fd >= 0)
            i++;
        if (i == ECHO_MAX_CLIENTS) {
            th_log(ctx, TH_LOG_WARNING, "echo: %d clients already: refused",
                   ECHO_MAX_CLIENTS);
            close(fd);
            continue;
        }
        s->c[i].fd = fd;
        s->c[i].len = 0;
    }
}

static int
server_receive(th_ctx_t *ctx, void *state, const th_msg_t *msg)
{
    server_t *s = state;
    if (strcmp(msg->type, TH_MSG_WATCH) == 0) {
        json_t *o = th_msg_json(msg);
        json_t *ready = json_object_get(o, "ready");
        for (size_t k = 0; k < json_array_size(ready); k++) {
            int fd = (int)json_integer_value(json_array_get(ready, k));
            if (fd == s->lfd) {
                accept_all(ctx, s);
                continue;
            }
            for (int i = 0; i < ECHO_MAX_CLIENTS; i++)
                if (s->c[i].fd == fd && fd >= 0)
                    serve(&s->c[i]);
        }
        json_decref(o);
    } else if (strcmp(msg->type, "Port") == 0) {
        char text[16];
        int n = snprintf(text, sizeof text, "%d", s->port);
        th_send(ctx, &msg->sender, "Port", text, (size_t)n);
    }
    rewatch(ctx, s);
    return 0;
}

static void
server_teardown(th_ctx_t *ctx, void *state)
{
    (void)ctx;
    server_t *s = state;
    for (int i = 0; i < ECHO_MAX_CLIENTS; i++)
        if (s->c[i].fd >= 0)
            drop(&s->c[i]);
    if (s->lfd >= 0)
        close(s->lfd);
    s->lfd = -1;
}

static const th_class_t server_class = {
    .size = sizeof(th_class_t),
    .name = "Server",
    .state_size = sizeof(server_t),
    .init = server_init,
    .receive = server_receive,
    .teardown = server_teardown,
};

TH_PLUGIN_DEFINE(echo, &server_class);
