{
  "variables": {
    "nfc_xdp%": "<!(node -p \"require('fs').existsSync('/usr/include/xdp/xsk.h') ? 1 : 0\")"
  },
  "targets": [
    {
      "target_name": "nfchain_native",
      "sources": ["src/nfchain_native.c", "src/af_packet.c", "src/af_xdp.c", "src/process.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-std=gnu11"],
      "defines": ["NAPI_VERSION=8"],
      "conditions": [
        ["nfc_xdp==1", {
          "defines": ["NFC_HAVE_XDP"],
          "libraries": ["-lxdp", "-lbpf"]
        }]
      ]
    }
  ]
}
