/*
 * Processes the manager supervises: who is on the other end of a control connection, and a
 * handle on an NF process that survives pid reuse.
 *
 *   peerCred(fd)          -> { pid, uid, gid }   SO_PEERCRED of a connected Unix socket (the
 *                                                process that connected, in our pid namespace)
 *   pidfdOpen(pid)        -> fd                  pidfd_open(2): a handle on that process; it
 *                                                becomes readable when the process has exited
 *   pidfdSignal(fd, sig)                          pidfd_send_signal(2): never hits a reused pid
 *   pidfdExited(fd)       -> boolean             poll(2) on the pidfd, no wait: the whole
 *                                                process (every thread) has exited, so its
 *                                                mappings of the shared memory are gone
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <node_api.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

void nfc_throw_errno(napi_env env, int err, const char *syscall_name, const char *path);

static int int_args(napi_env env, napi_callback_info info, size_t want, int32_t *out, const char *usage) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < want) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", usage);
    return 0;
  }
  for (size_t i = 0; i < want; i++) {
    if (napi_get_value_int32(env, argv[i], &out[i]) != napi_ok) {
      napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", usage);
      return 0;
    }
  }
  return 1;
}

napi_value nfc_peer_cred(napi_env env, napi_callback_info info) {
  int32_t fd;
  if (!int_args(env, info, 1, &fd, "peerCred(fd)")) return NULL;
  struct ucred cred;
  socklen_t len = sizeof cred;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
    nfc_throw_errno(env, errno, "getsockopt(SO_PEERCRED)", NULL);
    return NULL;
  }
  napi_value out, v;
  napi_create_object(env, &out);
  napi_create_int32(env, cred.pid, &v);
  napi_set_named_property(env, out, "pid", v);
  napi_create_uint32(env, cred.uid, &v);
  napi_set_named_property(env, out, "uid", v);
  napi_create_uint32(env, cred.gid, &v);
  napi_set_named_property(env, out, "gid", v);
  return out;
}

napi_value nfc_pidfd_open(napi_env env, napi_callback_info info) {
  int32_t pid;
  if (!int_args(env, info, 1, &pid, "pidfdOpen(pid)")) return NULL;
  if (pid <= 0) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "pidfdOpen: pid must be positive");
    return NULL;
  }
  long fd = syscall(SYS_pidfd_open, (pid_t)pid, 0);
  if (fd < 0) {
    nfc_throw_errno(env, errno, "pidfd_open", NULL);
    return NULL;
  }
  /* Not inherited by the NF processes the manager starts. */
  fcntl((int)fd, F_SETFD, FD_CLOEXEC);
  napi_value out;
  napi_create_int32(env, (int32_t)fd, &out);
  return out;
}

napi_value nfc_pidfd_signal(napi_env env, napi_callback_info info) {
  int32_t a[2];
  if (!int_args(env, info, 2, a, "pidfdSignal(fd, signal)")) return NULL;
  if (syscall(SYS_pidfd_send_signal, a[0], a[1], NULL, 0) != 0 && errno != ESRCH) {
    nfc_throw_errno(env, errno, "pidfd_send_signal", NULL);
    return NULL;
  }
  return NULL;
}

napi_value nfc_pidfd_exited(napi_env env, napi_callback_info info) {
  int32_t fd;
  if (!int_args(env, info, 1, &fd, "pidfdExited(fd)")) return NULL;
  struct pollfd p = {.fd = fd, .events = POLLIN, .revents = 0};
  int r;
  do r = poll(&p, 1, 0);
  while (r < 0 && errno == EINTR);
  if (r < 0) {
    nfc_throw_errno(env, errno, "poll(pidfd)", NULL);
    return NULL;
  }
  napi_value out;
  napi_get_boolean(env, r > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR)) != 0, &out);
  return out;
}
