/*
 * nfchain native addon: only what Node cannot do by itself.
 *
 *   shmCreate(path, size)  -> ArrayBuffer   create a new shared file (O_EXCL, mode 0600,
 *                                           never through a symlink) and map it MAP_SHARED
 *   shmOpen(path, readOnly?) -> ArrayBuffer map an existing shared file (no symlinks); readOnly:
 *                                           opened O_RDONLY and mapped PROT_READ, so a write
 *                                           through the buffer kills the process (SIGSEGV)
 *   shmUnlink(path)                          remove a shared file
 *   memfdCreate(name, size) -> fd            an anonymous shared file of `size` bytes, sealed so
 *                                           that nobody can grow or shrink it (F_SEAL_GROW,
 *                                           F_SEAL_SHRINK, F_SEAL_SEAL): a process it is handed
 *                                           to cannot make another's mapping fault
 *   mapFd(fd, readOnly?) -> ArrayBuffer     map a shared file by descriptor (the fd stays open)
 *   closeFd(fd)
 *   futexWaitV([[i32, index, expected], ...], timeoutMs) -> index woken | -1 a value differed
 *                                           | -2 timed out    sleep on several words at once
 *                                           (futex_waitv, Linux 5.16), in different mappings
 *   futexWait(i32, index, expected, timeoutMs) -> 0 woken | 1 value differed | 2 timed out
 *   futexWake(i32, index, count) -> number of waiters woken
 *   schedYield()                             give the core away (MPMC commit back-off)
 *   afpOpen/afpRxBurst/afpTxBurst/afpStats/afpFd/afpClose, linkInfo, pollIn   AF_PACKET ports (af_packet.c)
 *   xdpOpen/xdpFill/xdpRx/xdpTx/xdpComplete/xdpClose/xdpAvailable/xdpFd   AF_XDP ports (af_xdp.c)
 *   peerCred/pidfdOpen/pidfdSignal/pidfdExited   the processes on the control socket (process.c)
 *
 * A mapping is returned as an external ArrayBuffer. It is unmapped only by the buffer's
 * finalizer, so JS can never reach unmapped memory through it. The futex calls use the
 * shared (not FUTEX_PRIVATE) variants because the word lives in a file mapped by several
 * processes. Errors are thrown as JS Errors with code (errno name), errno, syscall and path.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <node_api.h>

#define PATH_MAX_LEN 4096

/* ---- errors ------------------------------------------------------------------------- */

void nfc_throw_errno(napi_env env, int err, const char *syscall_name, const char *path) {
  const char *name = strerrorname_np(err);
  if (name == NULL) name = "EUNKNOWN";
  char msg[PATH_MAX_LEN + 256];
  if (path != NULL)
    snprintf(msg, sizeof msg, "%s %s: %s (%s)", syscall_name, path, name, strerror(err));
  else
    snprintf(msg, sizeof msg, "%s: %s (%s)", syscall_name, name, strerror(err));

  napi_value jsmsg, jscode, error, v;
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &jsmsg);
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &jscode);
  napi_create_error(env, jscode, jsmsg, &error);
  napi_create_int32(env, -err, &v);
  napi_set_named_property(env, error, "errno", v);
  napi_create_string_utf8(env, syscall_name, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, error, "syscall", v);
  if (path != NULL) {
    napi_create_string_utf8(env, path, NAPI_AUTO_LENGTH, &v);
    napi_set_named_property(env, error, "path", v);
  }
  napi_throw(env, error);
}

/* af_packet.c */
napi_value nfc_afp_open(napi_env env, napi_callback_info info);
napi_value nfc_afp_close(napi_env env, napi_callback_info info);
napi_value nfc_afp_rx_burst(napi_env env, napi_callback_info info);
napi_value nfc_afp_tx_burst(napi_env env, napi_callback_info info);
napi_value nfc_afp_stats(napi_env env, napi_callback_info info);
napi_value nfc_afp_fd(napi_env env, napi_callback_info info);
napi_value nfc_poll_in(napi_env env, napi_callback_info info);
napi_value nfc_link_info(napi_env env, napi_callback_info info);
/* af_xdp.c */
napi_value nfc_xdp_open(napi_env env, napi_callback_info info);
napi_value nfc_xdp_fill(napi_env env, napi_callback_info info);
napi_value nfc_xdp_rx(napi_env env, napi_callback_info info);
napi_value nfc_xdp_tx(napi_env env, napi_callback_info info);
napi_value nfc_xdp_complete(napi_env env, napi_callback_info info);
napi_value nfc_xdp_close(napi_env env, napi_callback_info info);
napi_value nfc_xdp_available(napi_env env, napi_callback_info info);
napi_value nfc_xdp_fd(napi_env env, napi_callback_info info);
/* process.c */
napi_value nfc_peer_cred(napi_env env, napi_callback_info info);
napi_value nfc_pidfd_open(napi_env env, napi_callback_info info);
napi_value nfc_pidfd_signal(napi_env env, napi_callback_info info);
napi_value nfc_pidfd_exited(napi_env env, napi_callback_info info);

static void throw_type(napi_env env, const char *msg) {
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
}

static void throw_range(napi_env env, const char *msg) {
  napi_throw_range_error(env, "ERR_OUT_OF_RANGE", msg);
}

/* ---- argument helpers ----------------------------------------------------------------- */

static int get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return 0;
  if (argc < want) {
    throw_type(env, "missing arguments");
    return 0;
  }
  return 1;
}

/* Absolute path only: relative paths depend on the cwd, which differs between processes. */
static int get_path(napi_env env, napi_value v, char *buf) {
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, buf, PATH_MAX_LEN, &len) != napi_ok) {
    throw_type(env, "path must be a string");
    return 0;
  }
  if (len == 0 || len >= PATH_MAX_LEN - 1 || buf[0] != '/') {
    throw_type(env, "path must be an absolute path");
    return 0;
  }
  return 1;
}

static int get_double(napi_env env, napi_value v, double *out, const char *what) {
  if (napi_get_value_double(env, v, out) != napi_ok) {
    throw_type(env, what);
    return 0;
  }
  return 1;
}

/* ---- shared files --------------------------------------------------------------------- */

static void unmap_finalizer(napi_env env, void *data, void *hint) {
  (void)env;
  munmap(data, (size_t)(uintptr_t)hint);
}

static napi_value map_fd(napi_env env, int fd, size_t size, const char *path, bool writable) {
  void *p = mmap(NULL, size, writable ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) {
    int err = errno;
    close(fd);
    nfc_throw_errno(env, err, "mmap", path);
    return NULL;
  }
  close(fd);
  napi_value ab;
  napi_status st = napi_create_external_arraybuffer(env, p, size, unmap_finalizer,
                                                    (void *)(uintptr_t)size, &ab);
  if (st != napi_ok) {
    munmap(p, size);
    napi_throw_error(env, "ERR_NFCHAIN_NATIVE", "napi_create_external_arraybuffer failed");
    return NULL;
  }
  return ab;
}

static napi_value js_shm_create(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  char path[PATH_MAX_LEN];
  double dsize;
  if (!get_args(env, info, 2, argv)) return NULL;
  if (!get_path(env, argv[0], path)) return NULL;
  if (!get_double(env, argv[1], &dsize, "size must be a number")) return NULL;
  if (!(dsize >= 1 && dsize <= (double)(1ULL << 40)) || dsize != (double)(uint64_t)dsize) {
    throw_range(env, "size must be an integer between 1 and 2^40 bytes");
    return NULL;
  }
  size_t size = (size_t)dsize;
  int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    nfc_throw_errno(env, errno, "open", path);
    return NULL;
  }
  /* The umask could have narrowed the mode; make it exactly 0600. */
  if (fchmod(fd, 0600) != 0 || ftruncate(fd, (off_t)size) != 0) {
    int err = errno;
    close(fd);
    unlink(path);
    nfc_throw_errno(env, err, "ftruncate", path);
    return NULL;
  }
  napi_value ab = map_fd(env, fd, size, path, true);
  if (ab == NULL) unlink(path);
  return ab;
}

/* (x, readOnly?) arguments: argv[0] and the optional boolean; 0 after throwing. */
static int get_args_read_only(napi_env env, napi_callback_info info, napi_value *argv, bool *read_only) {
  size_t argc = 2;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return 0;
  if (argc < 1) {
    throw_type(env, "missing arguments");
    return 0;
  }
  *read_only = false;
  if (argc >= 2 && napi_get_value_bool(env, argv[1], read_only) != napi_ok) {
    throw_type(env, "readOnly must be a boolean");
    return 0;
  }
  return 1;
}

static napi_value js_shm_open(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  char path[PATH_MAX_LEN];
  bool read_only;
  if (!get_args_read_only(env, info, argv, &read_only) || !get_path(env, argv[0], path)) return NULL;
  int fd = open(path, (read_only ? O_RDONLY : O_RDWR) | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    nfc_throw_errno(env, errno, "open", path);
    return NULL;
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int err = errno;
    close(fd);
    nfc_throw_errno(env, err, "fstat", path);
    return NULL;
  }
  if (!S_ISREG(st.st_mode)) {
    close(fd);
    nfc_throw_errno(env, EINVAL, "open (not a regular file)", path);
    return NULL;
  }
  if (st.st_size <= 0) {
    close(fd);
    nfc_throw_errno(env, EINVAL, "open (empty file)", path);
    return NULL;
  }
  return map_fd(env, fd, (size_t)st.st_size, path, !read_only);
}

static napi_value js_shm_unlink(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  char path[PATH_MAX_LEN];
  if (!get_args(env, info, 1, argv)) return NULL;
  if (!get_path(env, argv[0], path)) return NULL;
  if (unlink(path) != 0) {
    nfc_throw_errno(env, errno, "unlink", path);
    return NULL;
  }
  return NULL;
}

/* ---- anonymous sealed files ----------------------------------------------------------- */

static napi_value js_memfd_create(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  char name[64];
  size_t len = 0;
  double dsize;
  if (!get_args(env, info, 2, argv)) return NULL;
  if (napi_get_value_string_utf8(env, argv[0], name, sizeof name, &len) != napi_ok || len == 0) {
    throw_type(env, "name must be a non-empty string");
    return NULL;
  }
  if (!get_double(env, argv[1], &dsize, "size must be a number")) return NULL;
  if (!(dsize >= 1 && dsize <= (double)(1ULL << 40)) || dsize != (double)(uint64_t)dsize) {
    throw_range(env, "size must be an integer between 1 and 2^40 bytes");
    return NULL;
  }
  int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) {
    nfc_throw_errno(env, errno, "memfd_create", name);
    return NULL;
  }
  if (ftruncate(fd, (off_t)dsize) != 0 ||
      fcntl(fd, F_ADD_SEALS, F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL) != 0) {
    int err = errno;
    close(fd);
    nfc_throw_errno(env, err, "memfd seal", name);
    return NULL;
  }
  napi_value out;
  napi_create_int32(env, fd, &out);
  return out;
}

static int get_fd(napi_env env, napi_value v, int *fd) {
  if (napi_get_value_int32(env, v, fd) != napi_ok || *fd < 0) {
    throw_type(env, "fd must be a non-negative integer");
    return 0;
  }
  return 1;
}

static napi_value js_map_fd(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int fd;
  bool read_only;
  if (!get_args_read_only(env, info, argv, &read_only) || !get_fd(env, argv[0], &fd)) return NULL;
  struct stat st;
  if (fstat(fd, &st) != 0) {
    nfc_throw_errno(env, errno, "fstat", NULL);
    return NULL;
  }
  if (!S_ISREG(st.st_mode) || st.st_size <= 0) {
    nfc_throw_errno(env, EINVAL, "mapFd (not a non-empty regular file)", NULL);
    return NULL;
  }
  /* map_fd closes the descriptor it is given: give it a duplicate, the caller keeps its own. */
  int dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (dup_fd < 0) {
    nfc_throw_errno(env, errno, "dup", NULL);
    return NULL;
  }
  return map_fd(env, dup_fd, (size_t)st.st_size, NULL, !read_only);
}

static napi_value js_close_fd(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int fd;
  if (!get_args(env, info, 1, argv) || !get_fd(env, argv[0], &fd)) return NULL;
  if (close(fd) != 0) nfc_throw_errno(env, errno, "close", NULL);
  return NULL;
}

/* ---- futex ---------------------------------------------------------------------------- */

/* Resolve (Int32Array, index) to the address of that element, checking bounds. */
static int32_t *futex_word(napi_env env, napi_value arr, napi_value idx) {
  napi_typedarray_type type;
  size_t length;
  void *data;
  if (napi_get_typedarray_info(env, arr, &type, &length, &data, NULL, NULL) != napi_ok ||
      type != napi_int32_array) {
    throw_type(env, "futex word must be given as an Int32Array and an index");
    return NULL;
  }
  uint32_t i;
  if (napi_get_value_uint32(env, idx, &i) != napi_ok || i >= length) {
    throw_range(env, "futex index is outside the Int32Array");
    return NULL;
  }
  return (int32_t *)data + i;
}

static napi_value futex_wait(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (!get_args(env, info, 4, argv)) return NULL;
  int32_t *word = futex_word(env, argv[0], argv[1]);
  if (word == NULL) return NULL;
  int32_t expected;
  double timeout_ms;
  if (napi_get_value_int32(env, argv[2], &expected) != napi_ok) {
    throw_type(env, "expected must be a number");
    return NULL;
  }
  if (!get_double(env, argv[3], &timeout_ms, "timeoutMs must be a number")) return NULL;

  struct timespec ts, *tsp = NULL;
  if (timeout_ms >= 0 && timeout_ms < 1e12) {
    ts.tv_sec = (time_t)(timeout_ms / 1000);
    ts.tv_nsec = (long)((timeout_ms - (double)ts.tv_sec * 1000) * 1e6);
    tsp = &ts;
  }
  long r = syscall(SYS_futex, word, FUTEX_WAIT, expected, tsp, NULL, 0);
  int result = 0;
  if (r != 0) {
    switch (errno) {
      case EAGAIN: result = 1; break;    /* the word no longer held `expected` */
      case ETIMEDOUT: result = 2; break;
      case EINTR: result = 0; break;     /* a signal: callers re-check their condition */
      default:
        nfc_throw_errno(env, errno, "futex_wait", NULL);
        return NULL;
    }
  }
  napi_value out;
  napi_create_int32(env, result, &out);
  return out;
}

#ifndef SYS_futex_waitv
#define SYS_futex_waitv 449
#endif
#define NFC_WAITV_MAX 128

struct nfc_waitv {
  uint64_t val;
  uint64_t uaddr;
  uint32_t flags;
  uint32_t reserved;
};

static napi_value futex_wait_v(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!get_args(env, info, 2, argv)) return NULL;
  uint32_t n;
  bool is_array = false;
  napi_is_array(env, argv[0], &is_array);
  if (!is_array || napi_get_array_length(env, argv[0], &n) != napi_ok || n == 0 || n > NFC_WAITV_MAX) {
    throw_type(env, "futexWaitV takes a list of 1..128 [Int32Array, index, expected] entries");
    return NULL;
  }
  double timeout_ms;
  if (!get_double(env, argv[1], &timeout_ms, "timeoutMs must be a number")) return NULL;
  struct nfc_waitv w[NFC_WAITV_MAX];
  memset(w, 0, sizeof w);
  for (uint32_t i = 0; i < n; i++) {
    napi_value e, arr, idx, exp;
    napi_get_element(env, argv[0], i, &e);
    if (napi_get_element(env, e, 0, &arr) != napi_ok || napi_get_element(env, e, 1, &idx) != napi_ok ||
        napi_get_element(env, e, 2, &exp) != napi_ok) {
      throw_type(env, "each futexWaitV entry is [Int32Array, index, expected]");
      return NULL;
    }
    int32_t *word = futex_word(env, arr, idx);
    if (word == NULL) return NULL;
    int32_t expected;
    if (napi_get_value_int32(env, exp, &expected) != napi_ok) {
      throw_type(env, "expected must be a number");
      return NULL;
    }
    w[i].val = (uint64_t)(uint32_t)expected;
    w[i].uaddr = (uint64_t)(uintptr_t)word;
    w[i].flags = 2; /* FUTEX2_SIZE_U32, shared (no FUTEX2_PRIVATE): the words live in files mapped by several processes */
  }
  struct timespec ts, *tsp = NULL;
  if (timeout_ms >= 0 && timeout_ms < 1e12) {
    /* futex_waitv takes an absolute CLOCK_MONOTONIC deadline. */
    clock_gettime(CLOCK_MONOTONIC, &ts);
    long long ns = (long long)ts.tv_nsec + (long long)(timeout_ms * 1e6);
    ts.tv_sec += (time_t)(ns / 1000000000LL);
    ts.tv_nsec = (long)(ns % 1000000000LL);
    tsp = &ts;
  }
  long r = syscall(SYS_futex_waitv, w, n, 0, tsp, CLOCK_MONOTONIC);
  int result = (int)r;
  if (r < 0) {
    switch (errno) {
      case EAGAIN: result = -1; break;
      case ETIMEDOUT: result = -2; break;
      case EINTR: result = -1; break; /* callers re-check their words either way */
      default:
        nfc_throw_errno(env, errno, "futex_waitv", NULL);
        return NULL;
    }
  }
  napi_value out;
  napi_create_int32(env, result, &out);
  return out;
}

static napi_value futex_wake(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!get_args(env, info, 3, argv)) return NULL;
  int32_t *word = futex_word(env, argv[0], argv[1]);
  if (word == NULL) return NULL;
  int32_t count;
  if (napi_get_value_int32(env, argv[2], &count) != napi_ok || count < 1) {
    throw_range(env, "count must be a positive integer");
    return NULL;
  }
  long r = syscall(SYS_futex, word, FUTEX_WAKE, count, NULL, NULL, 0);
  if (r < 0) {
    nfc_throw_errno(env, errno, "futex_wake", NULL);
    return NULL;
  }
  napi_value out;
  napi_create_int32(env, (int32_t)r, &out);
  return out;
}

static napi_value sched_yield_js(napi_env env, napi_callback_info info) {
  (void)env;
  (void)info;
  sched_yield();
  return NULL;
}

/*
 * Core placement. setAffinity(cpus): pins the calling thread (sched_setaffinity with pid 0 is
 * the thread, so a worker thread pins itself, not its process) to the listed CPUs. getCpu():
 * the CPU the calling thread runs on now (sched_getcpu). allowedCpus(): the CPUs this thread
 * may run on (sched_getaffinity), to check a placement against before applying it.
 */
static napi_value set_affinity_js(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv)) return NULL;
  bool is_array = false;
  uint32_t n = 0;
  if (napi_is_array(env, argv[0], &is_array) != napi_ok || !is_array || napi_get_array_length(env, argv[0], &n) != napi_ok ||
      n == 0) {
    throw_range(env, "cpus must be a non-empty array of CPU numbers");
    return NULL;
  }
  cpu_set_t set;
  CPU_ZERO(&set);
  for (uint32_t i = 0; i < n; i++) {
    napi_value v;
    int32_t cpu;
    if (napi_get_element(env, argv[0], i, &v) != napi_ok || napi_get_value_int32(env, v, &cpu) != napi_ok || cpu < 0 ||
        cpu >= CPU_SETSIZE) {
      throw_range(env, "cpus must be CPU numbers from 0");
      return NULL;
    }
    CPU_SET(cpu, &set);
  }
  if (sched_setaffinity(0, sizeof set, &set) != 0) {
    nfc_throw_errno(env, errno, "sched_setaffinity", NULL);
    return NULL;
  }
  return NULL;
}

static napi_value get_cpu_js(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value out;
  napi_create_int32(env, sched_getcpu(), &out);
  return out;
}

static napi_value allowed_cpus_js(napi_env env, napi_callback_info info) {
  (void)info;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0) {
    nfc_throw_errno(env, errno, "sched_getaffinity", NULL);
    return NULL;
  }
  napi_value arr;
  napi_create_array(env, &arr);
  uint32_t k = 0;
  for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
    if (!CPU_ISSET(cpu, &set)) continue;
    napi_value v;
    napi_create_int32(env, cpu, &v);
    napi_set_element(env, arr, k++, v);
  }
  return arr;
}

/* ---- module --------------------------------------------------------------------------- */

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"shmCreate", NULL, js_shm_create, NULL, NULL, NULL, napi_enumerable, NULL},
      {"shmOpen", NULL, js_shm_open, NULL, NULL, NULL, napi_enumerable, NULL},
      {"shmUnlink", NULL, js_shm_unlink, NULL, NULL, NULL, napi_enumerable, NULL},
      {"futexWait", NULL, futex_wait, NULL, NULL, NULL, napi_enumerable, NULL},
      {"futexWake", NULL, futex_wake, NULL, NULL, NULL, napi_enumerable, NULL},
      {"futexWaitV", NULL, futex_wait_v, NULL, NULL, NULL, napi_enumerable, NULL},
      {"memfdCreate", NULL, js_memfd_create, NULL, NULL, NULL, napi_enumerable, NULL},
      {"mapFd", NULL, js_map_fd, NULL, NULL, NULL, napi_enumerable, NULL},
      {"closeFd", NULL, js_close_fd, NULL, NULL, NULL, napi_enumerable, NULL},
      {"schedYield", NULL, sched_yield_js, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setAffinity", NULL, set_affinity_js, NULL, NULL, NULL, napi_enumerable, NULL},
      {"getCpu", NULL, get_cpu_js, NULL, NULL, NULL, napi_enumerable, NULL},
      {"allowedCpus", NULL, allowed_cpus_js, NULL, NULL, NULL, napi_enumerable, NULL},
      {"afpOpen", NULL, nfc_afp_open, NULL, NULL, NULL, napi_enumerable, NULL},
      {"afpClose", NULL, nfc_afp_close, NULL, NULL, NULL, napi_enumerable, NULL},
      {"afpRxBurst", NULL, nfc_afp_rx_burst, NULL, NULL, NULL, napi_enumerable, NULL},
      {"afpTxBurst", NULL, nfc_afp_tx_burst, NULL, NULL, NULL, napi_enumerable, NULL},
      {"afpStats", NULL, nfc_afp_stats, NULL, NULL, NULL, napi_enumerable, NULL},
      {"afpFd", NULL, nfc_afp_fd, NULL, NULL, NULL, napi_enumerable, NULL},
      {"pollIn", NULL, nfc_poll_in, NULL, NULL, NULL, napi_enumerable, NULL},
      {"linkInfo", NULL, nfc_link_info, NULL, NULL, NULL, napi_enumerable, NULL},
      {"xdpOpen", NULL, nfc_xdp_open, NULL, NULL, NULL, napi_enumerable, NULL},
      {"xdpFill", NULL, nfc_xdp_fill, NULL, NULL, NULL, napi_enumerable, NULL},
      {"xdpRx", NULL, nfc_xdp_rx, NULL, NULL, NULL, napi_enumerable, NULL},
      {"xdpTx", NULL, nfc_xdp_tx, NULL, NULL, NULL, napi_enumerable, NULL},
      {"xdpComplete", NULL, nfc_xdp_complete, NULL, NULL, NULL, napi_enumerable, NULL},
      {"xdpClose", NULL, nfc_xdp_close, NULL, NULL, NULL, napi_enumerable, NULL},
      {"xdpAvailable", NULL, nfc_xdp_available, NULL, NULL, NULL, napi_enumerable, NULL},
      {"xdpFd", NULL, nfc_xdp_fd, NULL, NULL, NULL, napi_enumerable, NULL},
      {"peerCred", NULL, nfc_peer_cred, NULL, NULL, NULL, napi_enumerable, NULL},
      {"pidfdOpen", NULL, nfc_pidfd_open, NULL, NULL, NULL, napi_enumerable, NULL},
      {"pidfdSignal", NULL, nfc_pidfd_signal, NULL, NULL, NULL, napi_enumerable, NULL},
      {"pidfdExited", NULL, nfc_pidfd_exited, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
