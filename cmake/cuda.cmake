# The CUDA backend (src/kernels/cuda): PODSERVE_CUDA=auto builds it when a CUDA compiler is found, on requires one,
# off never builds it. Everything else builds and tests the same without the toolkit.
set(PODSERVE_CUDA "auto" CACHE STRING "Build the CUDA backend: auto (when nvcc is found), on, off")
set_property(CACHE PODSERVE_CUDA PROPERTY STRINGS auto on off)
set(PODSERVE_HAS_CUDA OFF)
if(NOT PODSERVE_CUDA MATCHES "^(auto|on|off)$")
  message(FATAL_ERROR "PODSERVE_CUDA must be auto, on or off (got '${PODSERVE_CUDA}')")
endif()
if(NOT PODSERVE_CUDA STREQUAL "off")
  # The toolkit's default place, for shells (and images) whose PATH lacks it.
  if(NOT CMAKE_CUDA_COMPILER AND NOT DEFINED ENV{CUDACXX} AND EXISTS "/usr/local/cuda/bin/nvcc")
    set(CMAKE_CUDA_COMPILER "/usr/local/cuda/bin/nvcc")
  endif()
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    # A fat binary: Ampere (A100), Ada (L4/L40S), Hopper with its arch-specific instructions (sm_90a), and
    # compute_80 PTX that newer GPUs compile at load. By default two device compilations, not four: the compute_80
    # PTX also feeds ptxas for sm_89 (the kernels have no sm_89- or sm_90-only code, so compute_89/compute_90 PTX
    # would cost compile time and add nothing), compute_90a feeds sm_90a. -DCMAKE_CUDA_ARCHITECTURES=... overrides
    # (CMake's usual list, e.g. 90a-real for one card).
    set(PODSERVE_CUDA_GENCODE "")
    if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
      set(CMAKE_CUDA_ARCHITECTURES OFF)
      set(PODSERVE_CUDA_GENCODE "--generate-code=arch=compute_80,code=[compute_80,sm_80,sm_89]"
                                "--generate-code=arch=compute_90a,code=[sm_90a]")
    endif()
    set(CMAKE_CUDA_HOST_COMPILER "${CMAKE_CXX_COMPILER}" CACHE FILEPATH "Host compiler of nvcc")
    enable_language(CUDA)
    set(CMAKE_CUDA_STANDARD 17)  # CMake 3.25 knows no CUDA20 dialect for nvcc; the .cu files need C++17 only
    set(CMAKE_CUDA_STANDARD_REQUIRED ON)
    set(CMAKE_CUDA_EXTENSIONS OFF)
    find_package(CUDAToolkit REQUIRED)
    set(PODSERVE_HAS_CUDA ON)
    if(PODSERVE_CUDA_GENCODE)
      message(STATUS "CUDA backend: nvcc ${CMAKE_CUDA_COMPILER_VERSION}, sm_80 + sm_89 + sm_90a + compute_80 PTX")
    else()
      message(STATUS "CUDA backend: nvcc ${CMAKE_CUDA_COMPILER_VERSION}, architectures ${CMAKE_CUDA_ARCHITECTURES}")
    endif()
  elseif(PODSERVE_CUDA STREQUAL "on")
    message(FATAL_ERROR "PODSERVE_CUDA=on but no CUDA compiler was found: install the CUDA toolkit (nvcc), point "
                        "CMAKE_CUDA_COMPILER or CUDACXX at nvcc, or configure with -DPODSERVE_CUDA=auto|off")
  else()
    message(STATUS "CUDA backend: off (no CUDA compiler found; PODSERVE_CUDA=auto)")
  endif()
endif()
