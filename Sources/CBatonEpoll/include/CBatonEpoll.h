// What BatonEtcd's socket poller needs from Linux and the toolchain's Glibc module leaves out: epoll,
// and naming a thread (pthread_setname_np is a GNU extension the module is built without).
#ifndef C_BATON_EPOLL_H
#define C_BATON_EPOLL_H

#if defined(__linux__)
#include <pthread.h>
#include <sys/epoll.h>

int pthread_setname_np(pthread_t thread, const char *name);

/// Names the calling thread, as top, gdb and /proc show it (15 bytes at most).
static inline void c_baton_name_current_thread(const char *name) {
    (void)pthread_setname_np(pthread_self(), name);
}
#endif

#endif
