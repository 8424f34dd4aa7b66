#include "check.h"
#include "util.h"

#include <setjmp.h>
#include <stdarg.h>

const char *check_current = "?";
static jmp_buf skip_jump;

void check_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "FAIL %s [%s] %s:%d: ", check_current, util_backend(), file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
    exit(1);
}

void check_skip(const char *fmt, ...)
{
    va_list ap;
    printf("# skip %s [%s]: ", check_current, util_backend());
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
    longjmp(skip_jump, 1);
}

int check_run(const check_case *cases, int n, int argc, char **argv)
{
    util_init();
    int ran = 0;
    for (int i = 0; i < n; i++) {
        int wanted = argc < 2;
        for (int a = 1; a < argc; a++)
            if (strcmp(argv[a], cases[i].name) == 0)
                wanted = 1;
        if (!wanted)
            continue;
        check_current = cases[i].name;
        int fds = util_open_fds();
        if (setjmp(skip_jump)) {
            ran++; /* skipped, and said so */
            continue;
        }
        cases[i].fn();
        /* Every case closes what it opens: a leaked descriptor is a failure. */
        int after = util_open_fds();
        if (fds >= 0 && after != fds)
            check_fail(__FILE__, __LINE__, "descriptor leak: %d open before, %d after", fds, after);
        printf("ok %s [%s]\n", cases[i].name, util_backend());
        fflush(stdout);
        ran++;
    }
    if (ran == 0) {
        fprintf(stderr, "no test case matched\n");
        return 1;
    }
    return 0;
}
