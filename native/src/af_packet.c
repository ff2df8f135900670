/*
 * AF_PACKET port support for nfchain: one socket pair per interface.
 *
 *   RX: an AF_PACKET socket with a TPACKET_V2 ring mapped into this process. Each frame is
 *       handed to user space as soon as the kernel has written it (V3's blocks wait for a
 *       retire timer of at least 1 ms: fatal for a middlebox's latency). afpRxBurst walks the
 *       ring in place and copies each frame into the pool buffer the caller gives, one N-API
 *       call per burst; when the ring is empty the caller sleeps in poll() on the socket
 *       (nfcPollIn), which the kernel wakes per frame.
 *   TX: a second AF_PACKET socket of protocol 0 (it receives nothing, so a port never sees its
 *       own frames); afpTxBurst hands frames to the kernel straight from pool memory with one
 *       sendmmsg per burst. Without offloads it bypasses the qdisc (PACKET_QDISC_BYPASS).
 *
 * Offloads (vnet, the default): both sockets use PACKET_VNET_HDR, the virtio-net header QEMU's
 * tap backend uses. A GSO super-frame (up to 64 KiB of TCP from a host whose veth keeps TSO on)
 * arrives whole with its segment size, and a frame whose checksum the sender left to the
 * device arrives with it partial; both are kept so in the buffer's offload word (Meta.offload:
 * OFFLOAD_* below) and handed back to the kernel with a header on TX, so the kernel segments
 * and checksums on the way out, as it would for its own bridge. The checksum position is not
 * stored: TX finds the L4 header again (an NF may have pushed or popped a header since). A
 * partial checksum whose position is not the TCP/UDP checksum of the frame is completed here.
 *
 * The RX socket sets PACKET_IGNORE_OUTGOING and joins the interface in promiscuous mode.
 * VLAN tags the kernel took off (TP_STATUS_VLAN_VALID) are put back into the frame.
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

#include <linux/virtio_net.h>

/* The offload word (Meta.offload), shared with src/shm/pool-layout.ts:
 *   bit 0       the L4 checksum is partial (CHECKSUM_PARTIAL: the field holds the
 *               pseudo-header sum; the device or the kernel completes it)
 *   bits 8..15  the GSO type, virtio-net's values (TCPV4 1, UDP 3, TCPV6 4, UDP_L4 5, | ECN 0x80)
 *   bits 16..31 the GSO segment size (payload bytes per segment), 0 when not a super-frame */
#define OFFLOAD_CSUM_PARTIAL 1u

#define RX_HDR 8       /* io header: [0] jumbo slots offered, [1] used (out), [2] dropped oversize (out),
                          [3] dropped malformed (out), [4] checksums completed (out), [5..7] free */
#define RX_JUMBO 4     /* jumbo slots: io[8 + 2j] offset, io[9 + 2j] room */
#define RX_BASE (RX_HDR + 2 * RX_JUMBO)
#define RX_WORDS 6     /* per packet: offset, room|len, tsSec, tsNsec, offload, flags */
#define TX_WORDS 3     /* per packet: offset, length, offload */
#define MAX_BURST 256
#define VNET_LEN ((uint32_t)sizeof(struct virtio_net_hdr))

typedef struct {
  int rx_fd;
  int tx_fd;
  int ifindex;
  int vnet;
  uint8_t *ring;
  size_t ring_size;
  uint32_t frame_size;
  uint32_t frame_nr;
  uint32_t frames_per_block;
  uint32_t block_size;
  uint32_t cur;
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

/* ---- frame parsing (offloads) ----------------------------------------------------------- */

static inline uint32_t be16(const uint8_t *p) { return ((uint32_t)p[0] << 8) | p[1]; }

/*
 * Finds the TCP/UDP header of an Ethernet frame: its offset, or -1 (not IPv4/IPv6 over up to
 * two VLAN tags, a fragment, an IPv6 extension chain that cannot be walked, or not TCP/UDP).
 * *proto gets 6 or 17, *l4len the TCP/UDP header length.
 */
static int find_l4(const uint8_t *p, uint32_t len, int *proto, uint32_t *l4len) {
  uint32_t off = 12;
  if (len < 14) return -1;
  uint32_t et = be16(p + off);
  for (int t = 0; t < 2 && (et == 0x8100 || et == 0x88a8); t++) {
    off += 4;
    if (off + 2 > len) return -1;
    et = be16(p + off);
  }
  off += 2;
  int pr;
  if (et == 0x0800) {
    if (off + 20 > len) return -1;
    uint32_t ihl = (uint32_t)(p[off] & 15) * 4;
    if ((p[off] >> 4) != 4 || ihl < 20 || (be16(p + off + 6) & 0x3fff) != 0) return -1; /* fragments: no */
    pr = p[off + 9];
    off += ihl;
  } else if (et == 0x86dd) {
    if (off + 40 > len) return -1;
    pr = p[off + 6];
    off += 40;
    for (int i = 0; i < 8 && (pr == 0 || pr == 43 || pr == 60); i++) {
      if (off + 8 > len) return -1;
      pr = p[off];
      off += ((uint32_t)p[off + 1] + 1) * 8;
    }
  } else {
    return -1;
  }
  if (pr == 6) {
    if (off + 20 > len) return -1;
    *l4len = (uint32_t)(p[off + 12] >> 4) * 4;
    if (*l4len < 20 || off + *l4len > len) return -1;
  } else if (pr == 17) {
    if (off + 8 > len) return -1;
    *l4len = 8;
  } else {
    return -1;
  }
  *proto = pr;
  return (int)off;
}

/* Completes a partial checksum in software: the ones' complement sum from `start` to the end,
 * folded and inverted, written at start + field (what the kernel's skb_checksum_help does). */
static void complete_csum(uint8_t *p, uint32_t len, uint32_t start, uint32_t field) {
  if (start >= len || start + field + 2 > len) return;
  uint64_t sum = 0;
  uint32_t i = start;
  for (; i + 1 < len; i += 2) sum += ((uint32_t)p[i] << 8) | p[i + 1];
  if (i < len) sum += (uint32_t)p[i] << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  uint16_t c = (uint16_t)~sum;
  if (c == 0 && field == 6) c = 0xffff; /* UDP: 0 means "no checksum" */
  p[start + field] = (uint8_t)(c >> 8);
  p[start + field + 1] = (uint8_t)c;
}

/* ---- open / close ----------------------------------------------------------------------- */

/* afpOpen(ifname, frameSize, frameCount, withRx, vnet) -> handle (withRx false: the TX socket only) */
napi_value nfc_afp_open(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char ifname[IF_NAMESIZE + 1];
  size_t len = 0;
  uint32_t frame_size = 0, frame_nr = 0;
  bool with_rx = true, vnet = true;
  if (argc >= 4) napi_get_value_bool(env, argv[3], &with_rx);
  if (argc >= 5) napi_get_value_bool(env, argv[4], &vnet);
  if (argc < 3 || napi_get_value_string_utf8(env, argv[0], ifname, sizeof ifname, &len) != napi_ok || len == 0 ||
      len >= IF_NAMESIZE || napi_get_value_uint32(env, argv[1], &frame_size) != napi_ok ||
      napi_get_value_uint32(env, argv[2], &frame_nr) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "afpOpen(ifname, frameSize, frameCount, withRx, vnet)");
    return NULL;
  }
  if (frame_size < 2048 || frame_size > (1u << 20) || frame_size % 16 != 0 || frame_nr < 8 || frame_nr > 65536) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "frameSize must be a multiple of 16 in 2048..1048576 and frameCount 8..65536");
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
  a->vnet = vnet ? 1 : 0;
  memcpy(a->ifname, ifname, len + 1); /* len < IF_NAMESIZE, checked above */
  const char *step = "socket";
  int one = 1, v2 = TPACKET_V2;
  struct sockaddr_ll sll;
  memset(&sll, 0, sizeof sll);
  sll.sll_family = AF_PACKET;
  sll.sll_ifindex = (int)ifindex;
  if (!with_rx) goto tx;

  a->rx_fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, htons(ETH_P_ALL));
  if (a->rx_fd < 0) goto fail;
  step = "setsockopt(PACKET_VERSION)";
  if (setsockopt(a->rx_fd, SOL_PACKET, PACKET_VERSION, &v2, sizeof v2) != 0) goto fail;
  step = "setsockopt(PACKET_VNET_HDR)";
  if (a->vnet && setsockopt(a->rx_fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof one) != 0) goto fail;
  /* Blocks of a power-of-two number of pages (the kernel allocates them so: any other size
   * wastes the rest of the power of two), at least 128 KiB and at least one frame. */
  uint32_t block = 1u << 17;
  while (block < frame_size) block <<= 1;
  if (frame_size > (1u << 16)) {
    while (block < 1u << 20 && block / frame_size < 8) block <<= 1; /* large frames: <= 1 MiB blocks */
  }
  a->frame_size = frame_size;
  a->frames_per_block = block / frame_size;
  a->block_size = block;
  uint32_t blocks = (frame_nr + a->frames_per_block - 1) / a->frames_per_block;
  a->frame_nr = blocks * a->frames_per_block;
  struct tpacket_req req;
  memset(&req, 0, sizeof req);
  req.tp_block_size = block;
  req.tp_block_nr = blocks;
  req.tp_frame_size = frame_size;
  req.tp_frame_nr = a->frame_nr;
  step = "setsockopt(PACKET_RX_RING)";
  if (setsockopt(a->rx_fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof req) != 0) goto fail;
  a->ring_size = (size_t)block * blocks;
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
  step = "setsockopt(PACKET_VNET_HDR) (tx)";
  if (a->vnet && setsockopt(a->tx_fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof one) != 0) goto fail;
  /* PACKET_QDISC_BYPASS transmits with dev_direct_xmit, which drops a frame the device cannot
   * take as it is (a super-frame for a device without TSO: the kernel would segment it). With
   * offloads the frames go through dev_queue_xmit, which segments; veths have no qdisc anyway. */
  if (!a->vnet) setsockopt(a->tx_fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one);
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

/* afpFd(handle) -> the receive socket's fd (for nfcPollIn), or -1 */
napi_value nfc_afp_fd(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  afp_t *a = argc >= 1 ? get_afp(env, argv[0]) : NULL;
  if (a == NULL) return NULL;
  napi_value out;
  napi_create_int32(env, a->rx_fd, &out);
  return out;
}

/* ---- receive ------------------------------------------------------------------------------ */

static inline struct tpacket2_hdr *frame_at(afp_t *a, uint32_t i) {
  return (struct tpacket2_hdr *)(a->ring + (size_t)(i / a->frames_per_block) * a->block_size +
                                 (size_t)(i % a->frames_per_block) * a->frame_size);
}

/* Gives frame `h` back to the kernel and moves on. */
static inline void rx_release(afp_t *a, struct tpacket2_hdr *h) {
  __atomic_store_n(&h->tp_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
  a->cur = a->cur + 1 == a->frame_nr ? 0 : a->cur + 1;
}

/*
 * Reads the virtio-net header of a received frame (already copied to `dst`, `len` bytes,
 * `shift` bytes of VLAN tag inserted before csum_start) into an offload word. Completes a
 * partial checksum that is not where TX will look for it. Returns 0 for a super-frame that
 * cannot be carried (no TCP/UDP header where it says), which the caller drops.
 */
static int rx_offload(const struct virtio_net_hdr *vh, uint8_t *dst, uint32_t len, uint32_t shift, uint32_t *word,
                      uint32_t *completed) {
  *word = 0;
  uint32_t gso = vh->gso_type & ~VIRTIO_NET_HDR_GSO_ECN;
  int proto = 0;
  uint32_t l4len = 0;
  if (vh->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
    uint32_t start = (uint32_t)vh->csum_start + shift;
    int l4 = find_l4(dst, len, &proto, &l4len);
    if (l4 >= 0 && (uint32_t)l4 == start && vh->csum_offset == (proto == 6 ? 16 : 6)) {
      *word = OFFLOAD_CSUM_PARTIAL;
    } else {
      if (gso != VIRTIO_NET_HDR_GSO_NONE) return 0;
      complete_csum(dst, len, start, vh->csum_offset);
      (*completed)++;
    }
  }
  if (gso != VIRTIO_NET_HDR_GSO_NONE) {
    if (!(*word & OFFLOAD_CSUM_PARTIAL) || vh->gso_size == 0) return 0;
    if ((gso == VIRTIO_NET_HDR_GSO_TCPV4 || gso == VIRTIO_NET_HDR_GSO_TCPV6) ? proto != 6 : proto != 17) return 0;
    *word |= ((uint32_t)vh->gso_type << 8) | ((uint32_t)vh->gso_size << 16);
  }
  return 1;
}

/*
 * afpRxBurst(handle, pool, io, max) -> n
 * io[0..RX_BASE) is the header (RX_HDR words, then RX_JUMBO jumbo slots); for packet i at
 * io[RX_BASE + i*RX_WORDS] the caller fills the offset in `pool` where the frame goes and the
 * room there; this writes the length, tsSec, tsNsec, the offload word and flags (bit 0: the
 * frame went to a jumbo slot instead, whose offset replaces the given one). A frame larger
 * than the room goes to the next jumbo slot; when none is left the burst ends before it (the
 * caller offers new slots next time), unless none was offered at all: then it is dropped and
 * counted (io[2]), as is one larger than any room.
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
  if (io_len < RX_BASE) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "afpRxBurst: io is shorter than its header");
    return NULL;
  }
  if (max > (io_len - RX_BASE) / RX_WORDS) max = (uint32_t)((io_len - RX_BASE) / RX_WORDS);
  if (max > MAX_BURST) max = MAX_BURST;
  uint32_t jumbos = io[0] > RX_JUMBO ? RX_JUMBO : io[0];
  uint32_t used = 0, n = 0;
  io[1] = 0;
  while (n < max) {
    struct tpacket2_hdr *h = frame_at(a, a->cur);
    uint32_t status = __atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE);
    if ((status & TP_STATUS_USER) == 0) break;
    uint32_t *p = io + RX_BASE + n * RX_WORDS;
    const uint8_t *src = (const uint8_t *)h + h->tp_mac;
    uint32_t len = h->tp_snaplen;
    uint32_t vlan = (status & TP_STATUS_VLAN_VALID) && len >= 12 ? 4 : 0;
    uint32_t need = len + vlan;
    if (h->tp_len > h->tp_snaplen) { /* larger than a ring frame */
      io[2]++;
      rx_release(a, h);
      continue;
    }
    uint32_t off = p[0], room = p[1], flags = 0;
    if (need > room) {
      if (used == jumbos) {
        if (jumbos > 0) break; /* the caller brings new slots */
        io[2]++;
        rx_release(a, h);
        continue;
      }
      off = io[RX_HDR + 2 * used];
      room = io[RX_HDR + 2 * used + 1];
      if (need > room) {
        io[2]++;
        rx_release(a, h);
        continue;
      }
      used++;
      flags = 1;
    }
    if ((size_t)off + need > pool_len) { /* the caller's mistake: never write outside the pool */
      io[2]++;
      rx_release(a, h);
      continue;
    }
    uint8_t *dst = pool + off;
    if (vlan) {
      uint32_t tpid = (status & TP_STATUS_VLAN_TPID_VALID) && h->tp_vlan_tpid ? h->tp_vlan_tpid : 0x8100;
      memcpy(dst, src, 12);
      dst[12] = (uint8_t)(tpid >> 8);
      dst[13] = (uint8_t)tpid;
      dst[14] = (uint8_t)(h->tp_vlan_tci >> 8);
      dst[15] = (uint8_t)h->tp_vlan_tci;
      memcpy(dst + 16, src + 12, len - 12);
    } else {
      memcpy(dst, src, len);
    }
    uint32_t word = 0;
    if (a->vnet) {
      const struct virtio_net_hdr *vh = (const struct virtio_net_hdr *)(src - VNET_LEN);
      if (!rx_offload(vh, dst, need, vlan, &word, &io[4])) {
        io[3]++;
        if (flags) used--; /* the slot was not used after all */
        rx_release(a, h);
        continue;
      }
    } else if (status & TP_STATUS_CSUMNOTREADY) {
      /* Without the header the position is unknown: TX completes it by parsing. */
      word = OFFLOAD_CSUM_PARTIAL;
    }
    p[0] = off;
    p[1] = need;
    p[2] = h->tp_sec;
    p[3] = h->tp_nsec;
    p[4] = word;
    p[5] = flags;
    n++;
    rx_release(a, h);
  }
  io[1] = used;
  napi_value out;
  napi_create_uint32(env, n, &out);
  return out;
}

/* ---- transmit ----------------------------------------------------------------------------- */

/*
 * The virtio-net header for a frame with offload word `word`: the checksum position and the
 * GSO fields, found by parsing the frame. Returns 0 when a super-frame has no TCP/UDP header
 * (it is not sent); a partial checksum of a frame without one goes as it is.
 */
static int tx_header(uint8_t *p, uint32_t len, uint32_t word, struct virtio_net_hdr *vh) {
  memset(vh, 0, sizeof *vh);
  if (word == 0) return 1;
  int proto = 0;
  uint32_t l4len = 0;
  int l4 = find_l4(p, len, &proto, &l4len);
  uint32_t gso = (word >> 8) & 0xff;
  if (l4 < 0) return gso == 0;
  if (word & OFFLOAD_CSUM_PARTIAL) {
    vh->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
    vh->csum_start = (uint16_t)l4;
    vh->csum_offset = proto == 6 ? 16 : 6;
  }
  if (gso != 0) {
    vh->gso_type = (uint8_t)gso;
    vh->gso_size = (uint16_t)(word >> 16);
    vh->hdr_len = (uint16_t)((uint32_t)l4 + l4len);
  }
  return 1;
}

/*
 * afpTxBurst(handle, pool, io, n) -> sent
 * io[i*3] = byte offset of frame i in `pool`, io[i*3+1] = its length, io[i*3+2] = its offload
 * word. One sendmmsg.
 */
napi_value nfc_afp_tx_burst(napi_env env, napi_callback_info info) {
  afp_t *a;
  uint8_t *pool;
  size_t pool_len, io_len;
  uint32_t *io, n;
  if (!burst_args(env, info, "afpTxBurst(handle, pool ArrayBuffer, io Uint32Array, n)", &a, &pool, &pool_len, &io, &io_len, &n)) return NULL;
  if (n > io_len / TX_WORDS) n = (uint32_t)(io_len / TX_WORDS);
  if (n > MAX_BURST) n = MAX_BURST;
  struct mmsghdr msgs[MAX_BURST];
  struct iovec iov[2 * MAX_BURST];
  struct virtio_net_hdr vh[MAX_BURST];
  uint32_t k = 0;
  for (uint32_t i = 0; i < n; i++) {
    uint32_t off = io[i * TX_WORDS], len = io[i * TX_WORDS + 1], word = io[i * TX_WORDS + 2];
    if (len == 0 || (size_t)off + len > pool_len) continue;
    memset(&msgs[k], 0, sizeof msgs[k]);
    if (a->vnet) {
      if (!tx_header(pool + off, len, word, &vh[k])) continue;
      iov[2 * k].iov_base = &vh[k];
      iov[2 * k].iov_len = VNET_LEN;
      iov[2 * k + 1].iov_base = pool + off;
      iov[2 * k + 1].iov_len = len;
      msgs[k].msg_hdr.msg_iovlen = 2;
    } else {
      iov[2 * k].iov_base = pool + off;
      iov[2 * k].iov_len = len;
      msgs[k].msg_hdr.msg_iovlen = 1;
    }
    msgs[k].msg_hdr.msg_iov = &iov[2 * k];
    k++;
  }
  uint32_t pos = 0, sent = 0;
  while (pos < k) {
    int r = sendmmsg(a->tx_fd, msgs + pos, k - pos, MSG_DONTWAIT);
    if (r > 0) {
      pos += (uint32_t)r;
      sent += (uint32_t)r;
      continue;
    }
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && (errno == EMSGSIZE || errno == EINVAL)) {
      pos++; /* the kernel refused this one frame (too large for the link): skip it */
      continue;
    }
    break; /* EAGAIN / ENOBUFS: the rest is dropped by the caller and counted */
  }
  napi_value out;
  napi_create_uint32(env, sent, &out);
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
  struct tpacket_stats st;
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
  return o;
}

/*
 * nfcPollIn(fds Int32Array, n, timeoutMs) -> how many are readable (0 on timeout or a signal).
 * How an idle receive loop sleeps: the kernel wakes it on the first frame, no timer involved.
 */
napi_value nfc_poll_in(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  napi_typedarray_type t;
  size_t len = 0;
  void *d = NULL;
  uint32_t n = 0;
  int32_t timeout = 0;
  if (argc < 3 || napi_get_typedarray_info(env, argv[0], &t, &len, &d, NULL, NULL) != napi_ok || t != napi_int32_array ||
      napi_get_value_uint32(env, argv[1], &n) != napi_ok || napi_get_value_int32(env, argv[2], &timeout) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "pollIn(fds Int32Array, n, timeoutMs)");
    return NULL;
  }
  if (n > len) n = (uint32_t)len;
  if (n > 64) n = 64;
  struct pollfd pfd[64];
  const int32_t *fds = d;
  for (uint32_t i = 0; i < n; i++) {
    pfd[i].fd = fds[i];
    pfd[i].events = POLLIN;
    pfd[i].revents = 0;
  }
  int r = poll(pfd, n, timeout);
  if (r < 0) r = 0; /* EINTR: the caller looks again */
  napi_value out;
  napi_create_int32(env, r, &out);
  return out;
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
