/*
 * AF_XDP port support for nfchain, over libxdp's xsk API (Debian: libxdp-dev, libbpf-dev).
 *
 * The UMEM is nfchain's own packet pool: the buffer area of the pool mapping is registered, so
 * the kernel writes received frames straight into pool buffers and sends from them (the NetVM
 * "NIC DMAs into the huge-page area" path; on veth the kernel copies, XDP_COPY). A frame's UMEM
 * address is (descriptor << shift) + offset in the buffer, so no lookup table is needed.
 *
 * One socket per interface and queue, shared by the manager's RX worker (fill and rx rings)
 * and TX worker (tx and completion rings): each ring has exactly one user thread. A small
 * registry, guarded by a mutex, hands both workers the same socket.
 *
 * Built only when libxdp's headers are present (binding.gyp sets NFC_HAVE_XDP); otherwise every
 * call throws an error that says what to install.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <node_api.h>

void nfc_throw_errno(napi_env env, int err, const char *syscall_name, const char *path);

#ifndef NFC_HAVE_XDP

static napi_value missing(napi_env env, napi_callback_info info) {
  (void)info;
  napi_throw_error(env, "ERR_NFCHAIN_NO_XDP",
                   "af_xdp is not built in: install libxdp-dev and libbpf-dev (apt-get install libxdp-dev libbpf-dev), then npm rebuild");
  return NULL;
}
napi_value nfc_xdp_open(napi_env env, napi_callback_info info) { return missing(env, info); }
napi_value nfc_xdp_fill(napi_env env, napi_callback_info info) { return missing(env, info); }
napi_value nfc_xdp_rx(napi_env env, napi_callback_info info) { return missing(env, info); }
napi_value nfc_xdp_tx(napi_env env, napi_callback_info info) { return missing(env, info); }
napi_value nfc_xdp_complete(napi_env env, napi_callback_info info) { return missing(env, info); }
napi_value nfc_xdp_close(napi_env env, napi_callback_info info) { return missing(env, info); }
napi_value nfc_xdp_fd(napi_env env, napi_callback_info info) { return missing(env, info); }
napi_value nfc_xdp_available(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value v;
  napi_get_boolean(env, false, &v);
  return v;
}

#else

#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <xdp/libxdp.h>
#include <xdp/xsk.h>

/* libbpf and libxdp narrate on stderr (no bpffs, unknown ELF sections, fallbacks); every
 * failure that matters comes back as an error code, which is reported with the port's name. */
static int quiet(enum libbpf_print_level level, const char *fmt, va_list args) {
  (void)level;
  (void)fmt;
  (void)args;
  return 0;
}
static int quiet_xdp(enum libxdp_print_level level, const char *fmt, va_list args) {
  (void)level;
  (void)fmt;
  (void)args;
  return 0;
}

#define MAX_XSK 16
#define MAX_BURST 256

typedef struct {
  int used;
  int refs;
  char ifname[IF_NAMESIZE];
  uint32_t queue;
  struct xsk_umem *umem;
  struct xsk_socket *xsk;
  struct xsk_ring_prod fq, tx;
  struct xsk_ring_cons cq, rx;
  int native; /* bound with native (driver) XDP, not generic */
} xsk_entry_t;

static xsk_entry_t registry[MAX_XSK];
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;

static xsk_entry_t *get_entry(napi_env env, napi_value v) {
  uint32_t i;
  if (napi_get_value_uint32(env, v, &i) != napi_ok || i >= MAX_XSK || !registry[i].used) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "expected an open af_xdp handle");
    return NULL;
  }
  return &registry[i];
}

/*
 * xdpOpen(ifname, queue, pool ArrayBuffer, areaOffset, areaSize, frameSize, headroom, ringSize)
 * -> handle (a small integer). A second open of the same interface and queue shares the socket.
 */
napi_value nfc_xdp_open(napi_env env, napi_callback_info info) {
  size_t argc = 8;
  napi_value argv[8];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char ifname[IF_NAMESIZE + 1];
  size_t len = 0;
  uint32_t queue, area_off, area_size, frame_size, headroom, ring;
  void *pool = NULL;
  size_t pool_len = 0;
  if (argc < 8 || napi_get_value_string_utf8(env, argv[0], ifname, sizeof ifname, &len) != napi_ok || len == 0 ||
      len >= IF_NAMESIZE || napi_get_value_uint32(env, argv[1], &queue) != napi_ok ||
      napi_get_arraybuffer_info(env, argv[2], &pool, &pool_len) != napi_ok ||
      napi_get_value_uint32(env, argv[3], &area_off) != napi_ok || napi_get_value_uint32(env, argv[4], &area_size) != napi_ok ||
      napi_get_value_uint32(env, argv[5], &frame_size) != napi_ok || napi_get_value_uint32(env, argv[6], &headroom) != napi_ok ||
      napi_get_value_uint32(env, argv[7], &ring) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE",
                          "xdpOpen(ifname, queue, pool, areaOffset, areaSize, frameSize, headroom, ringSize)");
    return NULL;
  }
  if ((size_t)area_off + area_size > pool_len || (area_off & 4095) != 0) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "xdpOpen: the UMEM area must be page aligned and inside the pool");
    return NULL;
  }
  pthread_mutex_lock(&registry_lock);
  libbpf_set_print(quiet);
  libxdp_set_print(quiet_xdp);
  int slot = -1;
  for (int i = 0; i < MAX_XSK; i++) {
    if (registry[i].used && registry[i].queue == queue && strcmp(registry[i].ifname, ifname) == 0) {
      registry[i].refs++;
      pthread_mutex_unlock(&registry_lock);
      napi_value h;
      napi_create_uint32(env, (uint32_t)i, &h);
      return h;
    }
    if (!registry[i].used && slot < 0) slot = i;
  }
  if (slot < 0) {
    pthread_mutex_unlock(&registry_lock);
    nfc_throw_errno(env, EMFILE, "xdpOpen (too many af_xdp sockets)", ifname);
    return NULL;
  }
  xsk_entry_t *e = &registry[slot];
  memset(e, 0, sizeof *e);
  memcpy(e->ifname, ifname, len + 1);
  e->queue = queue;
  struct xsk_umem_config ucfg = {
      .fill_size = ring, .comp_size = ring, .frame_size = frame_size, .frame_headroom = headroom, .flags = 0};
  int r = xsk_umem__create(&e->umem, (uint8_t *)pool + area_off, area_size, &e->fq, &e->cq, &ucfg);
  if (r != 0) {
    pthread_mutex_unlock(&registry_lock);
    nfc_throw_errno(env, -r, "xsk_umem__create", ifname);
    return NULL;
  }
  /* Native (driver) XDP first, in copy mode; generic (SKB) XDP where the driver has none. On a
   * veth, native XDP also makes the peer stop sending GSO super-frames (veth_fix_features), which
   * AF_XDP could not take (a frame must fit one UMEM frame). */
  struct xsk_socket_config scfg = {
      .rx_size = ring, .tx_size = ring, .libxdp_flags = 0, .xdp_flags = XDP_FLAGS_DRV_MODE, .bind_flags = XDP_COPY};
  r = xsk_socket__create(&e->xsk, ifname, queue, e->umem, &e->rx, &e->tx, &scfg);
  if (r != 0) {
    scfg.xdp_flags = XDP_FLAGS_SKB_MODE;
    r = xsk_socket__create(&e->xsk, ifname, queue, e->umem, &e->rx, &e->tx, &scfg);
  }
  e->native = r == 0 && scfg.xdp_flags == XDP_FLAGS_DRV_MODE;
  if (r != 0) {
    xsk_umem__delete(e->umem);
    pthread_mutex_unlock(&registry_lock);
    nfc_throw_errno(env, -r, "xsk_socket__create", ifname);
    return NULL;
  }
  e->used = 1;
  e->refs = 1;
  pthread_mutex_unlock(&registry_lock);
  napi_value h;
  napi_create_uint32(env, (uint32_t)slot, &h);
  return h;
}

/* xdpFd(handle) -> the socket's fd: it polls readable when the rx ring has frames (nfcPollIn). */
napi_value nfc_xdp_fd(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  pthread_mutex_lock(&registry_lock);
  xsk_entry_t *e = argc >= 1 ? get_entry(env, argv[0]) : NULL;
  int fd = e != NULL ? xsk_socket__fd(e->xsk) : -1;
  pthread_mutex_unlock(&registry_lock);
  if (e == NULL) return NULL;
  napi_value out;
  napi_create_int32(env, fd, &out);
  return out;
}

/* xdpClose(handle): the last close removes the socket and the UMEM (and the XDP program). */
napi_value nfc_xdp_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  pthread_mutex_lock(&registry_lock);
  xsk_entry_t *e = argc >= 1 ? get_entry(env, argv[0]) : NULL;
  if (e != NULL && --e->refs == 0) {
    xsk_socket__delete(e->xsk);
    xsk_umem__delete(e->umem);
    e->used = 0;
  }
  pthread_mutex_unlock(&registry_lock);
  return NULL;
}

static int ring_args(napi_env env, napi_callback_info info, const char *usage, xsk_entry_t **e, uint32_t **io,
                     size_t *io_len, uint32_t *n) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  napi_typedarray_type t;
  void *d = NULL;
  if (argc < 3) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", usage);
    return 0;
  }
  *e = get_entry(env, argv[0]);
  if (*e == NULL) return 0;
  if (napi_get_typedarray_info(env, argv[1], &t, io_len, &d, NULL, NULL) != napi_ok || t != napi_uint32_array ||
      napi_get_value_uint32(env, argv[2], n) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", usage);
    return 0;
  }
  *io = d;
  if (*n > MAX_BURST) *n = MAX_BURST;
  return 1;
}

static napi_value u32(napi_env env, uint32_t v) {
  napi_value out;
  napi_create_uint32(env, v, &out);
  return out;
}

/* xdpFill(handle, addrs Uint32Array, n) -> how many frame addresses the fill ring took */
napi_value nfc_xdp_fill(napi_env env, napi_callback_info info) {
  xsk_entry_t *e;
  uint32_t *io, n;
  size_t io_len;
  if (!ring_args(env, info, "xdpFill(handle, addrs Uint32Array, n)", &e, &io, &io_len, &n)) return NULL;
  if (n > io_len) n = (uint32_t)io_len;
  uint32_t idx;
  uint32_t k = xsk_ring_prod__reserve(&e->fq, n, &idx);
  for (uint32_t i = 0; i < k; i++) *xsk_ring_prod__fill_addr(&e->fq, idx + i) = io[i];
  xsk_ring_prod__submit(&e->fq, k);
  return u32(env, k);
}

/* xdpRx(handle, io Uint32Array, max) -> n; io[2i] = data address, io[2i+1] = length */
napi_value nfc_xdp_rx(napi_env env, napi_callback_info info) {
  xsk_entry_t *e;
  uint32_t *io, max;
  size_t io_len;
  if (!ring_args(env, info, "xdpRx(handle, io Uint32Array, max)", &e, &io, &io_len, &max)) return NULL;
  if (max > io_len / 2) max = (uint32_t)(io_len / 2);
  uint32_t idx;
  uint32_t k = xsk_ring_cons__peek(&e->rx, max, &idx);
  for (uint32_t i = 0; i < k; i++) {
    const struct xdp_desc *d = xsk_ring_cons__rx_desc(&e->rx, idx + i);
    io[i * 2] = (uint32_t)d->addr;
    io[i * 2 + 1] = d->len;
  }
  xsk_ring_cons__release(&e->rx, k);
  return u32(env, k);
}

/* xdpTx(handle, io Uint32Array, n) -> queued; io[2i] = data address, io[2i+1] = length */
napi_value nfc_xdp_tx(napi_env env, napi_callback_info info) {
  xsk_entry_t *e;
  uint32_t *io, n;
  size_t io_len;
  if (!ring_args(env, info, "xdpTx(handle, io Uint32Array, n)", &e, &io, &io_len, &n)) return NULL;
  if (n > io_len / 2) n = (uint32_t)(io_len / 2);
  uint32_t idx;
  uint32_t k = xsk_ring_prod__reserve(&e->tx, n, &idx);
  for (uint32_t i = 0; i < k; i++) {
    struct xdp_desc *d = xsk_ring_prod__tx_desc(&e->tx, idx + i);
    d->addr = io[i * 2];
    d->len = io[i * 2 + 1];
  }
  xsk_ring_prod__submit(&e->tx, k);
  if (k > 0) sendto(xsk_socket__fd(e->xsk), NULL, 0, MSG_DONTWAIT, NULL, 0); /* copy mode: kick */
  return u32(env, k);
}

/* xdpComplete(handle, addrs Uint32Array, max) -> n addresses whose transmission completed */
napi_value nfc_xdp_complete(napi_env env, napi_callback_info info) {
  xsk_entry_t *e;
  uint32_t *io, max;
  size_t io_len;
  if (!ring_args(env, info, "xdpComplete(handle, addrs Uint32Array, max)", &e, &io, &io_len, &max)) return NULL;
  if (max > io_len) max = (uint32_t)io_len;
  uint32_t idx;
  uint32_t k = xsk_ring_cons__peek(&e->cq, max, &idx);
  for (uint32_t i = 0; i < k; i++) io[i] = (uint32_t)*xsk_ring_cons__comp_addr(&e->cq, idx + i);
  xsk_ring_cons__release(&e->cq, k);
  return u32(env, k);
}

napi_value nfc_xdp_available(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value v;
  napi_get_boolean(env, true, &v);
  return v;
}

#endif
