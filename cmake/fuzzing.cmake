# libFuzzer (clang only). PODSERVE_FUZZ instruments every podserve library for coverage
# (-fsanitize=fuzzer-no-link) and builds the fuzz targets of fuzz/, which alone link libFuzzer's main
# (-fsanitize=fuzzer). Used with PODSERVE_SANITIZE (ASan + UBSan) by the fuzz preset.
if(PODSERVE_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "PODSERVE_FUZZ needs clang (libFuzzer): configure with `cmake --preset fuzz`")
  endif()
  add_compile_options($<$<COMPILE_LANGUAGE:CXX>:-fsanitize=fuzzer-no-link>)
  # clang 14's -fsanitize=function (part of UBSan) cannot emit its prologue for some functions of
  # serve/openai/generate.cpp ("Cannot represent a difference across sections"); the rest of UBSan stays on.
  add_compile_options($<$<COMPILE_LANGUAGE:CXX>:-fno-sanitize=function>)
endif()
