/*
 * AF_PACKET port support for nfchain: one socket pair per interface.
 *
 *   RX: an AF_PACKET socket with a TPACKET_V3 ring mapped into this process. afpRxBurst walks
 *       the ring's blocks in place and copies each frame into the pool buffer the caller gives,
 *       one N-API call per burst.
 *   TX: a second AF_PACKET socket of protocol 0 (it receives nothing, so a port never sees its
 *       own frames) with PACKET_QDISC_BYPASS; afpTxBurst hands frames to the kernel straight
 *       from pool memory with one sendmmsg per burst.
 *
 * The RX socket sets PACKET_IGNORE_OUTGOING and joins the interface in promiscuous mode.
 * Frames whose checksum the sender left to offload (TP_STATUS_CSUMNOTREADY) are flagged so the
 * caller can complete the checksum.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <node_api.h>

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif

/* Shared with nfchain_native.c */
void nfc_throw_errno(napi_env env, int err, const char *syscall_name, const char *path);

#define IO_WORDS 5 /* per packet in the io array: offset, room|len, tsSec, tsNsec, flags */
#define MAX_BURST 256

typedef struct {
  int rx_fd;
  int tx_fd;
  int ifindex;
  uint8_t *ring;
  size_t ring_size;
  uint32_t block_size;
  uint32_t block_nr;
  uint32_t cur_block;
  uint8_t *pkt;         /* next packet in the current block, or NULL when none is open */
  uint32_t pkts_left;
  char ifname[IF_NAMESIZE];
  int closed;
} afp_t;

static void afp_close_fds(afp_t *a) {
  if (a->ring != NULL && a->ring != MAP_FAILED) munmap(a->ring, a->ring_size);
  a->ring = NULL;
  if (a->rx_fd >= 0) close(a->rx_fd);
  if (a->tx_fd >= 0) close(a->tx_fd);
  a->rx_fd = a->tx_fd = -1;
  a->closed = 1;
}

static void afp_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  afp_t *a = data;
  afp_close_fds(a);
  free(a);
}

static afp_t *get_afp(napi_env env, napi_value v) {
  void *p = NULL;
  if (napi_get_value_external(env, v, &p) != napi_ok || p == NULL) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "expected an af_packet handle");
    return NULL;
  }
  afp_t *a = p;
  if (a->closed) {
    napi_throw_error(env, "ERR_NFCHAIN_CLOSED", "the af_packet port is closed");
    return NULL;
  }
  return a;
}

/*
 * The arguments of afpRxBurst / afpTxBurst: (handle, pool ArrayBuffer, io Uint32Array, count).
 * Returns 0 (with a JS exception pending) when they are not of that shape.
 */
static int burst_args(napi_env env, napi_callback_info info, const char *usage, afp_t **a, uint8_t **pool,
                      size_t *pool_len, uint32_t **io, size_t *io_len, uint32_t *count) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 4) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", usage);
    return 0;
  }
  *a = get_afp(env, argv[0]);
  if (*a == NULL) return 0;
  napi_typedarray_type t;
  void *p = NULL, *d = NULL;
  if (napi_get_arraybuffer_info(env, argv[1], &p, pool_len) != napi_ok ||
      napi_get_typedarray_info(env, argv[2], &t, io_len, &d, NULL, NULL) != napi_ok || t != napi_uint32_array ||
      napi_get_value_uint32(env, argv[3], count) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", usage);
    return 0;
  }
  *pool = p;
  *io = d;
  return 1;
}

/* afpOpen(ifname, blockSize, blockCount, withRx) -> handle (withRx false: the TX socket only) */
napi_value nfc_afp_open(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char ifname[IF_NAMESIZE + 1];
  size_t len = 0;
  uint32_t block_size = 0, block_nr = 0;
  bool with_rx = true;
  if (argc >= 4) napi_get_value_bool(env, argv[3], &with_rx);
  if (argc < 3 || napi_get_value_string_utf8(env, argv[0], ifname, sizeof ifname, &len) != napi_ok || len == 0 ||
      len >= IF_NAMESIZE || napi_get_value_uint32(env, argv[1], &block_size) != napi_ok ||
      napi_get_value_uint32(env, argv[2], &block_nr) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "afpOpen(ifname, blockSize, blockCount)");
    return NULL;
  }
  if (block_size < 4096 || (block_size & (block_size - 1)) != 0 || block_nr < 2 || block_nr > 4096) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "blockSize must be a power of two >= 4096 and blockCount 2..4096");
    return NULL;
  }
  unsigned ifindex = if_nametoindex(ifname);
  if (ifindex == 0) {
    nfc_throw_errno(env, errno, "if_nametoindex", ifname);
    return NULL;
  }
  afp_t *a = calloc(1, sizeof *a);
  if (a == NULL) {
    nfc_throw_errno(env, ENOMEM, "calloc", ifname);
    return NULL;
  }
  a->rx_fd = a->tx_fd = -1;
  a->ifindex = (int)ifindex;
  a->block_size = block_size;
  a->block_nr = block_nr;
  memcpy(a->ifname, ifname, len + 1); /* len < IF_NAMESIZE, checked above */
  const char *step = "socket";
  int one = 1, v3 = TPACKET_V3;
  struct sockaddr_ll sll;
  memset(&sll, 0, sizeof sll);
  sll.sll_family = AF_PACKET;
  sll.sll_ifindex = (int)ifindex;
  if (!with_rx) goto tx;

  a->rx_fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, htons(ETH_P_ALL));
  if (a->rx_fd < 0) goto fail;
  step = "setsockopt(PACKET_VERSION)";
  if (setsockopt(a->rx_fd, SOL_PACKET, PACKET_VERSION, &v3, sizeof v3) != 0) goto fail;
  struct tpacket_req3 req;
  memset(&req, 0, sizeof req);
  req.tp_block_size = block_size;
  req.tp_block_nr = block_nr;
  req.tp_frame_size = 2048;
  req.tp_frame_nr = (block_size / 2048) * block_nr;
  req.tp_retire_blk_tov = 1; /* ms: a block is handed over at the latest 1 ms after its first frame */
  step = "setsockopt(PACKET_RX_RING)";
  if (setsockopt(a->rx_fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof req) != 0) goto fail;
  a->ring_size = (size_t)block_size * block_nr;
  step = "mmap";
  a->ring = mmap(NULL, a->ring_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_LOCKED, a->rx_fd, 0);
  if (a->ring == MAP_FAILED) {
    a->ring = mmap(NULL, a->ring_size, PROT_READ | PROT_WRITE, MAP_SHARED, a->rx_fd, 0);
    if (a->ring == MAP_FAILED) goto fail;
  }
  /* Own transmissions are not received (the TX socket below would otherwise be seen). */
  setsockopt(a->rx_fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one);
  sll.sll_protocol = htons(ETH_P_ALL);
  step = "bind";
  if (bind(a->rx_fd, (struct sockaddr *)&sll, sizeof sll) != 0) goto fail;
  struct packet_mreq mr;
  memset(&mr, 0, sizeof mr);
  mr.mr_ifindex = (int)ifindex;
  mr.mr_type = PACKET_MR_PROMISC;
  step = "setsockopt(PACKET_ADD_MEMBERSHIP)";
  if (setsockopt(a->rx_fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof mr) != 0) goto fail;

tx:
  step = "socket (tx)";
  a->tx_fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (a->tx_fd < 0) goto fail;
  setsockopt(a->tx_fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one);
  sll.sll_protocol = 0;
  step = "bind (tx)";
  if (bind(a->tx_fd, (struct sockaddr *)&sll, sizeof sll) != 0) goto fail;

  napi_value handle;
  if (napi_create_external(env, a, afp_finalize, NULL, &handle) != napi_ok) {
    afp_close_fds(a);
    free(a);
    napi_throw_error(env, "ERR_NFCHAIN_NATIVE", "napi_create_external failed");
    return NULL;
  }
  return handle;
fail: {
  int err = errno;
  afp_close_fds(a);
  free(a);
  nfc_throw_errno(env, err, step, ifname);
  return NULL;
}
}

/* afpClose(handle) */
napi_value nfc_afp_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  void *p = NULL;
  if (argc >= 1 && napi_get_value_external(env, argv[0], &p) == napi_ok && p != NULL) afp_close_fds(p);
  return NULL;
}

/*
 * afpRxBurst(handle, pool, io, max) -> n
 * For packet i the caller fills io[i*5] = byte offset in `pool` where the frame goes and
 * io[i*5+1] = room (bytes); this writes io[i*5+1] = copied length, io[i*5+2] = tsSec,
 * io[i*5+3] = tsNsec, io[i*5+4] = flags (1: checksum not ready, 2: truncated to room).
 */
napi_value nfc_afp_rx_burst(napi_env env, napi_callback_info info) {
  afp_t *a;
  uint8_t *pool;
  size_t pool_len, io_len;
  uint32_t *io, max;
  if (!burst_args(env, info, "afpRxBurst(handle, pool ArrayBuffer, io Uint32Array, max)", &a, &pool, &pool_len, &io, &io_len, &max)) return NULL;
  if (a->ring == NULL) {
    napi_throw_error(env, "ERR_NFCHAIN_NATIVE", "afpRxBurst: this handle was opened without a receive ring");
    return NULL;
  }
  if (max > io_len / IO_WORDS) max = (uint32_t)(io_len / IO_WORDS);
  if (max > MAX_BURST) max = MAX_BURST;
  uint32_t n = 0;
  while (n < max) {
    struct tpacket_block_desc *bd = (struct tpacket_block_desc *)(a->ring + (size_t)a->cur_block * a->block_size);
    if (a->pkt == NULL) {
      if ((__atomic_load_n(&bd->hdr.bh1.block_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER) == 0) break;
      a->pkts_left = bd->hdr.bh1.num_pkts;
      a->pkt = (uint8_t *)bd + bd->hdr.bh1.offset_to_first_pkt;
    }
    if (a->pkts_left == 0) {
      /* Block done: hand it back to the kernel and move on. */
      __atomic_store_n(&bd->hdr.bh1.block_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
      a->cur_block = (a->cur_block + 1) % a->block_nr;
      a->pkt = NULL;
      continue;
    }
    struct tpacket3_hdr *h = (struct tpacket3_hdr *)a->pkt;
    uint32_t off = io[n * IO_WORDS];
    uint32_t room = io[n * IO_WORDS + 1];
    uint32_t len = h->tp_snaplen;
    uint32_t flags = 0;
    if (len > room) {
      len = room;
      flags |= 2;
    }
    if (h->tp_len > h->tp_snaplen) flags |= 2;
    if ((size_t)off + len <= pool_len) {
      memcpy(pool + off, (uint8_t *)h + h->tp_mac, len);
      if (h->tp_status & TP_STATUS_CSUMNOTREADY) flags |= 1;
      io[n * IO_WORDS + 1] = len;
      io[n * IO_WORDS + 2] = h->tp_sec;
      io[n * IO_WORDS + 3] = h->tp_nsec;
      io[n * IO_WORDS + 4] = flags;
      n++;
    }
    a->pkts_left--;
    a->pkt = h->tp_next_offset ? a->pkt + h->tp_next_offset : a->pkt;
    if (a->pkts_left == 0) {
      __atomic_store_n(&bd->hdr.bh1.block_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
      a->cur_block = (a->cur_block + 1) % a->block_nr;
      a->pkt = NULL;
    }
  }
  napi_value out;
  napi_create_uint32(env, n, &out);
  return out;
}

/*
 * afpTxBurst(handle, pool, io, n) -> sent
 * io[i*2] = byte offset of frame i in `pool`, io[i*2+1] = its length. One sendmmsg.
 */
napi_value nfc_afp_tx_burst(napi_env env, napi_callback_info info) {
  afp_t *a;
  uint8_t *pool;
  size_t pool_len, io_len;
  uint32_t *io, n;
  if (!burst_args(env, info, "afpTxBurst(handle, pool ArrayBuffer, io Uint32Array, n)", &a, &pool, &pool_len, &io, &io_len, &n)) return NULL;
  if (n > io_len / 2) n = (uint32_t)(io_len / 2);
  if (n > MAX_BURST) n = MAX_BURST;
  struct mmsghdr msgs[MAX_BURST];
  struct iovec iov[MAX_BURST];
  uint32_t k = 0;
  for (uint32_t i = 0; i < n; i++) {
    uint32_t off = io[i * 2], len = io[i * 2 + 1];
    if (len == 0 || (size_t)off + len > pool_len) continue;
    iov[k].iov_base = pool + off;
    iov[k].iov_len = len;
    memset(&msgs[k], 0, sizeof msgs[k]);
    msgs[k].msg_hdr.msg_iov = &iov[k];
    msgs[k].msg_hdr.msg_iovlen = 1;
    k++;
  }
  int sent = 0;
  while ((uint32_t)sent < k) {
    int r = sendmmsg(a->tx_fd, msgs + sent, k - (uint32_t)sent, MSG_DONTWAIT);
    if (r <= 0) {
      if (r < 0 && errno == EINTR) continue;
      break; /* EAGAIN / ENOBUFS: the rest is dropped by the caller and counted */
    }
    sent += r;
  }
  napi_value out;
  napi_create_uint32(env, (uint32_t)sent, &out);
  return out;
}

/* afpStats(handle) -> { packets, drops } since the last call (PACKET_STATISTICS resets) */
napi_value nfc_afp_stats(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  afp_t *a = argc >= 1 ? get_afp(env, argv[0]) : NULL;
  if (a == NULL) return NULL;
  if (a->rx_fd < 0) {
    napi_throw_error(env, "ERR_NFCHAIN_NATIVE", "afpStats: this handle was opened without a receive socket");
    return NULL;
  }
  struct tpacket_stats_v3 st;
  socklen_t sl = sizeof st;
  memset(&st, 0, sizeof st);
  if (getsockopt(a->rx_fd, SOL_PACKET, PACKET_STATISTICS, &st, &sl) != 0) {
    nfc_throw_errno(env, errno, "getsockopt(PACKET_STATISTICS)", a->ifname);
    return NULL;
  }
  napi_value o, v;
  napi_create_object(env, &o);
  napi_create_uint32(env, st.tp_packets, &v);
  napi_set_named_property(env, o, "packets", v);
  napi_create_uint32(env, st.tp_drops, &v);
  napi_set_named_property(env, o, "drops", v);
  napi_create_uint32(env, st.tp_freeze_q_cnt, &v);
  napi_set_named_property(env, o, "freezes", v);
  return o;
}

/* linkInfo(ifname) -> { ifindex, up, running, mtu, mac } */
napi_value nfc_link_info(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char ifname[IF_NAMESIZE + 1];
  size_t len = 0;
  if (argc < 1 || napi_get_value_string_utf8(env, argv[0], ifname, sizeof ifname, &len) != napi_ok || len == 0 || len >= IF_NAMESIZE) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "linkInfo(ifname): an interface name of 1..15 characters");
    return NULL;
  }
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    nfc_throw_errno(env, errno, "socket", ifname);
    return NULL;
  }
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  memcpy(ifr.ifr_name, ifname, len + 1); /* len < IF_NAMESIZE, checked above */
  const char *step = "ioctl(SIOCGIFFLAGS)";
  if (ioctl(fd, SIOCGIFFLAGS, &ifr) != 0) goto fail;
  short flags = ifr.ifr_flags;
  step = "ioctl(SIOCGIFMTU)";
  if (ioctl(fd, SIOCGIFMTU, &ifr) != 0) goto fail;
  int mtu = ifr.ifr_mtu;
  step = "ioctl(SIOCGIFHWADDR)";
  if (ioctl(fd, SIOCGIFHWADDR, &ifr) != 0) goto fail;
  close(fd);
  char mac[18];
  const unsigned char *m = (const unsigned char *)ifr.ifr_hwaddr.sa_data;
  snprintf(mac, sizeof mac, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
  napi_value o, v;
  napi_create_object(env, &o);
  napi_create_uint32(env, if_nametoindex(ifname), &v);
  napi_set_named_property(env, o, "ifindex", v);
  napi_get_boolean(env, (flags & IFF_UP) != 0, &v);
  napi_set_named_property(env, o, "up", v);
  napi_get_boolean(env, (flags & IFF_RUNNING) != 0, &v);
  napi_set_named_property(env, o, "running", v);
  napi_create_int32(env, mtu, &v);
  napi_set_named_property(env, o, "mtu", v);
  napi_create_string_utf8(env, mac, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, o, "mac", v);
  return o;
fail: {
  int err = errno;
  close(fd);
  nfc_throw_errno(env, err, step, ifname);
  return NULL;
}
}
