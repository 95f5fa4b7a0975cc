if(PODSERVE_SANITIZE)
  # C++ only: nvcc does not take these flags (the asan preset builds without CUDA; see CMakePresets.json).
  add_compile_options($<$<COMPILE_LANGUAGE:CXX>:-fsanitize=address,undefined> $<$<COMPILE_LANGUAGE:CXX>:-fno-omit-frame-pointer>
                      $<$<COMPILE_LANGUAGE:CXX>:-fno-sanitize-recover=all>)
  add_link_options(-fsanitize=address,undefined)
endif()

# ThreadSanitizer (the `tsan` preset, `make tsan`): the concurrent code's tests run under it. TSan reports a race
# as a test failure (halt_on_error, set in the tests' environment); see tests/CMakeLists.txt for which tests.
option(PODSERVE_SANITIZE_THREAD "Build with ThreadSanitizer" OFF)
if(PODSERVE_SANITIZE_THREAD)
  if(PODSERVE_SANITIZE)
    message(FATAL_ERROR "PODSERVE_SANITIZE (ASan) and PODSERVE_SANITIZE_THREAD cannot be combined")
  endif()
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer)
  add_link_options(-fsanitize=thread)
endif()
