{
  "variables": {
    "stele_fabric%": "<!(sh -c 'if [ \"$STELE_NO_FABRIC\" = 1 ]; then echo 0; elif [ -f /usr/include/rdma/fabric.h ] || pkg-config --exists libfabric 2>/dev/null; then echo 1; else echo 0; fi')"
  },
  "targets": [
    {
      "target_name": "stele_native",
      "sources": [
        "native/src/addon.cc",
        "native/src/crc32c.cc",
        "native/src/hash.cc",
        "native/src/mapped_log.cc",
        "native/src/transport.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED", "NAPI_CPP_EXCEPTIONS", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-Wall", "-Wextra", "-Werror", "-Wno-unused-parameter"],
      "cflags": ["-Wall", "-Wextra", "-Werror"],
      "libraries": ["-lpthread"],
      "ldflags": ["-Wl,-z,nodelete"],
      "conditions": [
        ["stele_fabric==1", {
          "defines": ["STELE_FABRIC"],
          "libraries": ["-lfabric"]
        }]
      ]
    }
  ]
}
