// Linux's epoll, which the toolchain's Glibc module does not export: BatonEtcd's socket poller
// waits on every connection with it.
#ifndef C_BATON_EPOLL_H
#define C_BATON_EPOLL_H

#if defined(__linux__)
#include <sys/epoll.h>
#endif

#endif
