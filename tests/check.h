/* A tiny in-tree test harness: no framework, builds with mingw too.
 *
 * Each test program lists its cases with TEST(name) and runs them from
 * main() with RUN_TESTS(); a failed check prints where and what, and exits 1.
 * Arguments name the cases to run (default: all). */
#ifndef CHECK_H
#define CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const char *check_current;

/* mingw's "printf" format means msvcrt's; the build uses the C99 one. */
#ifdef __MINGW32__
#define CHECK_PRINTF gnu_printf
#else
#define CHECK_PRINTF printf
#endif

#define CHECK(cond)                                                                            \
    do {                                                                                       \
        if (!(cond))                                                                           \
            check_fail(__FILE__, __LINE__, "%s", #cond);                                       \
    } while (0)

#define CHECK_EQ(a, b)                                                                         \
    do {                                                                                       \
        long long check_a_ = (long long)(a), check_b_ = (long long)(b);                        \
        if (check_a_ != check_b_)                                                              \
            check_fail(__FILE__, __LINE__, "%s == %s: %lld != %lld", #a, #b, check_a_, check_b_); \
    } while (0)

/* Checks a netev call that must succeed (0 or a count), printing its error otherwise. */
#define CHECK_OK(expr)                                                                         \
    do {                                                                                       \
        long long check_r_ = (long long)(expr);                                                \
        if (check_r_ < 0)                                                                      \
            check_fail(__FILE__, __LINE__, "%s failed: %lld (%s)", #expr, check_r_,            \
                       netev_strerror((int)check_r_));                                         \
    } while (0)

#if defined(__GNUC__)
__attribute__((format(CHECK_PRINTF, 3, 4), noreturn))
#endif
void check_fail(const char *file, int line, const char *fmt, ...);

/* Ends the current case as skipped, printing why (never silently). */
#if defined(__GNUC__)
__attribute__((format(CHECK_PRINTF, 1, 2), noreturn))
#endif
void check_skip(const char *fmt, ...);

typedef struct check_case {
    const char *name;
    void (*fn)(void);
} check_case;

#define TEST(name) static void test_##name(void)
#define CASE(name) {#name, test_##name}

/* Runs the named cases (all if none are named); returns the exit status. */
int check_run(const check_case *cases, int n, int argc, char **argv);
#define RUN_TESTS(...)                                                                         \
    int main(int argc, char **argv)                                                            \
    {                                                                                          \
        static const check_case cases[] = {__VA_ARGS__};                                       \
        return check_run(cases, (int)(sizeof cases / sizeof cases[0]), argc, argv);            \
    }

#endif
