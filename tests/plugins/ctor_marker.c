/*
 * tests/plugins/ctor_marker.c — ctor_marker.so: a correctly formed plugin
 * that ALSO has an ELF constructor, which appends a line to the file named
 * by $TH_TEST_MARKER when the object is mapped. Tests use it to prove that
 * a refused bundle never runs any of its code: the marker file must not
 * appear. With $TH_TEST_MARKER_TID set, it also writes the id of the
 * thread that mapped it into that file. With $TH_TEST_HANG set, the
 * constructor never returns (a probe for bounded checks). It breaks the no-constructor rule (STYLE.md §3.9)
 * on purpose; no real plugin may do this.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "thespian/actor.h"

__attribute__((constructor)) static void
mark_loaded(void)
{
    static const char line[] = "ctor_marker loaded\n";
    const char *hang = getenv("TH_TEST_HANG");
    while (hang != NULL && hang[0] != '\0')
        pause();
    const char *tpath = getenv("TH_TEST_MARKER_TID");
    if (tpath != NULL && tpath[0] != '\0') {
        char tid[32];
        int tl = snprintf(tid, sizeof tid, "%ld\n", (long)syscall(SYS_gettid));
        int tfd = open(tpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (tfd >= 0) {
            ssize_t n = write(tfd, tid, (size_t)tl);
            (void)n;
            close(tfd);
        }
    }
    const char *path = getenv("TH_TEST_MARKER");
    if (path == NULL || path[0] == '\0')
        return;
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        return;
    /* One append per load, so a test can count loads; a short write only
     * weakens that count, and a constructor has nobody to report to. */
    ssize_t n = write(fd, line, sizeof line - 1);
    (void)n;
    close(fd);
}

static int
marker_receive(th_ctx_t *ctx, void *state, const th_msg_t *msg)
{
    (void)ctx;
    (void)state;
    (void)msg;
    return 0;
}

static const th_class_t marker_class = {
    .size = sizeof(th_class_t),
    .name = "Marker",
    .receive = marker_receive,
};

TH_PLUGIN_DEFINE(ctor_marker, &marker_class);
