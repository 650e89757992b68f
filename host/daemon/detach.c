/*
 * host/daemon/detach.c — start-up reports and daemon mode. Until the
 * endpoint serves, each outcome is one line: to the terminal, or, once
 * detached, through a pipe to the original process, which waits for it
 * and exits with its status, so `thespiand` and `thespian start` return
 * only once the endpoint serves (or with the reason it does not).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "host/daemon/daemon.h"

/* Where start-up reports go: the terminal, or the pipe to the parent
 * that waits for the daemon to be ready. */
static int report_fd = -1;
static int report_err_fd = 2;

void
thi_daemon_report(bool ok, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (report_fd >= 0) {
        dprintf(report_fd, "%s %s\n", ok ? "OK" : "ERR", line);
        return;
    }
    dprintf(ok ? 1 : report_err_fd, "thespiand: %s\n", line);
}

/* Detach. The original process waits until the daemon reports ready (or
 * failed) through a pipe and exits with that status, so `thespiand` and
 * `thespian start` return only once the endpoint serves. */
void
thi_daemon_detach(void)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) {
        thi_daemon_report(false, "pipe: %s", strerror(errno));
        exit(EXIT_FAIL);
    }
    pid_t pid = fork();
    if (pid < 0) {
        thi_daemon_report(false, "fork: %s", strerror(errno));
        exit(EXIT_FAIL);
    }
    if (pid > 0) {
        close(p[1]);
        char buf[1200];
        size_t n = 0;
        ssize_t r;
        while (n < sizeof buf - 1 &&
               ((r = read(p[0], buf + n, sizeof buf - 1 - n)) > 0 ||
                (r < 0 && errno == EINTR)))
            if (r > 0)
                n += (size_t)r;
        buf[n] = '\0';
        int st;
        waitpid(pid, &st, 0); /* the intermediate child */
        if (strncmp(buf, "OK ", 3) == 0) {
            printf("thespiand: %s", buf + 3);
            exit(EXIT_OK);
        }
        fprintf(stderr, "thespiand: %s",
                strncmp(buf, "ERR ", 4) == 0
                    ? buf + 4
                    : "the daemon exited during start-up\n");
        exit(EXIT_FAIL);
    }
    close(p[0]);
    if (setsid() < 0)
        _exit(EXIT_FAIL);
    pid = fork();
    if (pid < 0)
        _exit(EXIT_FAIL);
    if (pid > 0)
        _exit(EXIT_OK); /* the session leader goes: no terminal ever again */
    report_fd = p[1];
    umask(027);
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null >= 0) {
        dup2(null, 0);
        dup2(null, 1);
        close(null);
    }
}

void
thi_daemon_report_keep_terminal(void)
{
    report_err_fd = dup(2); /* start-up errors still to the user */
}

void
thi_daemon_report_done(void)
{
    if (report_fd >= 0) {
        close(report_fd); /* the waiting parent exits now */
        report_fd = -1;
    }
}
