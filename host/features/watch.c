/*
 * host/features/watch.c — fd watches (Thespian's ThespianWatch). One epoll set per
 * system holds every watched fd, each registered EPOLLONESHOT: a readiness
 * gives one WatchMessage, and the fd is re-armed only after the actor's
 * next callback renews the watch (watch_after). A threaded system has
 * one watcher thread blocked in epoll_wait (an eventfd ends it); a
 * synchronous one polls from th_system_run (thi_watch_poll).
 *
 * The fd table (index: fd number) says who watches what, under `lock`. An
 * fd is watched by at most one actor. An fd closed while watched leaves
 * epoll by itself; its table entry goes stale, which the file identity
 * (st_dev, st_ino) recorded at registration reveals when the number is
 * reused, and each registration carries a generation so an event read
 * just before a change is not taken for the new owner's.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/thread.h"
#include "base/array.h"
#include "host/core/runtime.h"
#include "host/log.h"
#include "host/features/features.h"

typedef struct wfd {
    th_addr_t owner;           /* null: unused */
    uint32_t gen;
    bool armed;
    bool in_flight;            /* a WatchMessage naming it not yet handled */
    dev_t dev;
    ino_t ino;
} wfd_t;

struct thi_watcher {
    struct th_system *sys;
    pthread_mutex_t lock;
    int epfd;
    int evfd;                  /* threaded: written to end the thread */
    bool threaded;
    pthread_t thread;
    wfd_t *tab;
    size_t tab_cap;
    size_t n_watched;          /* entries in use */
    uint32_t gen;
};

/* One actor's watch: the set in force, and the one its running callback
 * asked for (applied by watch_after). Its own context only. */
struct thi_watch {
    int *cur, *next;
    size_t n_cur, n_next, cap_cur, cap_next;
};

#define EV_BATCH 64

static uint64_t
ev_key(int fd, uint32_t gen)
{
    return (uint64_t)gen << 32 | (uint32_t)fd;
}

static bool
owned_by(const wfd_t *e, const th_addr_t *a)
{
    return th_addr_eq(&e->owner, a);
}

static bool
same_file(const wfd_t *e, int fd)
{
    struct stat st;
    return fstat(fd, &st) == 0 && st.st_dev == e->dev && st.st_ino == e->ino;
}

/* Read a batch of events and send the WatchMessages: one per owner,
 * naming its ready fds. Returns how many were sent. */
static int
dispatch(struct thi_watcher *w, int timeout_ms)
{
    struct epoll_event ev[EV_BATCH];
    int n = epoll_wait(w->epfd, ev, EV_BATCH, timeout_ms);
    if (n <= 0)
        return 0;
    struct {
        th_addr_t to;
        json_t *ready;
    } out[EV_BATCH];
    int n_out = 0;
    pthread_mutex_lock(&w->lock);
    for (int i = 0; i < n; i++) {
        int fd = (int)(uint32_t)ev[i].data.u64;
        if (fd < 0 || (size_t)fd >= w->tab_cap)
            continue;  /* the eventfd (its key is -1) */
        wfd_t *e = &w->tab[fd];
        if (th_addr_is_null(&e->owner) ||
            ev_key(fd, e->gen) != ev[i].data.u64)
            continue;  /* changed since: not the new owner's event */
        e->armed = false;
        e->in_flight = true;
        int k = 0;
        while (k < n_out && !th_addr_eq(&out[k].to, &e->owner))
            k++;
        if (k == n_out) {
            out[k].to = e->owner;
            out[k].ready = json_array();
            n_out++;
        }
        json_array_append_new(out[k].ready, json_integer(fd));
    }
    pthread_mutex_unlock(&w->lock);
    int sent = 0;
    for (int k = 0; k < n_out; k++) {
        json_t *o = json_pack("{s:o}", "ready", out[k].ready);
        char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
        /* an actor gone meanwhile: a dead letter */
        if (text && thi_send_system(w->sys, &out[k].to, &out[k].to,
                                    TH_MSG_WATCH, text, strlen(text)) == 0) {
            sent++;
        } else { /* not sent: its fds must not wait for it */
            pthread_mutex_lock(&w->lock);
            for (size_t i = 0; i < json_array_size(out[k].ready); i++) {
                json_int_t fd = json_integer_value(
                    json_array_get(out[k].ready, i));
                if ((size_t)fd < w->tab_cap &&
                    owned_by(&w->tab[fd], &out[k].to))
                    w->tab[fd].in_flight = false;
            }
            pthread_mutex_unlock(&w->lock);
        }
        free(text);
        json_decref(o);
    }
    return sent;
}

static void *
watch_main(void *arg)
{
    struct thi_watcher *w = arg;
    for (;;) {
        uint64_t v;
        if (read(w->evfd, &v, sizeof v) == sizeof v)
            break;  /* non-blocking: only a write makes it readable */
        dispatch(w, -1);
    }
    return NULL;
}

static int
watch_sys_init(struct th_system *sys, th_diag_t *d)
{
    (void)d;
    struct thi_watcher *w = calloc(1, sizeof *w);
    if (w == NULL)
        return TH_ENOMEM;
    w->sys = sys;
    w->evfd = -1;
    pthread_mutex_init(&w->lock, NULL);
    w->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (w->epfd < 0)
        goto fail;
    if (!sys->opts.synchronous) {
        w->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        struct epoll_event ev = {.events = EPOLLIN, .data.u64 = UINT32_MAX};
        if (w->evfd < 0 || epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->evfd, &ev) ||
            thi_thread_start(&w->thread, NULL, watch_main, w) != 0)
            goto fail;
        pthread_setname_np(w->thread, "th-watch");
        w->threaded = true;
    }
    sys->feat[THI_FEAT_WATCH] = w;
    return 0;
fail:
    if (w->evfd >= 0)
        close(w->evfd);
    if (w->epfd >= 0)
        close(w->epfd);
    pthread_mutex_destroy(&w->lock);
    free(w);
    return TH_EIO;
}

static void
watch_sys_fini(struct th_system *sys)
{
    struct thi_watcher *w = sys->feat[THI_FEAT_WATCH];
    if (w == NULL)
        return;
    if (w->threaded) {
        uint64_t one = 1;
        if (write(w->evfd, &one, sizeof one) != sizeof one)
            thi_log(TH_LOG_ERROR, NULL, "watch: cannot wake the watcher");
        pthread_join(w->thread, NULL);
        close(w->evfd);
    }
    close(w->epfd);
    free(w->tab);
    pthread_mutex_destroy(&w->lock);
    free(w);
    sys->feat[THI_FEAT_WATCH] = NULL;
}

static bool
push_fd(int **v, size_t *n, size_t *cap, int fd)
{
    for (size_t i = 0; i < *n; i++)
        if ((*v)[i] == fd)
            return true;
    if (THI_RESERVE(*v, *cap, *n + 1, 8) != 0)
        return false;
    (*v)[(*n)++] = fd;
    return true;
}

int
thi_watch_set(th_ctx_t *ctx, const int *fds, size_t n)
{
    thi_slot_t *slot = ctx->slot;
    struct thi_watcher *w = ctx->sys->feat[THI_FEAT_WATCH];
    th_addr_t self;
    thi_self_addr(ctx, slot, &self);
    if (fds == NULL && n > 0)
        return TH_EINVAL;
    struct thi_watch *aw = thi_slot_feat(slot, THI_FEAT_WATCH);
    if (aw == NULL) {
        if ((aw = calloc(1, sizeof *aw)) == NULL)
            return TH_ENOMEM;
        if (thi_slot_feat_set(slot, THI_FEAT_WATCH, aw) != 0) {
            free(aw);
            return TH_ENOMEM;
        }
        /* a watch lasts until the next callback (Thespian's
         * ThespianWatch): hear the end of every callback */
        thi_slot_hooks(slot, THI_HOOK_CALLBACK, 0);
    }
    aw->n_next = 0;
    ctx->callback_hook = true;
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        int fd = fds[i];
        int err = 0;
        if (fd < 0) {
            thi_log(TH_LOG_WARNING, &self, "watch_fds: fd %d: negative", fd);
            err = TH_EINVAL;
        } else if (fcntl(fd, F_GETFD) == -1) {
            thi_log(TH_LOG_WARNING, &self, "watch_fds: fd %d: not open (%s)",
                    fd, strerror(errno));
            err = TH_EIO;
        } else {
            pthread_mutex_lock(&w->lock);
            if ((size_t)fd < w->tab_cap) {
                wfd_t *e = &w->tab[fd];
                if (!th_addr_is_null(&e->owner) && !owned_by(e, &self) &&
                    same_file(e, fd))
                    err = TH_EEXIST;
            }
            pthread_mutex_unlock(&w->lock);
            if (err)
                thi_log(TH_LOG_WARNING, &self,
                        "watch_fds: fd %d: watched by another actor", fd);
            else if (!push_fd(&aw->next, &aw->n_next, &aw->cap_next, fd))
                err = TH_ENOMEM;
        }
        if (err && rc == 0)
            rc = err;
    }
    return rc;
}

/* Stop watching `fd` for `self` (lock held). */
static void
drop_fd(struct thi_watcher *w, const th_addr_t *self, int fd)
{
    if ((size_t)fd >= w->tab_cap || !owned_by(&w->tab[fd], self))
        return;
    /* ENOENT/EBADF: closed meanwhile, already out of epoll */
    epoll_ctl(w->epfd, EPOLL_CTL_DEL, fd, NULL);
    memset(&w->tab[fd], 0, sizeof w->tab[fd]);
    w->n_watched--;
}

/* Watch (or re-arm) `fd` for `self` (lock held). */
static void
arm_fd(struct thi_watcher *w, const th_addr_t *self, int fd)
{
    if ((size_t)fd >= w->tab_cap) {
        size_t old = w->tab_cap;
        if (THI_RESERVE(w->tab, w->tab_cap, (size_t)fd + 1, 64) != 0)
            return;
        memset(w->tab + old, 0, (w->tab_cap - old) * sizeof *w->tab);
    }
    wfd_t *e = &w->tab[fd];
    struct stat st;
    if (fstat(fd, &st) != 0)
        return;  /* closed since th_watch_fds: nothing to watch */
    bool mine = owned_by(e, self);
    /* armed already, or its WatchMessage not handled yet: re-arming now
     * would report the same readiness twice */
    if (mine && (e->armed || e->in_flight) && st.st_dev == e->dev &&
        st.st_ino == e->ino)
        return;
    if (!mine && !th_addr_is_null(&e->owner)) {
        if (same_file(e, fd))
            return;  /* another actor took it after th_watch_fds */
        mine = true; /* stale: its fd was closed, the number reused */
        e->owner = *self;
    }
    struct epoll_event ev = {.events = EPOLLIN | EPOLLONESHOT};
    int op = mine ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    e->gen = ++w->gen;
    ev.data.u64 = ev_key(fd, e->gen);
    int rc = epoll_ctl(w->epfd, op, fd, &ev);
    if (rc != 0 && op == EPOLL_CTL_MOD && errno == ENOENT)
        rc = epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev); /* closed, reused */
    if (rc != 0) {
        thi_log(TH_LOG_WARNING, self, "watch_fds: fd %d: epoll: %s", fd,
                strerror(errno));
        if (mine) {
            memset(e, 0, sizeof *e);
            w->n_watched--;
        }
        return;
    }
    if (!mine)
        w->n_watched++;
    e->owner = *self;
    e->armed = true;
    e->in_flight = false;
    e->dev = st.st_dev;
    e->ino = st.st_ino;
}

/* A WatchMessage (our own text: {"ready":[FD,...]}) was handled: its fds
 * may be re-armed (lock held). */
static void
handled(struct thi_watcher *w, const th_addr_t *self, const void *body,
        size_t len)
{
    const char *p = memchr(body, '[', len), *end = (const char *)body + len;
    while (p && p < end) {
        p++;
        if (p >= end || *p < '0' || *p > '9')
            break;
        size_t fd = 0;
        while (p < end && *p >= '0' && *p <= '9')
            fd = fd * 10 + (size_t)(*p++ - '0');
        if (fd < w->tab_cap && owned_by(&w->tab[fd], self))
            w->tab[fd].in_flight = false;
        if (p >= end || *p != ',')
            break;
    }
}

static void
watch_after(th_ctx_t *ctx, thi_slot_t *slot)
{
    struct thi_watcher *w = ctx->sys->feat[THI_FEAT_WATCH];
    struct thi_watch *aw = thi_slot_feat(slot, THI_FEAT_WATCH);
    if (aw == NULL)
        return;
    if (!ctx->callback_hook)
        aw->n_next = 0;  /* not renewed: the watch ends */
    th_addr_t self;
    thi_self_addr(ctx, slot, &self);
    pthread_mutex_lock(&w->lock);
    const thi_env_t *cur = ctx->cur;
    if (cur && cur->system &&
        cur->msg.type == thi_type_builtin(TH_MSG_WATCH)->name)
        handled(w, &self, cur->msg.data, cur->msg.len);
    for (size_t i = 0; i < aw->n_cur; i++) {
        size_t j = 0;
        while (j < aw->n_next && aw->next[j] != aw->cur[i])
            j++;
        if (j == aw->n_next)
            drop_fd(w, &self, aw->cur[i]);
    }
    for (size_t i = 0; i < aw->n_next; i++)
        arm_fd(w, &self, aw->next[i]);
    pthread_mutex_unlock(&w->lock);
    /* the requested set is now the one in force */
    int *t = aw->cur;
    size_t c = aw->cap_cur;
    aw->cur = aw->next;
    aw->n_cur = aw->n_next;
    aw->cap_cur = aw->cap_next;
    aw->next = t;
    aw->cap_next = c;
    aw->n_next = 0;
    if (aw->n_cur == 0) {
        free(aw->cur);
        free(aw->next);
        free(aw);
        slot->ext->feat[THI_FEAT_WATCH] = NULL;
        thi_slot_hooks(slot, 0, THI_HOOK_CALLBACK);
    }
}

static void
watch_slot_fini(th_ctx_t *ctx, thi_slot_t *slot)
{
    struct th_system *sys = ctx->sys;
    struct thi_watch *aw = thi_slot_feat(slot, THI_FEAT_WATCH);
    if (aw == NULL)
        return;
    struct thi_watcher *w = sys->feat[THI_FEAT_WATCH];
    th_addr_t self;
    thi_slot_addr(sys, slot, slot->live_nonce, &self);
    pthread_mutex_lock(&w->lock);
    for (size_t i = 0; i < aw->n_cur; i++)
        drop_fd(w, &self, aw->cur[i]);
    pthread_mutex_unlock(&w->lock);
    free(aw->cur);
    free(aw->next);
    free(aw);
    slot->ext->feat[THI_FEAT_WATCH] = NULL;
    thi_slot_hooks(slot, 0, THI_HOOK_CALLBACK);
}

static int
watch_poll(struct th_system *sys, int timeout_ms)
{
    struct thi_watcher *w = sys->feat[THI_FEAT_WATCH];
    pthread_mutex_lock(&w->lock);
    bool any = w->n_watched > 0;
    pthread_mutex_unlock(&w->lock);
    if (!any)
        return -1;
    return dispatch(w, timeout_ms);
}

const thi_feature_t thi_feature_watch = {
    .name = "watches",
    .id = THI_FEAT_WATCH,
    .sys_init = watch_sys_init,
    .sys_fini = watch_sys_fini,
    .poll = watch_poll,
    .after_callback = watch_after,
    .slot_fini = watch_slot_fini,
};
