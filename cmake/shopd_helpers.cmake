# shopd_library(NAME name [HDRS ...] SRCS ... [DEPS ...])
#   One folder, one static library `shopd_<name>`; DEPS are linked publicly so the
#   module graph reads straight from the CMake files.
function(shopd_library)
  cmake_parse_arguments(L "" "NAME" "HDRS;SRCS;DEPS" ${ARGN})
  add_library(shopd_${L_NAME} STATIC ${L_SRCS} ${L_HDRS})
  target_include_directories(shopd_${L_NAME} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(shopd_${L_NAME} PUBLIC ${L_DEPS})
  if(SHOPD_PCH_TARGET AND NOT "${L_NAME}" STREQUAL "pch")
    target_precompile_headers(shopd_${L_NAME} REUSE_FROM ${SHOPD_PCH_TARGET})
  endif()
endfunction()

# shopd_test(NAME name SRCS ... DEPS ... [LABELS ...])
#   A GoogleTest binary registered with CTest, one test per gtest case.
function(shopd_test)
  cmake_parse_arguments(T "" "NAME" "SRCS;DEPS;LABELS" ${ARGN})
  add_executable(${T_NAME} ${T_SRCS})
  target_link_libraries(${T_NAME} PRIVATE ${T_DEPS} GTest::gtest GTest::gtest_main)
  gtest_discover_tests(${T_NAME} DISCOVERY_MODE PRE_TEST PROPERTIES LABELS "unit;${T_LABELS}")
endfunction()
