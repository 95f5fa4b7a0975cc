# Common warnings for every podserve target (applied through podserve_add_library / executables). C++ sources
# only: a CUDA target passes its host compiler's warnings through nvcc itself (src/kernels/cuda).
function(podserve_set_warnings target)
  set(cxx "$<COMPILE_LANGUAGE:CXX>")
  target_compile_options(${target} PRIVATE $<${cxx}:-Wall> $<${cxx}:-Wextra> $<${cxx}:-Wno-unused-parameter>)
  # GCC 12 reports false -Wrestrict positives on `"literal" + std::string` at -O2 (GCC bug 105651).
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
    # ... and -Wmismatched-new-delete on Boost.Asio's aligned coroutine frames (its operator new/delete pair).
    target_compile_options(${target} PRIVATE $<${cxx}:-Wno-restrict> $<${cxx}:-Wno-mismatched-new-delete>)
  endif()
  if(PODSERVE_FATAL_WARNINGS)
    target_compile_options(${target} PRIVATE $<${cxx}:-Werror>)
  endif()
endfunction()

# The sanitizer presets build the libraries as unity builds (a fresh clone in CI compiles every file once, so fewer,
# larger translation units win); release stays one file per unit, which keeps incremental rebuilds and ccache fine.
option(PODSERVE_UNITY_BUILD "Build the podserve_* libraries as CMake unity builds (batches of 8 files)" OFF)

# podserve_add_library(name DEPS dep... [EXCLUDE_DIRS dir...]): a static library from every .cpp in the current
# folder (and its subfolders but the excluded ones, which build their own targets), with src/ on the include path
# so headers are included as "layer/file.h".
function(podserve_add_library name)
  cmake_parse_arguments(ARG "" "" "DEPS;EXTRA_SOURCES;EXCLUDE_DIRS" ${ARGN})
  file(GLOB_RECURSE sources CONFIGURE_DEPENDS "${CMAKE_CURRENT_SOURCE_DIR}/*.cpp")
  foreach(dir ${ARG_EXCLUDE_DIRS})
    list(FILTER sources EXCLUDE REGEX "^${CMAKE_CURRENT_SOURCE_DIR}/${dir}/")
  endforeach()
  if(NOT sources)  # a layer whose code is headers only (so far)
    add_library(${name} INTERFACE)
    target_include_directories(${name} INTERFACE "${PROJECT_SOURCE_DIR}/src")
    target_link_libraries(${name} INTERFACE ${ARG_DEPS})
    return()
  endif()
  add_library(${name} STATIC ${sources} ${ARG_EXTRA_SOURCES})
  target_include_directories(${name} PUBLIC "${PROJECT_SOURCE_DIR}/src")
  if(PODSERVE_UNITY_BUILD)
    # Batches of 8 .cpp files per translation unit: the Boost/STL headers are parsed and their inline code compiled
    # once per batch instead of once per file. CMake leaves out files with their own COMPILE_OPTIONS (the kernels'
    # instruction-set files, TSan's dummy_weights.cpp), so they still build alone.
    set_target_properties(${name} PROPERTIES UNITY_BUILD ON UNITY_BUILD_BATCH_SIZE 8)
    # GCC warns when a type with linkage (KvCacheManager::Impl, a coroutine's frame) holds an anonymous-namespace
    # type declared outside the main file, which every file of a batch but the generated one now is; each such type
    # is still used by one translation unit only, so the warning says nothing here.
    if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
      target_compile_options(${name} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:-Wno-subobject-linkage>)
    endif()
  endif()
  target_link_libraries(${name} PUBLIC ${ARG_DEPS})
  podserve_set_warnings(${name})
endfunction()
