/*
 * tests/plugins/escape_lib.c — libthescape.so: the library a hostile
 * plugin (escape.c) needs but its bundle does not carry. A test drops it
 * into /tmp, where the plugin's RPATH/RUNPATH points; its constructor
 * appends to $TH_TEST_MARKER, so a host that ever maps it is caught.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

__attribute__((constructor)) static void
escape_mark(void)
{
    static const char line[] = "escape library loaded\n";
    const char *path = getenv("TH_TEST_MARKER");
    if (path == NULL || path[0] == '\0')
        return;
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        return;
    ssize_t n = write(fd, line, sizeof line - 1);
    (void)n;
    close(fd);
}

__attribute__((visibility("default"))) int thescape_value(void);

int
thescape_value(void)
{
    return 42;
}
