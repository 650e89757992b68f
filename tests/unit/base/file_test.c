/*
 * tests/unit/base/file_test.c — base/file.h's atomic write is durable: the
 * file's bytes are synced before the rename and the directory after it, so
 * a crash cannot bring the old file back. The test's own fsync stands in
 * for libc's (base is linked statically into this program), records what
 * each call synced, and syncs it for real.
 */
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/file.h"
#include "th_test.h"

static int synced_files, synced_dirs;
static bool dir_after_file;

int fsync(int fd);

int
fsync(int fd)
{
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        synced_dirs++;
        dir_after_file = synced_files > 0;
    } else {
        synced_files++;
    }
    return (int)syscall(SYS_fsync, fd);
}

TH_TEST(atomic_write_syncs_file_then_directory)
{
    char dir[] = "/tmp/th-file-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[128];
    snprintf(path, sizeof path, "%s/record.json", dir);
    th_diag_t d = {0};
    CHECK_RC(thi_write_file_atomic(path, (const uint8_t *)"{}", 2, &d), 0);
    CHECK_EQ(synced_files, 1);
    CHECK_EQ(synced_dirs, 1);
    CHECK(dir_after_file);
    uint8_t *back;
    size_t len;
    CHECK_RC(thi_read_file(&back, &len, path, 64, &d), 0);
    CHECK(len == 2 && memcmp(back, "{}", 2) == 0);
    free(back);
    /* a second write replaces it whole, with no temporary left behind */
    CHECK_RC(thi_write_file_atomic(path, (const uint8_t *)"[1]", 3, &d), 0);
    CHECK_RC(thi_read_file(&back, &len, path, 64, &d), 0);
    CHECK(len == 3 && memcmp(back, "[1]", 3) == 0);
    free(back);
    CHECK_EQ(synced_dirs, 2);
    unlink(path);
    CHECK_RC(rmdir(dir), 0); /* empty: no temporary file remains */
}

TH_TEST(atomic_write_into_a_missing_directory_fails_clearly)
{
    th_diag_t d = {0};
    CHECK_RC(thi_write_file_atomic("/nonexistent-th/x", (const uint8_t *)"x",
                                   1, &d),
             TH_EIO);
    CHECK_CONTAINS(d.msg, "/nonexistent-th/x");
}

TH_TEST_MAIN(TH_CASE(atomic_write_syncs_file_then_directory),
             TH_CASE(atomic_write_into_a_missing_directory_fails_clearly))
