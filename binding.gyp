{
  "targets": [
    {
      "target_name": "devmapper",
      "sources": [
        "native/addon.cc",
        "native/errno_error.cc",
        "native/dm_codec.cc",
        "native/dm_binding.cc",
        "native/dm_status.cc",
        "native/dm_wait.cc",
        "native/lock.cc",
        "native/loop.cc",
        "native/sys.cc",
        "native/threads.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "dependencies": ["<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags": ["-fvisibility=hidden", "-Wall", "-Wextra"],
      "cflags_cc": ["-fvisibility=hidden", "-std=c++17", "-Wall", "-Wextra"]
    }
  ]
}
