# The sanitizer and fuzzing build (clang only), in its own build directory so
# the normal build is unchanged:
#   cmake -S . -B build-asan -G Ninja -DCMAKE_CXX_COMPILER=clang++-14 -DSHOPD_FUZZ=ON
#
# SHOPD_SANITIZE: every target (libraries, unit tests, shopd) with ASan + UBSan;
#   any UBSan report aborts like an ASan one, so a test or fuzzer cannot pass
#   over it.
# SHOPD_FUZZ (implies SHOPD_SANITIZE): also the libFuzzer targets in fuzz/, with
#   coverage instrumentation on every library they link.
option(SHOPD_SANITIZE "Build everything with AddressSanitizer + UndefinedBehaviorSanitizer (clang)" OFF)
option(SHOPD_FUZZ "Build the libFuzzer targets in fuzz/ (clang; implies SHOPD_SANITIZE)" OFF)

if(SHOPD_FUZZ)
  set(SHOPD_SANITIZE ON)
endif()

if(SHOPD_SANITIZE)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "SHOPD_SANITIZE/SHOPD_FUZZ need clang: -DCMAKE_CXX_COMPILER=clang++-14")
  endif()
  # -fno-sanitize=function: clang 14 cannot emit the function-type check for
  # Asio's coroutine frames ("Cannot represent a difference across sections").
  set(SHOPD_SANITIZER_FLAGS
      -fsanitize=address,undefined -fno-sanitize=function -fno-sanitize-recover=undefined
      -fno-omit-frame-pointer)
  add_compile_options(${SHOPD_SANITIZER_FLAGS})
  add_link_options(-fsanitize=address,undefined)
  if(SHOPD_FUZZ)
    # Coverage and comparison tracing for libFuzzer in all code; the fuzzer
    # runtime itself is linked into the fuzz targets only (shopd_fuzzer).
    add_compile_options(-fsanitize=fuzzer-no-link)
  endif()
endif()

# shopd_fuzzer(NAME name SRCS ... DEPS ...)
#   A libFuzzer binary `fuzz_<name>`, with its seed corpus in fuzz/corpus/<name>/
#   and, when present, its dictionary fuzz/<name>.dict (see fuzz/README.md).
function(shopd_fuzzer)
  cmake_parse_arguments(F "" "NAME" "SRCS;DEPS" ${ARGN})
  add_executable(fuzz_${F_NAME} ${F_SRCS})
  target_link_libraries(fuzz_${F_NAME} PRIVATE ${F_DEPS})
  target_include_directories(fuzz_${F_NAME} PRIVATE ${PROJECT_SOURCE_DIR}/src ${PROJECT_SOURCE_DIR})
  target_link_options(fuzz_${F_NAME} PRIVATE -fsanitize=fuzzer)
  set_target_properties(fuzz_${F_NAME} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/fuzz)
  set_property(GLOBAL APPEND PROPERTY SHOPD_FUZZERS ${F_NAME})
  add_dependencies(fuzzers fuzz_${F_NAME})
endfunction()
