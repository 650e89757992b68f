/*
 * director/cli_bundle.c — the offline bundle commands: gensrc (a signed,
 * reproducible .tls bundle from plugin files) and tlsinfo (check a bundle against the director directory's keys and show
 * or extract what it holds). None of them needs a running host.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "director/cli.h"
#include "director/cli_cmds.h"
#include "director/tli.h"
#include "base/array.h"
#include "loader/bundle.h"
#include "loader/describe.h"
#include "loader/elf_policy.h"
#include "loader/plugin.h"
#include "loader/privatize.h"

/* ---- gensrc -------------------------------------------------------------------- */

typedef struct file_list {
    char **paths; /* relative to the sources directory */
    size_t n, cap;
} file_list_t;

static void
list_free(file_list_t *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->paths[i]);
    free(l->paths);
}

static int
list_add(file_list_t *l, const char *p)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->paths[i], p) == 0)
            return 0;
    if (THI_RESERVE(l->paths, l->cap, l->n + 1, 32) != 0)
        return -1;
    l->paths[l->n] = strdup(p);
    return l->paths[l->n] ? (int)++l->n : -1;
}

/* Every regular file under base/rel, as paths relative to base. */
static int
walk(const char *base, const char *rel, int depth, file_list_t *out)
{
    char path[4400];
    snprintf(path, sizeof path, "%s%s%s", base, *rel ? "/" : "", rel);
    DIR *dh = opendir(path);
    if (dh == NULL)
        return -errno;
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(dh)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char child[4400], full[8800];
        snprintf(child, sizeof child, "%s%s%s", rel, *rel ? "/" : "",
                 e->d_name);
        snprintf(full, sizeof full, "%s/%s", base, child);
        struct stat st;
        if (stat(full, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode) && depth < 32)
            rc = walk(base, child, depth + 1, out);
        else if (S_ISREG(st.st_mode) && list_add(out, child) < 0)
            rc = -ENOMEM;
        if (out->n > THI_BUNDLE_MAX_FILES)
            rc = -E2BIG;
    }
    closedir(dh);
    return rc;
}

/* Shell-style match of one path against a pattern where "**" spans any
 * number of directories. */
static bool
glob_match(const char *pat, const char *path)
{
    if (*pat == '\0')
        return *path == '\0';
    size_t pl = strcspn(pat, "/");
    if (pl == 2 && pat[0] == '*' && pat[1] == '*') {
        const char *rest = pat[2] == '/' ? pat + 3 : pat + 2;
        for (const char *p = path;; p++) {
            if ((p == path || p[-1] == '/') && glob_match(rest, p))
                return true;
            if (*p == '\0')
                return false;
        }
    }
    size_t sl = strcspn(path, "/");
    char ps[256], ss[256];
    if (pl >= sizeof ps || sl >= sizeof ss)
        return false;
    memcpy(ps, pat, pl);
    ps[pl] = '\0';
    memcpy(ss, path, sl);
    ss[sl] = '\0';
    if (fnmatch(ps, ss, FNM_PERIOD) != 0)
        return false;
    if (pat[pl] == '\0' || path[sl] == '\0')
        return pat[pl] == '\0' && path[sl] == '\0';
    return glob_match(pat + pl + 1, path + sl + 1);
}

static bool
is_shared_object(const char *p)
{
    const char *so = strstr(p, ".so");
    return so && (so[3] == '\0' || so[3] == '.');
}

static int
read_deps(const cli_cmd_t *cmd, const char *file, const char *src,
          file_list_t *deps)
{
    uint8_t *text = NULL;
    size_t len = 0;
    th_diag_t d = {0};
    if (thi_read_file(&text, &len, file, 1 << 20, &d) != 0)
        return cli_fail(cmd, "deps: %s", d.msg);
    char *s = (char *)text, *save = NULL;
    text = realloc(text, len + 1);
    s = (char *)text;
    s[len] = '\0';
    int rc = CLI_OK;
    int lineno = 0;
    for (char *line = strtok_r(s, "\n", &save); line && rc == CLI_OK;
         line = strtok_r(NULL, "\n", &save)) {
        lineno++;
        line[strcspn(line, "\r")] = '\0';
        while (*line == ' ' || *line == '\t')
            line++;
        if (*line == '\0' || *line == '#')
            continue;
        char full[8800];
        snprintf(full, sizeof full, "%s/%s", src, line);
        struct stat st;
        if (line[0] == '/' || strstr(line, "..") || stat(full, &st) != 0 ||
            !S_ISREG(st.st_mode))
            rc = cli_fail(cmd,
                          "%s line %d: \"%s\" is not a file under %s "
                          "(paths are relative to SOURCES_DIR)",
                          file, lineno, line, src);
        else if (list_add(deps, line) < 0)
            rc = cli_fail(cmd, "out of memory");
    }
    free(text);
    return rc;
}


static int
run_gensrc(int argc, char **argv)
{
    const cli_cmd_t *cmd = &cli_cmd_gensrc;
    const char *outpath = NULL, *info = NULL;
    bool as_json = false;
    cli_opt_t opts[] = {{"o", CLI_STRING, &outpath},
                        {"info", CLI_STRING, &info},
                        {"json", CLI_FLAG, &as_json},
                        {NULL, CLI_FLAG, NULL}};
    const char *pos[64];
    size_t n;
    int done;
    /* Thespian's short -o PATH, spelled as the parser's --o */
    char *args[256];
    if (argc > 256)
        return cli_usage_error(cmd, "too many arguments");
    for (int i = 0; i < argc; i++)
        args[i] = strcmp(argv[i], "-o") ? argv[i] : (char *)"--o";
    if (!cli_parse(cmd, argc, args, opts, pos, 4, 64, &n, &done))
        return done;
    const char *group = pos[0], *keyfile = pos[1], *src = pos[2];
    const char *version = NULL, *depsfile = NULL, *tlifile = NULL;
    char datebuf[16];
    file_list_t globs = {0}, files = {0}, deps = {0};
    for (size_t i = 3; i < n; i++) {
        if (!strncmp(pos[i], "version:", 8)) {
            version = pos[i] + 8;
        } else if (!strncmp(pos[i], "deps:", 5)) {
            depsfile = pos[i] + 5;
        } else if (!strncmp(pos[i], "tli:", 4)) {
            tlifile = pos[i] + 4;
        } else if (list_add(&globs, pos[i]) < 0) {
            return cli_fail(cmd, "out of memory");
        }
    }
    int rc = CLI_OK;
    if (!thi_group_name_ok(group)) {
        rc = cli_usage_error(cmd,
                             "group \"%s\" must be 1-64 of A-Z a-z 0-9 _ -",
                             group);
        goto out;
    }
    if (version && !strcmp(version, "date")) {
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(datebuf, sizeof datebuf, "%Y%m%d%H%M", &tm);
        version = datebuf;
    }
    if (version && !thi_version_ok(version)) {
        rc = cli_usage_error(cmd,
                             "version \"%s\" must be fields of A-Z a-z 0-9 _ "
                             "- joined by '.', or \"date\"",
                             version);
        goto out;
    }
    if (globs.n == 0) {
        rc = cli_usage_error(cmd, "no GLOB given: name the files to bundle");
        goto out;
    }
    struct stat st;
    if (stat(src, &st) != 0 || !S_ISDIR(st.st_mode)) {
        rc = cli_fail(cmd, "SOURCES_DIR %s is not a directory", src);
        goto out;
    }
    th_diag_t d = {0};
    thi_key_t *key = NULL; /* read only once every check has passed */
    file_list_t all = {0};
    int e = walk(src, "", 0, &all);
    if (e != 0) {
        rc = cli_fail(cmd, "%s: %s", src,
                      e == -E2BIG ? "more files than a bundle may hold"
                                  : strerror(-e));
        goto out_all;
    }
    for (size_t g = 0; g < globs.n; g++) {
        size_t before = files.n;
        for (size_t i = 0; i < all.n; i++)
            if (glob_match(globs.paths[g], all.paths[i]))
                list_add(&files, all.paths[i]);
        if (files.n == before) {
            rc = cli_fail(cmd, "%s matches no file under %s", globs.paths[g],
                          src);
            goto out_all;
        }
    }
    if (depsfile && (rc = read_deps(cmd, depsfile, src, &deps)) != CLI_OK)
        goto out_all;
    for (size_t i = 0; i < deps.n; i++)
        list_add(&files, deps.paths[i]);
    /* the TLI: tli:FILE, else SOURCES_DIR/GROUP.tli when it exists */
    char tlidef[4400];
    snprintf(tlidef, sizeof tlidef, "%s/%s.tli", src, group);
    if (tlifile == NULL && access(tlidef, F_OK) == 0)
        tlifile = tlidef;
    json_t *tli = NULL;
    if (tlifile) {
        json_error_t je;
        tli = json_load_file(tlifile, JSON_REJECT_DUPLICATES, &je);
        if (tli == NULL) {
            rc = cli_fail(cmd, "%s: not valid JSON: %s (line %d)", tlifile,
                          je.text, je.line);
            goto out_all;
        }
        if (thi_tli_check(tli, tlifile, &d) != 0) {
            rc = cli_fail(cmd, "%s", d.msg);
            goto out_tli;
        }
    }
    /* read every file once: the checks, the hashes and the archive all use
     * these bytes; the bundle is built only if all pass */
    thi_bundle_input_t *in = calloc(files.n + 1, sizeof *in);
    uint8_t **data = calloc(files.n + 1, sizeof *data);
    char **names = calloc(files.n + 1, sizeof *names);
    const char ***classes = calloc(files.n + 1, sizeof *classes);
    json_t *desc = NULL;
    uint8_t **renamed = NULL;
    size_t n_plugins = 0;
    if (!in || !data || !names || !classes) {
        rc = cli_fail(cmd, "out of memory");
        goto out_in;
    }
    for (size_t i = 0; i < files.n; i++) {
        char full[8800];
        snprintf(full, sizeof full, "%s/%s", src, files.paths[i]);
        names[i] = strdup(full);
        bool is_dep = false;
        for (size_t k = 0; k < deps.n; k++)
            is_dep = is_dep || !strcmp(deps.paths[k], files.paths[i]);
        const char *kind = is_dep                                ? "library"
                           : is_shared_object(files.paths[i]) ? "plugin"
                                                                : "data";
        n_plugins += !strcmp(kind, "plugin");
        size_t len = 0;
        thi_diag_clear(&d);
        if (names[i] == NULL ||
            thi_read_file(&data[i], &len, full, THI_BUNDLE_MAX_FILE, &d)) {
            rc = cli_fail(cmd, "%s", names[i] ? d.msg : "out of memory");
            goto out_in;
        }
        in[i] = (thi_bundle_input_t){.path = files.paths[i],
                                     .kind = kind,
                                     .data = data[i],
                                     .size = len};
    }
    if (n_plugins == 0) {
        rc = cli_fail(cmd, "no plugin among the files: a bundle needs at "
                           "least one .so with a %s descriptor",
                      TH_PLUGIN_SYMBOL);
        goto out_in;
    }
    /* private libraries get sonames unique to this bundle (NAME.th-TAG),
     * and their users' NEEDED entries follow: the host maps every source
     * into one namespace, where a shared soname would bind one version's
     * code to another's library (docs/loading.md) */
    thi_diag_clear(&d);
    if (thi_privatize(in, files.n, group, version, &renamed, NULL, &d) != 0) {
        rc = cli_fail(cmd, "%s", d.msg);
        goto out_in;
    }
    /* what a host would refuse is not signed: the ELF policy first (read,
     * never run), then the descriptors, mapped in a child process that
     * never had the key */
    thi_diag_clear(&d);
    if (thi_elf_check_bundle(in, files.n, src, &d) != 0 ||
        thi_plugins_describe(&desc, in, (const char *const *)names,
                             files.n, &d) != 0) {
        rc = cli_fail(cmd, "%s", d.msg);
        goto out_in;
    }
    for (size_t i = 0; i < files.n; i++) {
        json_t *pd = json_object_get(desc, files.paths[i]);
        if (strcmp(in[i].kind, "plugin"))
            continue;
        json_t *cl = json_object_get(pd, "classes");
        classes[i] = calloc(json_array_size(cl) + 1, sizeof *classes[i]);
        if (classes[i] == NULL) {
            rc = cli_fail(cmd, "out of memory");
            goto out_in;
        }
        size_t k;
        json_t *c;
        json_array_foreach(cl, k, c) classes[i][k] = json_string_value(c);
        in[i].plugin = json_string_value(json_object_get(pd, "plugin"));
        in[i].classes = classes[i];
    }
    thi_diag_clear(&d);
    if (thi_key_load_private_file(&key, keyfile, &d) != 0) {
        rc = cli_fail(cmd, "%s", d.msg);
        goto out_in;
    }
    /* the manifest check refuses a TLI naming a class no plugin declares */
    uint8_t *bundle = NULL;
    size_t blen = 0;
    thi_diag_clear(&d);
    if (thi_bundle_build(&bundle, &blen, group, version,
                         info ? info : group, tli, in, files.n, key, &d)) {
        rc = cli_fail(cmd, "%s", d.msg);
        goto out_in;
    }
    char target[4400], dir[4096];
    if (outpath) {
        snprintf(target, sizeof target, "%s", outpath);
    } else {
        cli_director_dir(dir, sizeof dir);
        if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
            rc = cli_fail(cmd,
                          "director directory %s does not exist (set "
                          "THESPIAN_DIRECTOR_DIR or use -o PATH)",
                          dir);
            free(bundle);
            goto out_in;
        }
        snprintf(target, sizeof target, "%s/%s%s%s.tls", dir, group,
                 version ? "-" : "", version ? version : "");
    }
    thi_diag_clear(&d);
    if (thi_write_file_atomic(target, bundle, blen, &d) != 0) {
        rc = cli_fail(cmd, "%s", d.msg);
    } else {
        uint8_t h[32];
        char hex[65];
        thi_sha256(h, bundle, blen);
        thi_hex(hex, h, 32);
        if (as_json) {
            json_t *o = json_pack("{s:s, s:s, s:s, s:s?}", "hash", hex,
                                  "path", target, "group", group, "version",
                                  version);
            cli_json_print(o);
            json_decref(o);
        } else {
            printf("%s  %s\n", hex, target);
        }
    }
    free(bundle);
out_in:
    for (size_t i = 0; i < files.n; i++) {
        if (data)
            free(data[i]);
        if (names)
            free(names[i]);
        if (classes)
            free(classes[i]);
    }
    thi_privatize_free(renamed, files.n);
    free(data);
    free(names);
    free(classes);
    free(in);
    json_decref(desc);
out_tli:
    json_decref(tli);
out_all:
    list_free(&all);
    thi_key_destroy(key);
out:
    list_free(&globs);
    list_free(&files);
    list_free(&deps);
    return rc;
}

const cli_cmd_t cli_cmd_gensrc = {
    "gensrc", "build and sign a .tls bundle",
    "usage: thespian gensrc GROUP PRIVKEY SOURCES_DIR [version:V] "
    "[deps:FILE]\n"
    "                       [tli:FILE] [--info TEXT] [-o PATH] [--json] "
    "GLOB...\n"
    "Bundle the files under SOURCES_DIR that the GLOBs match (relative to\n"
    "SOURCES_DIR; '**' spans directories), sign with PRIVKEY and write\n"
    "GROUP-V.tls (GROUP.tls without a version) into $THESPIAN_DIRECTOR_DIR,\n"
    "or PATH. Each .so must be a thespian-c plugin this host accepts, unless\n"
    "deps:FILE lists it (one path per line, relative to SOURCES_DIR) as a\n"
    "private library the plugins need. Other files are data. tli:FILE (by\n"
    "default SOURCES_DIR/GROUP.tli, if any) is checked and signed into the\n"
    "manifest. version:date stamps YYYYMMDDHHMM (UTC). The same inputs give\n"
    "a byte-identical bundle. Prints the source hash and the path (--json:\n"
    "{\"hash\", \"path\", \"group\", \"version\"}).\n"
    "Before signing: each file is read once; plugins and libraries must\n"
    "meet the ELF policy (this host's machine; RPATH/RUNPATH only $ORIGIN\n"
    "inside the bundle; NEEDED libraries in the bundle or the system's\n"
    "trusted directories); plugins are mapped in a child process that never\n"
    "had the key, to read their names and classes into the manifest.\n",
    run_gensrc,
};

/* ---- tlsinfo -------------------------------------------------------------------- */


static int
run_tlsinfo(int argc, char **argv)
{
    const cli_cmd_t *cmd = &cli_cmd_tlsinfo;
    const char *pos[2];
    bool as_json = false;
    cli_opt_t opts[] = {{"json", CLI_FLAG, &as_json}, {NULL, CLI_FLAG, NULL}};
    size_t n;
    int done;
    if (!cli_parse(cmd, argc, argv, opts, pos, 1, 2, &n, &done))
        return done;
    if (as_json && n == 2 && strcmp(pos[1], "contents") != 0)
        return cli_usage_error(cmd, "--json: a member's bytes are not JSON "
                                    "(use it with no PATH, or contents)");
    char dir[4096];
    cli_director_dir(dir, sizeof dir);
    uint8_t *buf = NULL;
    size_t len = 0;
    th_diag_t d = {0};
    if (thi_read_file(&buf, &len, pos[0], THI_BUNDLE_MAX_BYTES, &d) != 0)
        return cli_fail(cmd, "%s", d.msg);
    thi_keyring_t *kr = NULL;
    char *warnings = NULL;
    int rc = CLI_OK;
    if (thi_keyring_load_dir(&kr, dir, &warnings, &d) != 0) {
        rc = cli_fail(cmd, "%s", d.msg);
        goto out;
    }
    if (warnings)
        cli_put_lines(stderr, warnings);
    thi_verified_t v;
    if (thi_bundle_verify(&v, buf, len, kr, pos[0], &d) != 0) {
        rc = cli_fail(cmd, "%s (keys from %s: %zu usable)", d.msg, dir,
                      thi_keyring_count(kr));
        goto out;
    }
    thi_bundle_t *b = NULL;
    if (thi_bundle_read(&b, buf, v.signed_len, pos[0], &d) != 0) {
        rc = cli_fail(cmd, "%s", d.msg);
        goto out;
    }
    if (as_json) {
        json_t *o;
        if (n == 1) {
            o = json_pack("{s:s, s:s, s:s?, s:s, s:s, s:s, s:I, s:b}",
                          "bundle", pos[0], "group", b->group, "version",
                          b->version, "info", b->info, "hash", v.source_hex,
                          "signedBy", v.key_name, "files",
                          (json_int_t)b->n_files, "tli", b->tli != NULL);
        } else {
            o = json_array();
            for (size_t i = 0; i < b->n_files; i++)
                json_array_append_new(
                    o, json_pack("{s:s, s:I, s:s}", "path", b->files[i].path,
                                 "size", (json_int_t)b->files[i].size, "kind",
                                 b->files[i].kind));
        }
        cli_json_print(o);
        json_decref(o);
    } else if (n == 1) {
        printf("bundle:      %s\ngroup:       %s\nversion:     %s\n"
               "info:        %s\nsource hash: %s\nsigned by:   %s\n"
               "files:       %zu\ntli:         %s\n",
               cli_safe(pos[0]), cli_safe(b->group),
               b->version ? cli_safe(b->version) : "(unversioned)",
               cli_safe(b->info), v.source_hex, cli_safe(v.key_name),
               b->n_files,
               b->tli ? "yes" : "no");
    } else if (!strcmp(pos[1], "contents")) {
        /* every member, as zip tools list them: the manifest too */
        printf("%10zu  %-8s  %s\n", b->manifest_len, "manifest",
               THI_MANIFEST_NAME);
        for (size_t i = 0; i < b->n_files; i++)
            printf("%10zu  %-8s  %s\n", b->files[i].size,
                   cli_safe(b->files[i].kind), cli_safe(b->files[i].path));
    } else if (!strcmp(pos[1], THI_MANIFEST_NAME)) {
        fwrite(b->manifest_text, 1, b->manifest_len, stdout);
    } else {
        size_t i = 0;
        while (i < b->n_files && strcmp(b->files[i].path, pos[1]))
            i++;
        if (i == b->n_files)
            rc = cli_fail(cmd, "%s has no member %s", pos[0], pos[1]);
        else
            fwrite(b->files[i].data, 1, b->files[i].size, stdout);
    }
    thi_bundle_free(b);
out:
    free(warnings);
    thi_keyring_destroy(kr);
    free(buf);
    return rc;
}

const cli_cmd_t cli_cmd_tlsinfo = {
    "tlsinfo", "verify a bundle and show what it holds",
    "usage: thespian tlsinfo FILE [contents | PATH] [--json]\n"
    "Check FILE against the *_tls.key files of the director directory\n"
    "($THESPIAN_DIRECTOR_DIR) and name the key that validates it; exit 1,\n"
    "saying why, when none does. `contents` lists the members (size, kind,\n"
    "path), MANIFEST.json (kind manifest) first; PATH writes that member's\n"
    "bytes to standard output, as `unzip -p` does (MANIFEST.json too).\n"
    "--json: {\"bundle\", \"group\", \"version\", \"info\", \"hash\",\n"
    "\"signedBy\", \"files\": N, \"tli\": bool}, or with contents\n"
    "[{\"path\", \"size\", \"kind\"}]. The format: docs/bundle-format.md.\n",
    run_tlsinfo,
};
