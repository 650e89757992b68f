/*
 * host/daemon/config.c — the operator's files and paths: capabilities
 * (--capabilities, --capabilities-file, othercaps.cfg), the actor log
 * configuration (--log-config, thesplog.cfg), absolute paths (the daemon
 * changes directory), and the director directory with its Source
 * Authority plugin and state directory.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host/daemon/daemon.h"

/* True when `path` is a regular file; otherwise reports why. A FIFO or a
 * device given by mistake (or on purpose) would block us or never end. */
bool
thi_daemon_regular_file(const char *what, const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        thi_daemon_report(false, "%s %s: %s", what, path, strerror(errno));
        return false;
    }
    if (!S_ISREG(st.st_mode)) {
        thi_daemon_report(false, "%s %s: not a regular file", what, path);
        return false;
    }
    return true;
}

/* The capabilities as compact JSON text (owned), checked to be an object;
 * NULL with a report naming the option or file when they are not. */
char *
thi_daemon_load_capabilities(const options_t *o, const char *dir_file)
{
    json_error_t jerr;
    json_t *v;
    const char *what;
    const char *file = o->caps_file  ? o->caps_file
                       : o->caps_arg ? NULL
                                     : dir_file;
    if (file) {
        what = file;
        if (!thi_daemon_regular_file(
                o->caps_file ? "--capabilities-file" : "othercaps.cfg", file))
            return NULL;
        v = json_load_file(file, JSON_REJECT_DUPLICATES, &jerr);
    } else if (o->caps_arg) {
        what = "--capabilities";
        v = json_loads(o->caps_arg, JSON_REJECT_DUPLICATES, &jerr);
    } else {
        return strdup("{}");
    }
    if (v == NULL) {
        thi_daemon_report(false, "%s: not valid JSON: %s (line %d, column %d)",
                          what, jerr.text, jerr.line, jerr.column);
        return NULL;
    }
    if (!json_is_object(v)) {
        thi_daemon_report(false, "%s: capabilities must be a JSON object",
                          what);
        json_decref(v);
        return NULL;
    }
    char *text = json_dumps(v, JSON_COMPACT);
    json_decref(v);
    return text;
}

/* The actor log configuration: --log-config FILE, else thesplog.cfg in the
 * director directory (docs/logging.md). A bad one stops the start, naming
 * the file and the key: the operator asked for it, so running with some
 * other configuration would hide the mistake. Its level is also the
 * internal log's threshold unless THESPLOG_THRESHOLD is set. Returns 0 or
 * -1 after reporting. */
int
thi_daemon_apply_log_config(const options_t *o, const char *dir)
{
    char path[PATH_MAX];
    const char *what = "--log-config";
    if (o->log_config) {
        snprintf(path, sizeof path, "%s", o->log_config);
    } else if (dir && *dir) {
        snprintf(path, sizeof path, "%.4000s/thesplog.cfg", dir);
        what = "thesplog.cfg";
        if (access(path, F_OK) != 0)
            return 0;
    } else {
        return 0;
    }
    if (!thi_daemon_regular_file(what, path))
        return -1;
    th_diag_t d = {0};
    if (th_log_configure_file(path, &d) != 0) {
        thi_daemon_report(false, "%s %s", what, d.msg);
        return -1;
    }
    setenv("THESPLOG_THRESHOLD", th_log_level_name(th_log_level()), 0);
    return 0;
}

/* An absolute path for `path` whose directory exists (the daemon changes
 * directory, and relative paths would then name other files). */
char *
thi_daemon_absolute(const char *what, const char *path)
{
    char *dup = strdup(path), *result = NULL;
    if (dup == NULL)
        return NULL;
    char *slash = strrchr(dup, '/'), *base = slash ? slash + 1 : dup;
    if (slash)
        *slash = '\0';
    char *dir = realpath(slash ? (dup[0] ? dup : "/") : ".", NULL);
    if (dir == NULL || *base == '\0')
        thi_daemon_report(false, "%s %s: %s", what, path,
                          dir ? "names a directory" : strerror(errno));
    else if (asprintf(&result, "%s/%s", dir, base) < 0)
        result = NULL;
    free(dir);
    free(dup);
    return result;
}

int
thi_daemon_director(const options_t *o, startup_t *st, const char *dd)
{
    st->director_dir = realpath(dd, NULL);
    struct stat dst;
    if (st->director_dir == NULL || stat(st->director_dir, &dst) != 0 ||
        !S_ISDIR(dst.st_mode)) {
        thi_daemon_report(false, "director directory %s: %s", dd,
                          st->director_dir ? "not a directory"
                                           : strerror(errno));
        return -1;
    }
    char cwd[PATH_MAX];
    if (dd[0] == '/')
        st->key_dir = strdup(dd);
    else if (getcwd(cwd, sizeof cwd) == NULL ||
             asprintf(&st->key_dir, "%s/%s", cwd, dd) < 0)
        st->key_dir = NULL;
    if (st->key_dir == NULL) {
        thi_daemon_report(false, "director directory %s: %s", dd,
                          strerror(errno));
        return -1;
    }
    const char *ap = o->authority ? o->authority : getenv("THESPIAN_AUTHORITY");
    char guess[PATH_MAX];
    if (ap == NULL || *ap == '\0') {
        /* beside this binary: the build tree, then an install */
        char exe[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
        exe[n > 0 ? n : 0] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash)
            *slash = '\0';
        snprintf(guess, sizeof guess, "%.3000s/../director/authority.so", exe);
        /* installed: LIBDIR/thespian, relative to BINDIR (meson.build) */
        if (access(guess, R_OK) != 0 && TH_AUTHORITY_FROM_BIN[0] == '/')
            snprintf(guess, sizeof guess, "%s/authority.so",
                     TH_AUTHORITY_FROM_BIN);
        else if (access(guess, R_OK) != 0)
            snprintf(guess, sizeof guess, "%.3000s/%s/authority.so", exe,
                     TH_AUTHORITY_FROM_BIN);
        ap = guess;
    }
    st->authority = realpath(ap, NULL);
    if (st->authority == NULL) {
        thi_daemon_report(
            false,
            "the Source Authority plugin %s: %s (give --authority "
            "PATH)",
            ap, strerror(errno));
        return -1;
    }
    char slug[200];
    thi_daemon_endpoint_slug(st->endpoint, slug, sizeof slug);
    snprintf(st->state_dir, sizeof st->state_dir, "%.3800s/state-%.180s",
             st->director_dir, slug);
    return 0;
}
