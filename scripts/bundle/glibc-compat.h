/* Force-included (-include) into every file of a native addon the bundle compiles. Debian 12's
 * glibc (2.36) gave new symbol versions to functions that exist since the architecture's first
 * glibc (pthread and dl* moved into libc in 2.34, exp/log/pow in 2.29): referencing the original
 * versions keeps the addons loadable on glibc 2.28+ (JetPack 5's Ubuntu 20.04 has 2.31). The stat
 * family (2.33) has no older version: glibc-compat.c wraps it (-Wl,--wrap). */
#ifndef RIGCAP_GLIBC_COMPAT_H
#define RIGCAP_GLIBC_COMPAT_H
#if defined(__aarch64__)
#define RIGCAP_GLIBC_BASE "GLIBC_2.17"
#elif defined(__x86_64__)
#define RIGCAP_GLIBC_BASE "GLIBC_2.2.5"
#else
#error "rigcap bundles target x86_64 and aarch64 only"
#endif
#define RIGCAP_GLIBC_OLD(sym) __asm__(".symver " #sym "," #sym "@" RIGCAP_GLIBC_BASE);
RIGCAP_GLIBC_OLD(pthread_create)
RIGCAP_GLIBC_OLD(pthread_join)
RIGCAP_GLIBC_OLD(pthread_once)
RIGCAP_GLIBC_OLD(pthread_mutex_trylock)
RIGCAP_GLIBC_OLD(pthread_mutexattr_init)
RIGCAP_GLIBC_OLD(pthread_mutexattr_destroy)
RIGCAP_GLIBC_OLD(pthread_mutexattr_settype)
RIGCAP_GLIBC_OLD(pthread_key_create)
RIGCAP_GLIBC_OLD(__pthread_key_create)
RIGCAP_GLIBC_OLD(pthread_key_delete)
RIGCAP_GLIBC_OLD(pthread_getspecific)
RIGCAP_GLIBC_OLD(pthread_setspecific)
RIGCAP_GLIBC_OLD(pthread_detach)
RIGCAP_GLIBC_OLD(dlopen)
RIGCAP_GLIBC_OLD(dlclose)
RIGCAP_GLIBC_OLD(dlsym)
RIGCAP_GLIBC_OLD(dlerror)
RIGCAP_GLIBC_OLD(exp)
RIGCAP_GLIBC_OLD(log)
RIGCAP_GLIBC_OLD(log2)
RIGCAP_GLIBC_OLD(pow)
#undef RIGCAP_GLIBC_OLD
#endif
