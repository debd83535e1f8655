{
  "targets": [
    {
      "target_name": "loopix_sphinx",
      "sources": [
        "native/binding.cc",
        "native/link.cc",
        "native/lioness.cc",
        "native/scalar.cc",
        "native/sphinx.cc",
        "native/symmetric.cc",
        "native/x25519.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED", "NAPI_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-std=c++17", "-O2", "-fstack-protector-strong", "-D_FORTIFY_SOURCE=2", "-fPIC", "-Wall", "-Wextra", "-Wformat", "-Wformat-security"],
      "ldflags": ["-Wl,-z,relro", "-Wl,-z,now", "-Wl,-z,noexecstack"]
    }
  ]
}
