# Builds the native backend (npm's bundled node-gyp runs this through scripts/build-native.mjs).
# Every native/src/*.cc file is compiled, the kernels of every instruction set included: each ISA file
# enables its instructions with a per-file target pragma, not with global -m flags, so one binary
# runs on any CPU of its architecture and dispatch.cc picks the kernels at run time.
{
  "targets": [
    {
      "target_name": "xverse_native",
      "sources": [
        "<!@(node -p \"require('fs').readdirSync('src').filter(f => f.endsWith('.cc')).sort().map(f => 'src/' + f).join(' ')\")"
      ],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS"],
      "cflags!": ["-O2"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17", "-std=gnu++1y", "-std=gnu++20"],
      "cflags": ["-O3", "-Wall", "-Wextra", "-ffp-contract=off"],
      "cflags_cc": ["-std=c++17", "-fexceptions"],
      "conditions": [
        ["OS=='mac'", {
          "xcode_settings": {
            "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
            "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
            "GCC_OPTIMIZATION_LEVEL": "3",
            "WARNING_CFLAGS": ["-Wall", "-Wextra"],
            "MACOSX_DEPLOYMENT_TARGET": "11.0"
          }
        }],
        ["OS=='win'", {
          "msvs_settings": {
            "VCCLCompilerTool": { "ExceptionHandling": 1, "Optimization": 2, "AdditionalOptions": ["/std:c++17"] }
          }
        }],
        ["OS!='win'", { "libraries": ["-pthread"] }]
      ]
    }
  ]
}
