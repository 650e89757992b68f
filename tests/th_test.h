/*
 * tests/th_test.h — the project's minimal test harness. A test program
 * defines cases with TH_TEST and lists them in TH_TEST_MAIN at the bottom.
 * Each case runs in its own forked process, so a crash or a sanitizer
 * report fails that case only. Output is TAP (meson protocol 'tap').
 * Run one case: ./prog CASE_NAME.
 */
#ifndef TH_TESTS_TH_TEST_H
#define TH_TESTS_TH_TEST_H

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "th_clock.h"

#define TH_TEST(name) static void name(void)

#define TH_FAIL_AT_(...)                                                      \
    do {                                                                      \
        fprintf(stderr, "# %s:%d: ", __FILE__, __LINE__);                     \
        fprintf(stderr, __VA_ARGS__);                                         \
        fprintf(stderr, "\n");                                                \
        fflush(stderr);                                                       \
        _exit(1);                                                             \
    } while (0)

#define CHECK(expr)                                                           \
    do {                                                                      \
        if (!(expr))                                                          \
            TH_FAIL_AT_("CHECK(%s) failed", #expr);                           \
    } while (0)

#define CHECK_EQ(a, b)                                                        \
    do {                                                                      \
        long long va_ = (long long)(a), vb_ = (long long)(b);                 \
        if (va_ != vb_)                                                       \
            TH_FAIL_AT_("CHECK_EQ(%s, %s): %lld != %lld", #a, #b, va_, vb_);  \
    } while (0)

#define CHECK_STREQ(a, b)                                                     \
    do {                                                                      \
        const char *sa_ = (a), *sb_ = (b);                                    \
        if (sa_ == NULL || sb_ == NULL || strcmp(sa_, sb_) != 0)              \
            TH_FAIL_AT_("CHECK_STREQ(%s, %s): \"%s\" != \"%s\"", #a, #b,      \
                        sa_ ? sa_ : "(null)", sb_ ? sb_ : "(null)");          \
    } while (0)

/* Substring check, for diag texts. */
#define CHECK_CONTAINS(hay, needle)                                           \
    do {                                                                      \
        const char *h_ = (hay), *n_ = (needle);                               \
        if (h_ == NULL || strstr(h_, n_) == NULL)                             \
            TH_FAIL_AT_("CHECK_CONTAINS(%s): \"%s\" lacks \"%s\"", #hay,      \
                        h_ ? h_ : "(null)", n_);                              \
    } while (0)

/* An expression returning a th rc must equal `code` exactly. */
#define CHECK_RC(expr, code) CHECK_EQ((expr), (code))

/* The whole file as a NUL-terminated string (owned: free), its length in
 * *len (may be NULL); NULL when it cannot be opened. */
static inline char *
th_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    CHECK(buf != NULL);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            cap *= 2;
            buf = realloc(buf, cap + 1);
            CHECK(buf != NULL);
        }
    }
    fclose(f);
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

/* As th_slurp, "" (owned) when the file is missing. */
static inline char *
th_slurp_text(const char *path)
{
    char *s = th_slurp(path, NULL);
    if (s == NULL)
        CHECK((s = strdup("")) != NULL);
    return s;
}

struct th_test_case {
    const char *name;
    void (*fn)(void);
};

#define TH_CASE(fn) {#fn, fn}

static inline int
th_test_run(const struct th_test_case *cases, int argc, char **argv)
{
    int n = 0, failed = 0;
    for (const struct th_test_case *c = cases; c->name; c++)
        n++;
    if (argc > 1) { /* run a single case in-process, for debugging */
        for (const struct th_test_case *c = cases; c->name; c++)
            if (strcmp(c->name, argv[1]) == 0) {
                c->fn();
                printf("ok - %s\n", c->name);
                return 0;
            }
        fprintf(stderr, "no case named %s\n", argv[1]);
        return 2;
    }
    printf("1..%d\n", n);
    fflush(stdout);
    int i = 0;
    for (const struct th_test_case *c = cases; c->name; c++) {
        i++;
        pid_t pid = fork();
        if (pid < 0) {
            perror("fork");
            return 1;
        }
        if (pid == 0) {
            c->fn();
            fflush(stdout);
            fflush(stderr);
            exit(0); /* exit, not _exit: sanitizers report at exit */
        }
        int st = 0;
        while (waitpid(pid, &st, 0) < 0)
            ;
        if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
            printf("ok %d - %s\n", i, c->name);
        } else {
            failed++;
            if (WIFSIGNALED(st))
                printf("not ok %d - %s (signal %d)\n", i, c->name,
                       WTERMSIG(st));
            else
                printf("not ok %d - %s (exit %d)\n", i, c->name,
                       WEXITSTATUS(st));
        }
        fflush(stdout);
    }
    return failed ? 1 : 0;
}

#define TH_TEST_MAIN(...)                                                     \
    int main(int argc, char **argv)                                           \
    {                                                                         \
        static const struct th_test_case cases_[] = {__VA_ARGS__,             \
                                                      {NULL, NULL}};          \
        return th_test_run(cases_, argc, argv);                               \
    }

#endif /* TH_TESTS_TH_TEST_H */
