/*
 * tests/log_capture.h — read what the runtime logs during part of a
 * test: the internal log goes to fd 2 in a program that includes this
 * (unless THESPLOG_FILE is set), lc_begin points fd 2 at a scratch file,
 * lc_end puts it back, copies the text to the real stderr (so nothing is
 * hidden) and returns it (free()).
 */
#ifndef TH_TESTS_LOG_CAPTURE_H
#define TH_TESTS_LOG_CAPTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "host/log.h"
#include "th_test.h"

/* Before main, so before any record and before the harness forks: every
 * case inherits an internal log that writes to whatever fd 2 is. */
__attribute__((constructor)) static void
lc_log_to_fd2(void)
{
    thi_log_set_internal(NULL);
}

typedef struct lc {
    int saved;
    int fd;
} lc_t;

static inline void
lc_begin(lc_t *c)
{
    char path[] = "/tmp/th-log-XXXXXX";
    fflush(stderr);
    c->fd = mkstemp(path);
    CHECK(c->fd >= 0);
    unlink(path);
    c->saved = dup(2);
    CHECK(c->saved >= 0);
    CHECK(dup2(c->fd, 2) == 2);
}

static inline char *
lc_end(lc_t *c)
{
    fflush(stderr);
    CHECK(dup2(c->saved, 2) == 2);
    close(c->saved);
    off_t len = lseek(c->fd, 0, SEEK_END);
    char *text = calloc(1, (size_t)len + 1);
    CHECK(text != NULL);
    CHECK(pread(c->fd, text, (size_t)len, 0) == (ssize_t)len);
    close(c->fd);
    fputs(text, stderr);
    return text;
}

#endif /* TH_TESTS_LOG_CAPTURE_H */
