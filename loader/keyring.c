/*
 * loader/keyring.c — trusted public keys (keyring.h). Every check on the
 * key directory and its files is made on what was opened (fstat on the
 * descriptor, O_NOFOLLOW), so a file swapped between check and read is
 * never trusted by mistake.
 */
#include "loader/keyring.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/array.h"
#include "thespian/error.h"

typedef struct kr_ent {
    thi_key_t *key;
    uint8_t fp[THI_SHA256_LEN];
    char name[256];
} kr_ent_t;

typedef struct kr_skip {
    char name[256];
    char reason[512];
} kr_skip_t;

struct thi_keyring {
    kr_ent_t *e;
    size_t n, cap;
    kr_skip_t *s;
    size_t n_skip, cap_skip;
    size_t n_files;     /* *_tls.key files seen */
    char dir[4096];     /* "" when built in memory */
    char problem[600];  /* why no key is trusted, or "" */
};

int
thi_keyring_create(thi_keyring_t **out)
{
    *out = calloc(1, sizeof **out);
    return *out ? 0 : TH_ENOMEM;
}

int
thi_keyring_add(thi_keyring_t *kr, thi_key_t **key, const char *name)
{
    if (THI_RESERVE(kr->e, kr->cap, kr->n + 1, 8) != 0)
        return TH_ENOMEM;
    kr_ent_t *e = &kr->e[kr->n++];
    e->key = *key;
    *key = NULL;
    thi_key_fingerprint(e->fp, e->key);
    snprintf(e->name, sizeof e->name, "%s", name);
    return 0;
}

size_t
thi_keyring_count(const thi_keyring_t *kr)
{
    return kr ? kr->n : 0;
}

const thi_key_t *
thi_keyring_find(const thi_keyring_t *kr, const uint8_t fp[THI_SHA256_LEN],
                 const char **name)
{
    for (size_t i = 0; kr && i < kr->n; i++)
        if (memcmp(kr->e[i].fp, fp, THI_SHA256_LEN) == 0) {
            if (name)
                *name = kr->e[i].name;
            return kr->e[i].key;
        }
    return NULL;
}

void
thi_keyring_destroy(thi_keyring_t *kr)
{
    if (kr == NULL)
        return;
    for (size_t i = 0; i < kr->n; i++)
        thi_key_destroy(kr->e[i].key);
    free(kr->e);
    free(kr->s);
    free(kr);
}

static void
append_line(char **acc, const char *line)
{
    if (acc == NULL)
        return;
    size_t old = *acc ? strlen(*acc) : 0, add = strlen(line);
    char *n = realloc(*acc, old + add + 2);
    if (n == NULL)
        return;
    memcpy(n + old, line, add);
    n[old + add] = '\n';
    n[old + add + 1] = '\0';
    *acc = n;
}

/* Record a skipped key file (and warn). */
static int
skip(thi_keyring_t *kr, const char *name, const char *reason, char **warnings)
{
    char line[700];
    snprintf(line, sizeof line, "key file skipped: %s", reason);
    append_line(warnings, line);
    if (THI_RESERVE(kr->s, kr->cap_skip, kr->n_skip + 1, 4) != 0)
        return TH_ENOMEM;
    kr_skip_t *s = &kr->s[kr->n_skip++];
    snprintf(s->name, sizeof s->name, "%s", name);
    snprintf(s->reason, sizeof s->reason, "%s", reason);
    return 0;
}

/* The ownership and mode rule shared by the directory and its files:
 * whoever can write there can choose what this host runs. Returns NULL or
 * the reason (in buf). */
static const char *
owner_mode_problem(const struct stat *st, char *buf, size_t n)
{
    uid_t me = geteuid();
    if (st->st_mode & (S_IWGRP | S_IWOTH))
        snprintf(buf, n, "is %s-writable (mode %04o)",
                 (st->st_mode & S_IWOTH) ? "world" : "group",
                 (unsigned)(st->st_mode & 07777));
    else if (st->st_uid != me && st->st_uid != 0)
        snprintf(buf, n,
                 "is owned by uid %u, not by this host's user (uid %u) or "
                 "root",
                 (unsigned)st->st_uid, (unsigned)me);
    else
        return NULL;
    return buf;
}

static const char *
kind_of(mode_t m)
{
    return S_ISDIR(m)    ? "a directory"
           : S_ISFIFO(m) ? "a FIFO"
           : S_ISSOCK(m) ? "a socket"
           : S_ISCHR(m) || S_ISBLK(m) ? "a device"
                                      : "not a regular file";
}

/* Open and check the directory; returns its descriptor, or -1 with
 * kr->problem set. */
static int
open_dir(thi_keyring_t *kr, const char *dir)
{
    char why[300];
    struct stat lst, st;
    if (lstat(dir, &lst) != 0) {
        snprintf(kr->problem, sizeof kr->problem,
                 "key directory %s: %s", dir, strerror(errno));
        return -1;
    }
    if (S_ISLNK(lst.st_mode)) {
        snprintf(kr->problem, sizeof kr->problem,
                 "key directory %s is a symbolic link", dir);
        return -1;
    }
    if (!S_ISDIR(lst.st_mode)) {
        snprintf(kr->problem, sizeof kr->problem,
                 "key directory %s is not a directory", dir);
        return -1;
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0) {
        snprintf(kr->problem, sizeof kr->problem,
                 "key directory %s: cannot open: %s", dir, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    if (st.st_dev != lst.st_dev || st.st_ino != lst.st_ino) {
        snprintf(kr->problem, sizeof kr->problem,
                 "key directory %s changed while it was opened", dir);
        close(fd);
        return -1;
    }
    if (owner_mode_problem(&st, why, sizeof why)) {
        snprintf(kr->problem, sizeof kr->problem, "key directory %s %s", dir,
                 why);
        close(fd);
        return -1;
    }
    return fd;
}

/* Read one key file through dfd under the policy. Returns 0 with *out, or
 * a code with `reason` filled. */
static int
load_one(thi_key_t **out, int dfd, const char *dir, const char *name,
         th_diag_t *reason)
{
    char path[4400], why[300];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    /* O_NONBLOCK: a FIFO must not hang the host */
    int fd = openat(dfd, name,
                    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        return thi_diag_set(reason, TH_EIO, "%s: %s", path,
                            errno == ELOOP ? "is a symbolic link"
                                           : strerror(errno));
    struct stat st;
    int rc = 0;
    char *buf = NULL;
    if (fstat(fd, &st) != 0) {
        rc = thi_diag_set(reason, TH_EIO, "%s: %s", path, strerror(errno));
        goto out_close;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = thi_diag_set(reason, TH_EINVAL, "%s: is %s", path,
                          kind_of(st.st_mode));
        goto out_close;
    }
    if (owner_mode_problem(&st, why, sizeof why)) {
        rc = thi_diag_set(reason, TH_EPERM, "%s: %s", path, why);
        goto out_close;
    }
    if (st.st_size > (off_t)THI_KEY_FILE_MAX) {
        rc = thi_diag_set(reason, TH_ETOOBIG,
                          "%s: %lld bytes is too large for a key file", path,
                          (long long)st.st_size);
        goto out_close;
    }
    size_t cap = (size_t)st.st_size + 1, len = 0;
    buf = malloc(cap);
    if (buf == NULL) {
        rc = thi_diag_set(reason, TH_ENOMEM, "%s: out of memory", path);
        goto out_close;
    }
    while (len < cap) {
        ssize_t r = read(fd, buf + len, cap - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = thi_diag_set(reason, TH_EIO, "%s: %s", path,
                              strerror(errno));
            goto out_close;
        }
        if (r == 0)
            break;
        len += (size_t)r;
    }
    if (len == cap) { /* grew since fstat */
        rc = thi_diag_set(reason, TH_EIO, "%s: changed while read", path);
        goto out_close;
    }
    rc = thi_key_load_public(out, buf, len, path, reason);
out_close:
    free(buf);
    close(fd);
    return rc;
}

static int
by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int
thi_keyring_load_dir(thi_keyring_t **out, const char *dir, char **warnings,
                     th_diag_t *d)
{
    thi_keyring_t *kr;
    if (thi_keyring_create(&kr) != 0)
        return thi_diag_set(d, TH_ENOMEM, "out of memory");
    snprintf(kr->dir, sizeof kr->dir, "%s", dir);
    int dfd = open_dir(kr, dir);
    DIR *dh = NULL;
    if (dfd >= 0) {
        int lfd = dup(dfd); /* fdopendir owns what it is given */
        dh = lfd >= 0 ? fdopendir(lfd) : NULL;
        if (dh == NULL) {
            if (lfd >= 0)
                close(lfd);
            snprintf(kr->problem, sizeof kr->problem,
                     "key directory %s: cannot read: %s", dir,
                     strerror(errno));
        }
    }
    if (kr->problem[0]) {
        char line[700];
        snprintf(line, sizeof line, "%s: no key is trusted", kr->problem);
        append_line(warnings, line);
        if (dfd >= 0)
            close(dfd);
        *out = kr;
        return 0;
    }
    /* sorted, so the key that verifies is the same one every time */
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(dh)) != NULL) {
        size_t l = strlen(de->d_name);
        if (l <= 8 || strcmp(de->d_name + l - 8, "_tls.key") != 0)
            continue;
        if (THI_RESERVE(names, cap, n + 1, 16) != 0) {
            rc = TH_ENOMEM;
            break;
        }
        if ((names[n] = strdup(de->d_name)) == NULL)
            rc = TH_ENOMEM;
        else
            n++;
    }
    closedir(dh);
    if (n)
        qsort(names, n, sizeof *names, by_name);
    kr->n_files = n;
    for (size_t i = 0; i < n; i++) {
        th_diag_t kd = {0};
        thi_key_t *key = NULL;
        if (rc == 0 && load_one(&key, dfd, dir, names[i], &kd) != 0)
            rc = skip(kr, names[i], kd.msg, warnings);
        else if (rc == 0 && thi_keyring_add(kr, &key, names[i]) != 0)
            rc = TH_ENOMEM;
        thi_key_destroy(key);
        free(names[i]);
    }
    free(names);
    close(dfd);
    if (rc != 0) {
        thi_keyring_destroy(kr);
        return thi_diag_set(d, TH_ENOMEM, "%s: out of memory", dir);
    }
    if (kr->n == 0 && kr->n_files == 0)
        snprintf(kr->problem, sizeof kr->problem, "no *_tls.key file in %s",
                 dir);
    else if (kr->n == 0)
        snprintf(kr->problem, sizeof kr->problem,
                 "every key file in %s was skipped (%zu; see the warnings)",
                 dir, kr->n_skip);
    *out = kr;
    return 0;
}

const char *
thi_keyring_problem(const thi_keyring_t *kr)
{
    if (kr == NULL)
        return "no key directory is configured";
    if (kr->n > 0)
        return "";
    if (kr->problem[0])
        return kr->problem;
    return "the keyring is empty";
}

json_t *
thi_keyring_json(const thi_keyring_t *kr)
{
    json_t *trusted = json_array(), *skipped = json_array();
    json_t *o = json_object();
    if (!trusted || !skipped || !o) {
        json_decref(trusted);
        json_decref(skipped);
        json_decref(o);
        return NULL;
    }
    for (size_t i = 0; kr && i < kr->n; i++) {
        char hex[2 * THI_SHA256_LEN + 1];
        thi_hex(hex, kr->e[i].fp, THI_SHA256_LEN);
        json_array_append_new(
            trusted, json_pack("{s:s, s:s, s:I}", "file", kr->e[i].name,
                               "fingerprint", hex, "bits",
                               (json_int_t)thi_key_bits(kr->e[i].key)));
    }
    for (size_t i = 0; kr && i < kr->n_skip; i++)
        json_array_append_new(skipped,
                              json_pack("{s:s, s:s}", "file", kr->s[i].name,
                                        "reason", kr->s[i].reason));
    json_object_set_new(o, "dir", json_string(kr ? kr->dir : ""));
    const char *p = thi_keyring_problem(kr);
    if (p[0])
        json_object_set_new(o, "problem", json_string(p));
    json_object_set_new(o, "trusted", trusted);
    json_object_set_new(o, "skipped", skipped);
    return o;
}
