{
  "targets": [
    {
      "target_name": "nfchain_native",
      "sources": ["src/nfchain_native.c", "src/af_packet.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-std=gnu11"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
