# Third-party dependencies, all from Debian packages installed by scripts/setup.
set(THREADS_PREFER_PTHREAD_FLAG ON)
find_package(Threads REQUIRED)
find_package(Boost 1.81 EXACT REQUIRED COMPONENTS json)
if(PODSERVE_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()
