# weft_add_test(<name> SOURCES <src>... [LIBS <lib>...] [LABELS <label>...]): a GoogleTest binary registered with ctest.
function(weft_add_test name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE weft_test_support weft_core GTest::gtest_main ${ARG_LIBS})
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  set(properties TIMEOUT 600)
  if(ARG_LABELS)
    list(APPEND properties LABELS "${ARG_LABELS}")
  endif()
  gtest_discover_tests(${name} TEST_PREFIX "${name}." DISCOVERY_TIMEOUT 60 PROPERTIES ${properties})
  set_property(GLOBAL APPEND PROPERTY WEFT_TEST_TARGETS ${name})
endfunction()

# weft_add_cuda_test(<name> SOURCES <src>... [LIBS <lib>...]): a test of CUDA kernel libraries,
# built only where they are (WEFT_HAVE_CUDA); tests that need a GPU skip themselves without one
# (WEFT_SKIP_WITHOUT_CUDA), the others run everywhere it is built. It sees the CUDA backend's
# headers that need no CUDA compiler (weft/cuda/launch_geometry.h), for host-side checks.
function(weft_add_cuda_test name)
  if(WEFT_HAVE_CUDA)
    weft_add_test(${name} ${ARGN})
    target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/backends/cuda/include)
  endif()
endfunction()
