/*
 * proto/curve.c — CurveZMQ keys, the allow-list and socket options (see
 * curve.h; the ZAP handler is zap.c).
 * Key files are small text files: "public Z85" and "secret Z85" lines.
 * Secret files are made with O_EXCL at mode 0600 and read only when they
 * are ours, not symlinks, and closed to group and others.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "proto/curve.h"
#include "thespian/error.h"

#define MAX_KEY_FILE 4096

static int say(char *why, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
say(char *why, int rc, const char *fmt, ...)
{
    if (why) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, THI_CURVE_WHY, fmt, ap);
        va_end(ap);
    }
    return rc;
}

bool
thi_curve_needed(const char *ep)
{
    return ep && strncmp(ep, "tcp://", 6) == 0;
}

int
thi_curve_key_dir(char *buf, const char *explicit_dir, const char *director_dir,
                  char *why)
{
    const char *env = getenv("THESPIAN_KEY_DIR");
    const char *dd = getenv("THESPIAN_DIRECTOR_DIR");
    const char *home = getenv("HOME");
    int n;
    if (explicit_dir && *explicit_dir)
        n = snprintf(buf, THI_CURVE_PATH, "%s", explicit_dir);
    else if (env && *env)
        n = snprintf(buf, THI_CURVE_PATH, "%s", env);
    else if (director_dir && *director_dir)
        n = snprintf(buf, THI_CURVE_PATH, "%s", director_dir);
    else if (dd && *dd)
        n = snprintf(buf, THI_CURVE_PATH, "%s", dd);
    else if (home && *home)
        n = snprintf(buf, THI_CURVE_PATH, "%s/.thespian", home);
    else
        return say(why, TH_EINVAL,
                   "no key directory: set $THESPIAN_KEY_DIR, "
                   "$THESPIAN_DIRECTOR_DIR or $HOME");
    if (n >= THI_CURVE_PATH - 64)
        return say(why, TH_EINVAL, "key directory %.200s...: path too long",
                   buf);
    return 0;
}

int
thi_curve_keygen(thi_curve_key_t *k, char *why)
{
    memset(k, 0, sizeof *k);
    if (zmq_curve_keypair(k->pub, k->sec) != 0)
        return say(why, TH_EIO, "cannot make a CurveZMQ key pair: %s",
                   zmq_strerror(zmq_errno()));
    return 0;
}

/* Write `text` to a new file (O_EXCL) with `mode`; nothing left on
 * failure. */
static int
write_new(const char *path, const char *text, mode_t mode, char *why)
{
    int fd =
        open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0)
        return say(why, errno == EEXIST ? TH_EEXIST : TH_EIO, "%.400s: %s",
                   path, strerror(errno));
    /* the umask may have taken bits; a secret file must be exactly this */
    size_t n = strlen(text);
    bool ok = fchmod(fd, mode) == 0 && write(fd, text, n) == (ssize_t)n &&
              fsync(fd) == 0;
    int e = errno;
    ok = close(fd) == 0 && ok;
    if (!ok) {
        unlink(path);
        return say(why, TH_EIO, "%.400s: %s", path, strerror(e));
    }
    return 0;
}

int
thi_curve_write_secret(const char *path, const thi_curve_key_t *k, char *why)
{
    char text[256];
    snprintf(text, sizeof text,
             "# thespian CurveZMQ key pair: SECRET, keep this file 0600\n"
             "public %s\nsecret %s\n",
             k->pub, k->sec);
    int rc = write_new(path, text, 0600, why);
    explicit_bzero(text, sizeof text);
    return rc;
}

int
thi_curve_write_public(const char *path, const char *pub, const char *label,
                       char *why)
{
    char text[256];
    snprintf(text, sizeof text,
             "# thespian CurveZMQ public key: %.100s\n"
             "public %s\n",
             label, pub);
    return write_new(path, text, 0644, why);
}

static bool
z85_key(const char *s, size_t n)
{
    if (n != 40)
        return false;
    char tmp[THI_CURVE_Z85];
    memcpy(tmp, s, 40);
    tmp[40] = '\0';
    uint8_t bin[32];
    return zmq_z85_decode(bin, tmp) != NULL;
}

/* Read a small key file through an fd opened without following links,
 * checked with fstat (no race between the check and the read). */
static int
read_key_file(const char *path, bool secret, char *text, size_t size, char *why)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0) {
        if (errno == ELOOP)
            return say(why, TH_EPERM, "%.400s: a symbolic link: refused", path);
        return say(why, errno == ENOENT ? TH_ENOENT : TH_EIO, "%.400s: %s",
                   path, strerror(errno));
    }
    struct stat st;
    int rc = 0;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        rc = say(why, TH_EPERM, "%.400s: not a regular file", path);
    } else if (secret && st.st_uid != geteuid()) {
        rc = say(why, TH_EPERM,
                 "%.400s: owned by uid %u, not by this user (uid %u): refused",
                 path, (unsigned)st.st_uid, (unsigned)geteuid());
    } else if (secret && (st.st_mode & 077)) {
        rc = say(why, TH_EPERM,
                 "%.400s: a secret key open to group or others (mode %03o): "
                 "refused; chmod 600 it (and make a new key if others may "
                 "have read it)",
                 path, (unsigned)(st.st_mode & 0777));
    } else if (st.st_size >= (off_t)size) {
        rc = say(why, TH_EFORMAT, "%.400s: larger than %zu bytes", path,
                 size - 1);
    } else {
        ssize_t n = read(fd, text, size - 1);
        if (n < 0)
            rc = say(why, TH_EIO, "%.400s: %s", path, strerror(errno));
        else
            text[n] = '\0';
    }
    close(fd);
    return rc;
}

/* Parse "public X" / "secret X" / bare X lines. */
static int
parse_key(thi_curve_key_t *k, char *text, const char *path, char *why)
{
    memset(k, 0, sizeof *k);
    int line_no = 0;
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        line_no++;
        size_t n = strlen(line);
        while (n && (line[n - 1] == '\r' || line[n - 1] == ' '))
            line[--n] = '\0';
        while (*line == ' ')
            line++;
        if (*line == '\0' || *line == '#')
            continue;
        char *dst = NULL, *val = line;
        if (strncmp(line, "public ", 7) == 0) {
            dst = k->pub;
            val = line + 7;
        } else if (strncmp(line, "secret ", 7) == 0) {
            dst = k->sec;
            val = line + 7;
        } else {
            dst = k->pub; /* a bare key is a public key */
        }
        while (*val == ' ')
            val++;
        if (!z85_key(val, strlen(val)))
            return say(why, TH_EFORMAT,
                       "%.400s line %d: not a 40-character Z85 key", path,
                       line_no);
        memcpy(dst, val, 40);
        dst[40] = '\0';
    }
    return 0;
}

int
thi_curve_load_secret(thi_curve_key_t *k, const char *path, char *why)
{
    char text[MAX_KEY_FILE];
    int rc = read_key_file(path, true, text, sizeof text, why);
    if (rc == 0)
        rc = parse_key(k, text, path, why);
    explicit_bzero(text, sizeof text);
    if (rc != 0)
        return rc;
    if (k->sec[0] == '\0')
        return say(why, TH_EFORMAT, "%.400s: no \"secret\" key line", path);
    char derived[THI_CURVE_Z85];
    if (zmq_curve_public(derived, k->sec) != 0)
        return say(why, TH_EFORMAT, "%.400s: the secret key is not valid",
                   path);
    if (k->pub[0] && strcmp(k->pub, derived) != 0)
        return say(why, TH_EFORMAT,
                   "%.400s: the public key does not belong to the secret key",
                   path);
    memcpy(k->pub, derived, sizeof derived);
    return 0;
}

int
thi_curve_load_public(char pub[THI_CURVE_Z85], const char *path, char *why)
{
    char text[MAX_KEY_FILE];
    thi_curve_key_t k;
    int rc = read_key_file(path, false, text, sizeof text, why);
    if (rc == 0)
        rc = parse_key(&k, text, path, why);
    if (rc != 0)
        return rc;
    if (k.sec[0]) {
        explicit_bzero(&k, sizeof k);
        return say(why, TH_EFORMAT,
                   "%.400s: holds a secret key; give the public key file",
                   path);
    }
    if (k.pub[0] == '\0')
        return say(why, TH_EFORMAT, "%.400s: no public key in it", path);
    memcpy(pub, k.pub, THI_CURVE_Z85);
    return 0;
}

/* A directory only we may use: exists (made 0700 when missing), not a
 * symlink, ours, and closed to group and others. */
static int
private_dir(const char *path, const char *what, char *why)
{
    if (mkdir(path, 0700) != 0 && errno != EEXIST)
        return say(why, TH_EIO, "%s %.400s: cannot create: %s", what, path,
                   strerror(errno));
    struct stat st;
    if (lstat(path, &st) != 0)
        return say(why, TH_EIO, "%s %.400s: %s", what, path, strerror(errno));
    if (S_ISLNK(st.st_mode))
        return say(why, TH_EPERM, "%s %.400s: a symbolic link: refused", what,
                   path);
    if (!S_ISDIR(st.st_mode))
        return say(why, TH_EPERM, "%s %.400s: not a directory", what, path);
    if (st.st_uid != geteuid())
        return say(why, TH_EPERM,
                   "%s %.400s: owned by uid %u, not by this user (uid %u): "
                   "refused",
                   what, path, (unsigned)st.st_uid, (unsigned)geteuid());
    if (st.st_mode & 077)
        return say(why, TH_EPERM,
                   "%s %.400s: open to group or others (mode %03o): refused; "
                   "chmod 700 it",
                   what, path, (unsigned)(st.st_mode & 0777));
    return 0;
}

static int first_start(thi_curve_key_t *key, bool *created, const char *dir,
                       char *why);

int
thi_curve_host_init(thi_curve_key_t *key, bool *created, const char *kdir,
                    char *why)
{
    *created = false;
    /* K itself may be shared (a director directory others read); only
     * K/curve must be private. K is made 0700 when we make it. */
    if (mkdir(kdir, 0700) != 0 && errno != EEXIST)
        return say(why, TH_EIO, "key directory %.400s: cannot create: %s", kdir,
                   strerror(errno));
    char dir[THI_CURVE_PATH], path[THI_CURVE_PATH + 64];
    snprintf(dir, sizeof dir, "%.4000s/" THI_CURVE_SUBDIR, kdir);
    int rc = private_dir(dir, "key directory", why);
    if (rc != 0)
        return rc;
    snprintf(path, sizeof path, "%s/" THI_CURVE_CLIENTS, dir);
    if (mkdir(path, 0700) != 0 && errno != EEXIST)
        return say(why, TH_EIO, "%.400s: cannot create: %s", path,
                   strerror(errno));
    /* two hosts starting at once on a fresh directory: one makes the
     * keys, the other waits and reads them */
    snprintf(path, sizeof path, "%s/.lock", dir);
    int lock = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (lock < 0 || flock(lock, LOCK_EX) != 0) {
        rc = say(why, TH_EIO, "%.400s: %s", path, strerror(errno));
        if (lock >= 0)
            close(lock);
        return rc;
    }
    rc = first_start(key, created, dir, why);
    close(lock); /* releases the lock */
    return rc;
}

static int
first_start(thi_curve_key_t *key, bool *created, const char *dir, char *why)
{
    char path[THI_CURVE_PATH + 64];
    snprintf(path, sizeof path, "%s/" THI_CURVE_HOST_KEY, dir);
    int rc = thi_curve_load_secret(key, path, why);
    if (rc != TH_ENOENT)
        return rc;

    /* First start: the host's pair, then the operator's, allow-listed.
     * The host key is written last so that a crash in between leaves a
     * directory the next start completes. */
    thi_curve_key_t op;
    char p2[THI_CURVE_PATH + 64];
    if ((rc = thi_curve_keygen(key, why)) != 0 ||
        (rc = thi_curve_keygen(&op, why)) != 0)
        return rc;
    snprintf(p2, sizeof p2, "%s/" THI_CURVE_OPERATOR_KEY, dir);
    unlink(p2); /* left by an interrupted first start */
    rc = thi_curve_write_secret(p2, &op, why);
    snprintf(p2, sizeof p2, "%s/" THI_CURVE_CLIENTS "/operator.pub", dir);
    unlink(p2);
    if (rc == 0)
        rc = thi_curve_write_public(p2, op.pub, "operator", why);
    snprintf(p2, sizeof p2, "%s/" THI_CURVE_HOST_PUB, dir);
    unlink(p2);
    if (rc == 0)
        rc = thi_curve_write_public(p2, key->pub, "host", why);
    if (rc == 0)
        rc = thi_curve_write_secret(path, key, why);
    explicit_bzero(&op, sizeof op);
    if (rc == 0)
        *created = true;
    return rc;
}

bool
thi_curve_allowed(const char *clients_dir, const uint8_t key[32], char name[64],
                  void (*warn)(void *arg, const char *line), void *arg)
{
    char want[THI_CURVE_Z85];
    if (zmq_z85_encode(want, key, 32) == NULL)
        return false;
    /* a directory others may write to could hold anyone's key: then
     * nobody is allowed until it is fixed */
    struct stat dst;
    if (lstat(clients_dir, &dst) != 0 || !S_ISDIR(dst.st_mode) ||
        (dst.st_uid != geteuid() && dst.st_uid != 0) || (dst.st_mode & 022)) {
        if (warn) {
            char line[600];
            snprintf(line, sizeof line,
                     "allow-list %.400s: not a directory of this user closed "
                     "to writes by others: every client refused",
                     clients_dir);
            warn(arg, line);
        }
        return false;
    }
    DIR *d = opendir(clients_dir);
    if (d == NULL) {
        if (warn) {
            char line[600];
            snprintf(line, sizeof line, "allow-list %.400s: %s", clients_dir,
                     strerror(errno));
            warn(arg, line);
        }
        return false;
    }
    bool found = false;
    struct dirent *e;
    while (!found && (e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n < 5 || n > 60 + 4 || strcmp(e->d_name + n - 4, ".pub") != 0 ||
            e->d_name[0] == '.')
            continue;
        char path[THI_CURVE_PATH + 80], why[THI_CURVE_WHY];
        snprintf(path, sizeof path, "%.4000s/%s", clients_dir, e->d_name);
        struct stat st;
        char pub[THI_CURVE_Z85];
        int rc = 0;
        if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode))
            rc =
                say(why, TH_EPERM, "%.400s: not a regular file: skipped", path);
        else if (st.st_uid != geteuid() && st.st_uid != 0)
            rc = say(why, TH_EPERM,
                     "%.400s: owned by uid %u (neither this user nor root): "
                     "skipped",
                     path, (unsigned)st.st_uid);
        else if (st.st_mode & 022)
            rc = say(why, TH_EPERM,
                     "%.400s: writable by group or others: skipped", path);
        else
            rc = thi_curve_load_public(pub, path, why);
        if (rc != 0) {
            if (warn)
                warn(arg, why);
            continue;
        }
        if (strcmp(pub, want) == 0) {
            found = true;
            snprintf(name, 64, "%.*s", (int)(n - 4), e->d_name);
        }
    }
    closedir(d);
    return found;
}

/* ---- Sockets ------------------------------------------------------------- */

int
thi_curve_server(void *sock, const thi_curve_key_t *k, char *why)
{
    int one = 1;
    if (zmq_setsockopt(sock, ZMQ_CURVE_SERVER, &one, sizeof one) != 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, k->sec, 40) != 0 ||
        zmq_setsockopt(sock, ZMQ_ZAP_DOMAIN, "thespian", 8) != 0)
        return say(why, TH_EIO, "cannot make a CurveZMQ server: %s",
                   zmq_strerror(zmq_errno()));
    return 0;
}

int
thi_curve_client(void *sock, const thi_curve_key_t *mine,
                 const char *server_pub, char *why)
{
    if (zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, server_pub, 40) != 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, mine->pub, 40) != 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, mine->sec, 40) != 0)
        return say(why, TH_EIO, "cannot make a CurveZMQ client: %s",
                   zmq_strerror(zmq_errno()));
    return 0;
}

int
thi_curve_client_keys(thi_curve_key_t *mine, char server_pub[THI_CURVE_Z85],
                      const char *key_path, const char *server_path, char *why)
{
    char kdir[THI_CURVE_PATH], p[THI_CURVE_PATH + 64];
    const char *kp =
        key_path && *key_path ? key_path : getenv("THESPIAN_ADMIN_KEY");
    const char *sp = server_path && *server_path
                         ? server_path
                         : getenv("THESPIAN_SERVER_KEY");
    const char *kfrom = key_path && *key_path ? "--admin-key"
                        : kp && *kp           ? "$THESPIAN_ADMIN_KEY"
                                              : "the default";
    int rc;
    if (!(kp && *kp) || !(sp && *sp)) {
        if ((rc = thi_curve_key_dir(kdir, NULL, NULL, why)) != 0)
            return rc;
    }
    if (kp && *kp) {
        snprintf(p, sizeof p, "%s", kp);
    } else {
        snprintf(p, sizeof p,
                 "%.4000s/" THI_CURVE_SUBDIR "/" THI_CURVE_OPERATOR_KEY, kdir);
    }
    rc = thi_curve_load_secret(mine, p, why);
    if (rc == TH_ENOENT)
        return say(why, rc,
                   "no admin key at %.400s (%s): the host's first start "
                   "makes one for its user; elsewhere make one with "
                   "`thespian keygen --admin NAME`, allow-list NAME.pub on "
                   "the host, and give --admin-key or $THESPIAN_ADMIN_KEY",
                   p, kfrom);
    if (rc != 0)
        return rc;
    if (sp && *sp)
        snprintf(p, sizeof p, "%s", sp);
    else
        snprintf(p, sizeof p,
                 "%.4000s/" THI_CURVE_SUBDIR "/" THI_CURVE_HOST_PUB, kdir);
    rc = thi_curve_load_public(server_pub, p, why);
    if (rc == TH_ENOENT)
        return say(why, rc,
                   "no host public key at %.400s: copy the host's "
                   "curve/host.pub and give --server-key or "
                   "$THESPIAN_SERVER_KEY",
                   p);
    return rc;
}

int
thi_curve_ipc_dir(const char *ep, char *why)
{
    if (ep == NULL || strncmp(ep, "ipc://", 6) != 0)
        return 0;
    char dir[THI_CURVE_PATH];
    snprintf(dir, sizeof dir, "%s", ep + 6);
    char *slash = strrchr(dir, '/');
    if (slash == NULL)
        snprintf(dir, sizeof dir, ".");
    else if (slash == dir)
        snprintf(dir, sizeof dir, "/");
    else
        *slash = '\0';
    return private_dir(dir, "ipc socket directory", why);
}
