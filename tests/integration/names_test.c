/*
 * tests/integration/names_test.c — hostile names through a real thespiand
 * (HOSTILE.md "Trust, clients and peers"): one client flooding distinct
 * message types must not fill the process-wide type table (later loads
 * and other clients unaffected), and control characters or invalid UTF-8
 * in a zip entry name, a group, a class or a message type are refused at
 * loading with the name shown escaped — in the client's error, in the
 * host's log file and on the CLI's stderr, none of which may then hold a
 * raw control byte. Bundles are real: keys made here, signed with the
 * loader's API, loaded over the admin endpoint.
 * Needs $THESPIAND, $THESPIAN_CLI, $THESPIAN_AUTHORITY, $HELLO_SO, $BANK_SO,
 * $CTL_CLASS_SO, $CTL_TYPE_SO, $CTL_UTF8_SO.
 */
#include <dirent.h>
#include <fcntl.h>
#include <jansson.h>
#include <sys/stat.h>

#include "bundle_gen.h"
#include "host_util.h"
#include "loader/crypto.h"
#include "loader/describe.h"
#include "th_test.h"

#define FLOOD 70000

typedef struct env {
    hu_host_t h;
    char dd[300];   /* director directory: the trusted key */
    thi_key_t *key; /* signs every bundle of the test */
    th_client_t *c;
} env_t;

static const char *
need(const char *var)
{
    const char *v = getenv(var);
    if (v == NULL || *v == '\0')
        TH_FAIL_AT_("$%s is not set", var);
    return v;
}

static void
setup_dirs(env_t *e)
{
    memset(e, 0, sizeof *e);
    hu_scratch(e->h.dir, sizeof e->h.dir);
    snprintf(e->dd, sizeof e->dd, "%s/director", e->h.dir);
    CHECK(mkdir(e->dd, 0700) == 0);
    th_diag_t d = {0};
    CHECK_RC(thi_key_generate(&e->key, 2048, &d), 0);
    char *pem = NULL;
    CHECK_RC(thi_key_write_public_pem(e->key, &pem, &d), 0);
    char path[400];
    snprintf(path, sizeof path, "%s/test_tls.key", e->dd);
    CHECK_RC(thi_write_file_atomic(path, (uint8_t *)pem, strlen(pem), &d), 0);
    free(pem);
}

static void
setup(env_t *e)
{
    setup_dirs(e);
    const char *extra[] = {"--director-dir", e->dd, "--authority",
                           need("THESPIAN_AUTHORITY"), NULL};
    hu_start(&e->h, extra);
    e->c = hu_connect(&e->h);
}

static void
teardown(env_t *e)
{
    th_client_close(e->c);
    thi_key_destroy(e->key);
    CHECK(hu_finish(&e->h));
}

static void
write_bundle(const env_t *e, char *path, size_t n, const char *name,
             const uint8_t *data, size_t len)
{
    snprintf(path, n, "%s/%s.tls", e->h.dir, name);
    th_diag_t d = {0};
    CHECK_RC(thi_write_file_atomic(path, data, len, &d), 0);
}

/* A bundle of one real plugin file, built and signed by the loader. Its
 * manifest entry declares what the descriptor says (read in a child), or,
 * for a plugin whose descriptor the loader refuses, the plugin name of
 * the file and one harmless class, so that the refusal comes from the
 * descriptor check at loading. */
static void
plugin_bundle(const env_t *e, char *path, size_t n, const char *group,
              const char *so, const char *as, const char *info)
{
    uint8_t *bytes = NULL;
    size_t sz = 0, len = 0;
    th_diag_t d = {0};
    CHECK_RC(thi_read_file(&bytes, &sz, so, 64 << 20, &d), 0);
    thi_bundle_input_t in = {.path = as, .kind = "plugin", .data = bytes,
                             .size = sz};
    json_t *desc = NULL;
    static const char *const declared[] = {"Fine", NULL};
    const char *classes[64] = {NULL};
    char plugin[64];
    if (strncmp(as, "ctl_", 4) == 0) {
        snprintf(plugin, sizeof plugin, "%.*s", (int)(strlen(as) - 3), as);
        in.classes = declared;
    } else {
        if (thi_plugins_describe(&desc, &in, NULL, 1, &d) != 0)
            TH_FAIL_AT_("describe %s: %s", so, d.msg);
        json_t *one = json_object_get(desc, as);
        snprintf(plugin, sizeof plugin, "%s",
                 json_string_value(json_object_get(one, "plugin")));
        json_t *cls = json_object_get(one, "classes");
        for (size_t i = 0; i < json_array_size(cls) && i < 63; i++)
            classes[i] = json_string_value(json_array_get(cls, i));
        in.classes = classes;
    }
    in.plugin = plugin;
    uint8_t *out = NULL;
    if (thi_bundle_build(&out, &len, group, "1", info, NULL, &in, 1, e->key,
                         &d) != 0)
        TH_FAIL_AT_("build %s: %s", group, d.msg);
    json_decref(desc);
    write_bundle(e, path, n, group, out, len);
    free(out);
    free(bytes);
}

/* A crafted bundle: a zip of MANIFEST.json (text as given) and one entry
 * named `entry`, signed with the trusted key. */
static void
crafted_bundle(const env_t *e, char *path, size_t n, const char *file,
               const char *manifest, const char *entry)
{
    gen_entry_t z[2] = {{THI_MANIFEST_NAME, manifest, strlen(manifest), 0, 0},
                        {entry, "data", 4, 0, 0}};
    size_t zlen = 0, len = 0;
    uint8_t *zip = gen_zip(z, 2, &zlen);
    uint8_t *signed_ = gen_seal(zip, zlen, e->key, &len);
    write_bundle(e, path, n, file, signed_, len);
    free(signed_);
    free(zip);
}

/* No C0 control byte but the line ends, no DEL, and valid UTF-8 (so no
 * C1 control or stray byte either). */
static bool
clean_text(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c < 0x20 && c != '\n') || c == 0x7f)
            return false;
    }
    /* well-formed UTF-8, checked here by hand: no shared code trusted */
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < len;) {
        size_t k = p[i] < 0x80 ? 1 : (p[i] & 0xe0) == 0xc0 ? 2
                                : (p[i] & 0xf0) == 0xe0 ? 3
                                : (p[i] & 0xf8) == 0xf0 ? 4 : 0;
        if (k == 0 || i + k > len || (k == 2 && p[i] < 0xc2))
            return false;
        for (size_t j = 1; j < k; j++)
            if ((p[i + j] & 0xc0) != 0x80)
                return false;
        i += k;
    }
    /* a C1 control (U+0080..U+009F) is two bytes C2 80..C2 9F */
    for (size_t i = 0; i + 1 < len; i++)
        if ((unsigned char)s[i] == 0xc2 && (unsigned char)s[i + 1] >= 0x80 &&
            (unsigned char)s[i + 1] <= 0x9f)
            return false;
    return true;
}

/* The host's log file, byte by byte: no raw control byte, and no line
 * that a name forged (each record starts with its date). */
static void
check_log_clean(const env_t *e)
{
    size_t len = 0;
    char *log = th_slurp(e->h.log, &len);
    CHECK(log != NULL);
    if (!clean_text(log, len))
        TH_FAIL_AT_("the host log %s holds a raw control byte or invalid "
                    "UTF-8",
                    e->h.log);
    CHECK(strstr(log, "\nFORGED") == NULL);
    free(log);
}

/* Load `path` through the client: refused with `code`, an error text that
 * holds `shown` (the name escaped) and no raw control byte. */
static void
load_refused(env_t *e, const char *path, int code, const char *field,
             const char *shown)
{
    char hash[65];
    int rc = th_client_load(e->c, hash, path);
    const char *msg = th_client_errmsg(e->c);
    if (rc != code)
        TH_FAIL_AT_("load %s: %d (%s), wanted %d", path, rc, msg, code);
    CHECK(clean_text(msg, strlen(msg)));
    CHECK_CONTAINS(msg, field);
    CHECK_CONTAINS(msg, shown);
}

/* Run the CLI with `args` against the host; its stderr and stdout bytes
 * into files under the scratch directory. Returns the exit status. */
static int
cli(const env_t *e, const char *const *args, char **out, char **err)
{
    char o[400], er[400];
    snprintf(o, sizeof o, "%s/cli.out", e->h.dir);
    snprintf(er, sizeof er, "%s/cli.err", e->h.dir);
    const char *argv[16];
    int n = 0;
    argv[n++] = need("THESPIAN_CLI");
    for (int i = 0; args[i] && n < 15; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        int fo = open(o, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int fe = open(er, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(fo, 1);
        dup2(fe, 2);
        setenv("THESPIAN_ENDPOINT", e->h.endpoint, 1);
        setenv("THESPIAN_DIRECTOR_DIR", e->dd, 1);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    int st = 0;
    CHECK(waitpid(pid, &st, 0) == pid);
    *out = th_slurp_text(o);
    *err = th_slurp_text(er);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static json_int_t
types_interned(env_t *e)
{
    char *text = NULL;
    CHECK_RC(th_client_status(e->c, &text), 0);
    json_t *st = json_loads(text, 0, NULL);
    th_client_free(text);
    CHECK(st != NULL);
    json_t *mt = json_object_get(json_object_get(st, "system"),
                                 "message_types");
    json_int_t n = json_is_integer(json_object_get(mt, "interned"))
                       ? json_integer_value(json_object_get(mt, "interned"))
                       : -1;
    json_decref(st);
    return n;
}

/* Listen on `c` until a message of `type` arrives (others dropped). */
static void
await_type(th_client_t *c, const char *type, const char *text)
{
    for (;;) {
        th_client_msg_t *m = NULL;
        int rc = th_client_listen(c, &m, 60000);
        if (rc != 0)
            TH_FAIL_AT_("waiting for %s: %d (%s)", type, rc,
                        th_client_errmsg(c));
        bool hit = strcmp(m->type, type) == 0;
        if (hit && text)
            CHECK(memmem(m->data, m->len, text, strlen(text)) != NULL);
        th_client_msg_free(m);
        if (hit)
            return;
    }
}

/* ---- Floods of distinct message types ----------------------------------- */

TH_TEST(type_flood_leaves_loads_and_other_clients_alone)
{
    env_t e;
    setup(&e);
    char path[600], hash[65];
    plugin_bundle(&e, path, sizeof path, "greeters", need("HELLO_SO"),
                  "hello.so", "greeters");
    CHECK_RC(th_client_load(e.c, hash, path), 0);
    th_addr_t g;
    th_client_create_opts_t o = {.size = sizeof o, .source_hash = hash};
    CHECK_RC(th_client_create(e.c, &g, "hello.Greeter", &o), 0);
    json_int_t before = types_interned(&e);

    /* one client, 70,000 made-up types: more than the table holds */
    char type[32];
    for (int i = 0; i < FLOOD; i++) {
        snprintf(type, sizeof type, "Junk%06d", i);
        int rc = th_client_tell(e.c, &g, type, "{}", 2);
        if (rc != 0)
            TH_FAIL_AT_("tell #%d: %d (%s)", i, rc, th_client_errmsg(e.c));
    }
    /* the Greeter answered each (Unknown), in order: a Greeting after
     * them means every junk tell was handled */
    CHECK_RC(th_client_tell(e.c, &g, "Greet", "{\"name\": \"A\"}", 13), 0);
    await_type(e.c, "Greeting", "Hello, A!");

    /* a later load whose classes bring new types still works */
    plugin_bundle(&e, path, sizeof path, "banks", need("BANK_SO"), "bank.so",
                  "banks");
    char bank_hash[65];
    if (th_client_load(e.c, bank_hash, path) != 0)
        TH_FAIL_AT_("load after the flood: %s", th_client_errmsg(e.c));
    th_addr_t b;
    th_client_create_opts_t ob = {.size = sizeof ob, .source_hash = bank_hash};
    CHECK_RC(th_client_create(e.c, &b, "bank.Bank", &ob), 0);

    /* another client's tells and asks work */
    th_client_t *c2 = hu_connect(&e.h);
    CHECK_RC(th_client_tell(c2, &g, "Greet", "{\"name\": \"B\"}", 13), 0);
    await_type(c2, "Greeting", "Hello, B!");
    th_client_msg_t *m = NULL;
    CHECK_RC(th_client_ask(c2, &m, &b, "Open", "{\"account\": \"x\"}", 16,
                           10000),
             0);
    CHECK_STREQ(m->type, "Opened");
    th_client_msg_free(m);
    th_client_close(c2);
    CHECK(!hu_log_has(&e.h, "limit reached"));
    /* none of the junk took a place in the shared table (the bank's own
     * types did) */
    json_int_t after = types_interned(&e);
    if (before < 0 || after - before > 64)
        TH_FAIL_AT_("the type table went from %lld to %lld entries",
                    (long long)before, (long long)after);
    teardown(&e);
}

/* ---- Control characters and invalid UTF-8 in names ---------------------- */

TH_TEST(control_characters_in_names_are_refused_and_escaped)
{
    env_t e;
    setup(&e);
    char path[600];
    /* zip entry names: ESC (a terminal escape), CR, LF (a forged log
     * line), BEL, and bytes that are not UTF-8 */
    static const struct {
        const char *name, *shown;
    } entries[] = {
        {"evil\x1b[31m.so", "evil\\x1b[31m.so"},
        {"cr\rx.so", "cr\\rx.so"},
        {"lf\nFORGED 2026-01-01 CRITICAL [th1:none] forged.so",
         "lf\\nFORGED"},
        {"bell\a.so", "bell\\x07.so"},
        {"bad\xff\xfe.so", "bad\\xff\\xfe.so"},
    };
    for (size_t i = 0; i < sizeof entries / sizeof *entries; i++) {
        char file[32];
        snprintf(file, sizeof file, "entry%zu", i);
        /* the manifest lists a proper name: the entry's own is refused
         * when the archive is walked, before anything compares them */
        gen_entry_t listed = {"ok.so", "data", 4, 0, 0};
        char *man = gen_manifest(&listed, 1, "evil", "1");
        crafted_bundle(&e, path, sizeof path, file, man, entries[i].name);
        free(man);
        load_refused(&e, path, TH_EFORMAT, "name", entries[i].shown);
    }
    /* the same names listed in a manifest (JSON can carry all but the
     * invalid UTF-8) */
    for (size_t i = 0; i < 4; i++) {
        gen_entry_t listed = {entries[i].name, "data", 4, 0, 0};
        char *man = gen_manifest(&listed, 1, "evil", "1");
        CHECK(man != NULL);
        char file[32];
        snprintf(file, sizeof file, "listed%zu", i);
        crafted_bundle(&e, path, sizeof path, file, man, "ok.so");
        free(man);
        load_refused(&e, path, TH_EFORMAT, "files[0].path", entries[i].shown);
    }
    /* group names */
    gen_entry_t one = {"ok.so", "data", 4, 0, 0};
    char *man = gen_manifest(&one, 1, "ev\x1b]0;owned\ail\n", "1");
    crafted_bundle(&e, path, sizeof path, "group", man, "ok.so");
    free(man);
    load_refused(&e, path, TH_EFORMAT, "\"group\"", "ev\\x1b]0;owned\\x07il\\n");
    /* class names and message types (the plugin's descriptor) */
    plugin_bundle(&e, path, sizeof path, "ctlclass", need("CTL_CLASS_SO"),
                  "ctl_class.so", "x");
    load_refused(&e, path, TH_EABI, "class #0 has an invalid name",
                 "Bad\\x1b[2J\\x07\\rClass");
    plugin_bundle(&e, path, sizeof path, "ctltype", need("CTL_TYPE_SO"),
                  "ctl_type.so", "x");
    load_refused(&e, path, TH_EABI, "message type", "Evil\\nFORGED");
    plugin_bundle(&e, path, sizeof path, "ctlutf8", need("CTL_UTF8_SO"),
                  "ctl_utf8.so", "x");
    load_refused(&e, path, TH_EABI, "not valid UTF-8", "Bad\\xff\\xfe");

    /* the CLI: its error for the same bundles, and what tlsinfo shows of
     * a bundle whose free-text info holds terminal escapes */
    char *out = NULL, *err = NULL;
    const char *load_esc[] = {"load", NULL, NULL};
    snprintf(path, sizeof path, "%s/entry0.tls", e.h.dir);
    load_esc[1] = path;
    CHECK_EQ(cli(&e, load_esc, &out, &err), 1);
    CHECK(clean_text(err, strlen(err)) && clean_text(out, strlen(out)));
    CHECK_CONTAINS(err, "evil\\x1b[31m.so");
    free(out);
    free(err);
    snprintf(path, sizeof path, "%s/entry2.tls", e.h.dir);
    const char *info_entry[] = {"tlsinfo", path, NULL};
    CHECK_EQ(cli(&e, info_entry, &out, &err), 1);
    CHECK(clean_text(err, strlen(err)) && clean_text(out, strlen(out)));
    CHECK_CONTAINS(err, "lf\\nFORGED");
    free(out);
    free(err);
    snprintf(path, sizeof path, "%s/ctlclass.tls", e.h.dir);
    const char *load_cls[] = {"load", path, NULL};
    CHECK_EQ(cli(&e, load_cls, &out, &err), 1);
    CHECK(clean_text(err, strlen(err)) && clean_text(out, strlen(out)));
    CHECK_CONTAINS(err, "Bad\\x1b[2J");
    free(out);
    free(err);
    plugin_bundle(&e, path, sizeof path, "shown", need("HELLO_SO"),
                  "hello.so", "title\x1b]0;owned\a\r\nFORGED line");
    const char *tlsinfo[] = {"tlsinfo", path, NULL};
    CHECK_EQ(cli(&e, tlsinfo, &out, &err), 0);
    CHECK(clean_text(err, strlen(err)) && clean_text(out, strlen(out)));
    CHECK_CONTAINS(out, "title\\x1b]0;owned\\x07\\r\\nFORGED line");
    free(out);
    free(err);

    /* nothing was loaded; the host answers; its log holds no raw byte */
    char *src = NULL;
    CHECK_RC(th_client_sources(e.c, &src), 0);
    CHECK_STREQ(src, "[]");
    th_client_free(src);
    CHECK(types_interned(&e) > 0);
    CHECK(hu_log_has(&e.h, "\\x1b[31m"));
    check_log_clean(&e);
    teardown(&e);
}

/* ---- At signing: gensrc refuses the same names ---------------------------- */

/* gensrc GROUP signer.pem src version:1 GLOB hello.so: exit 1, output with
 * no raw control byte, the name shown escaped. */
static void
gensrc_refused(env_t *e, const char *group, const char *glob,
               const char *shown)
{
    char key[400], src[400];
    snprintf(key, sizeof key, "%s/signer.pem", e->h.dir);
    snprintf(src, sizeof src, "%s/src", e->h.dir);
    const char *args[] = {"gensrc", group,  key,  src, "version:1",
                          glob,     "hello.so", NULL};
    char *out = NULL, *err = NULL;
    int rc = cli(e, args, &out, &err);
    /* 2: a group on the command line is a usage error */
    if (rc != (group[0] == 'g' ? 1 : 2))
        TH_FAIL_AT_("gensrc %s: exit %d: %s%s", glob, rc, out, err);
    CHECK(clean_text(err, strlen(err)) && clean_text(out, strlen(out)));
    CHECK_CONTAINS(err, shown);
    free(out);
    free(err);
}

TH_TEST(control_characters_in_names_are_refused_at_signing)
{
    env_t e;
    setup_dirs(&e);
    th_diag_t d = {0};
    char *pem = NULL, path[600];
    CHECK_RC(thi_key_write_private_pem(e.key, &pem, &d), 0);
    snprintf(path, sizeof path, "%s/signer.pem", e.h.dir);
    CHECK_RC(thi_write_file_atomic(path, (uint8_t *)pem, strlen(pem), &d), 0);
    free(pem);
    char src[400];
    snprintf(src, sizeof src, "%s/src", e.h.dir);
    CHECK(mkdir(src, 0700) == 0);
    static const char *const sos[][2] = {{"CTL_CLASS_SO", "ctl_class.so"},
                                         {"CTL_TYPE_SO", "ctl_type.so"},
                                         {"CTL_UTF8_SO", "ctl_utf8.so"},
                                         {"HELLO_SO", "hello.so"}};
    for (size_t i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s/%s", src, sos[i][1]);
        CHECK(symlink(need(sos[i][0]), path) == 0);
    }
    static const char *const data[] = {"evil\x1b[31m.txt",
                                       "lf\nFORGED line.txt", "bad\xff.txt",
                                       "bell\a.txt"};
    for (size_t i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s/%s", src, data[i]);
        FILE *f = fopen(path, "w");
        CHECK(f != NULL);
        fputs("data", f);
        fclose(f);
    }
    gensrc_refused(&e, "g", "ctl_class.so", "Bad\\x1b[2J\\x07\\rClass");
    gensrc_refused(&e, "g", "ctl_type.so", "Evil\\nFORGED");
    gensrc_refused(&e, "g", "ctl_utf8.so", "Bad\\xff\\xfe");
    gensrc_refused(&e, "g", "evil*", "evil\\x1b[31m.txt");
    gensrc_refused(&e, "g", "lf*", "lf\\nFORGED line.txt");
    gensrc_refused(&e, "g", "bad*", "bad\\xff.txt");
    gensrc_refused(&e, "g", "bell*", "bell\\x07.txt");
    gensrc_refused(&e, "ev\x1b]0;x\ail", "bell*", "ev\\x1b]0;x\\x07il");
    /* nothing was signed */
    DIR *dir = opendir(e.dd);
    CHECK(dir != NULL);
    struct dirent *de;
    while ((de = readdir(dir)) != NULL)
        CHECK(strstr(de->d_name, ".tls") == NULL);
    closedir(dir);
    thi_key_destroy(e.key);
    hu_rm_scratch(e.h.dir);
}

TH_TEST_MAIN(TH_CASE(type_flood_leaves_loads_and_other_clients_alone),
             TH_CASE(control_characters_in_names_are_refused_and_escaped),
             TH_CASE(control_characters_in_names_are_refused_at_signing))
