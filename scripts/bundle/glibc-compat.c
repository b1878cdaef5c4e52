/* Linked into every native addon the bundle compiles, with -Wl,--wrap= for stat, fstat, lstat and
 * their 64 forms: glibc 2.33 added them as symbols; before, they were inline calls of __xstat & co.,
 * which every glibc still has under the architecture's first version (on x86_64 and aarch64 both
 * forms take the same struct).
 * Also defines the one libstdc++ 3.4.29 helper GCC 12 code calls, so no newer libstdc++ is needed. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <sys/stat.h>
#include "glibc-compat.h"

#if defined(__aarch64__)
#define RIGCAP_STAT_VER 0
#else
#define RIGCAP_STAT_VER 1
#endif
#define HIDDEN __attribute__((visibility("hidden")))

extern int __xstat64(int ver, const char *path, struct stat64 *buf);
extern int __fxstat64(int ver, int fd, struct stat64 *buf);
extern int __lxstat64(int ver, const char *path, struct stat64 *buf);
__asm__(".symver __xstat64,__xstat64@" RIGCAP_GLIBC_BASE);
__asm__(".symver __fxstat64,__fxstat64@" RIGCAP_GLIBC_BASE);
__asm__(".symver __lxstat64,__lxstat64@" RIGCAP_GLIBC_BASE);
extern int __xstat(int ver, const char *path, struct stat *buf);
extern int __fxstat(int ver, int fd, struct stat *buf);
extern int __lxstat(int ver, const char *path, struct stat *buf);
__asm__(".symver __xstat,__xstat@" RIGCAP_GLIBC_BASE);
__asm__(".symver __fxstat,__fxstat@" RIGCAP_GLIBC_BASE);
__asm__(".symver __lxstat,__lxstat@" RIGCAP_GLIBC_BASE);

HIDDEN int __wrap_stat64(const char *path, struct stat64 *buf) { return __xstat64(RIGCAP_STAT_VER, path, buf); }
HIDDEN int __wrap_fstat64(int fd, struct stat64 *buf) { return __fxstat64(RIGCAP_STAT_VER, fd, buf); }
HIDDEN int __wrap_lstat64(const char *path, struct stat64 *buf) { return __lxstat64(RIGCAP_STAT_VER, path, buf); }
HIDDEN int __wrap_stat(const char *path, struct stat *buf) { return __xstat(RIGCAP_STAT_VER, path, buf); }
HIDDEN int __wrap_fstat(int fd, struct stat *buf) { return __fxstat(RIGCAP_STAT_VER, fd, buf); }
HIDDEN int __wrap_lstat(const char *path, struct stat *buf) { return __lxstat(RIGCAP_STAT_VER, path, buf); }

/* std::__throw_bad_array_new_length(): a new[] whose length overflows; nothing can recover. */
HIDDEN void _ZSt28__throw_bad_array_new_lengthv(void) { abort(); }
