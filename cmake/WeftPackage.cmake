# The weft CMake package, installed with `cmake --install`: a plugin's own project says
#   find_package(weft REQUIRED)                   # weft::sdk, weft::testing, weft_add_plugin
#   find_package(weft REQUIRED COMPONENTS cpu)    # and weft::cpu, with oneDNN
# (docs/plugins.md, "The CMake package"). Each component is an export set of its own, so that a
# plain C++ plugin needs none of a backend's dependencies: weft-targets (weft::sdk, weft::testing),
# weft-cpu-targets (weft::cpu, needs oneDNN's package) and weft-cuda-targets (weft::cuda, needs
# CUDAToolkit; installed by backends/cuda when the CUDA backend is built).
include(CMakePackageConfigHelpers)

set(WEFT_PACKAGE_SUBDIR "lib/cmake/weft")

install(EXPORT weft-targets NAMESPACE weft:: FILE weft-targets.cmake DESTINATION ${WEFT_PACKAGE_SUBDIR})
install(EXPORT weft-cpu-targets NAMESPACE weft:: FILE weft-cpu-targets.cmake DESTINATION ${WEFT_PACKAGE_SUBDIR})
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/weftConfig.cmake.in
  ${CMAKE_BINARY_DIR}/package/weftConfig.cmake
  INSTALL_DESTINATION ${WEFT_PACKAGE_SUBDIR}
  PATH_VARS WEFT_PLUGIN_SUBDIR WEFT_GRAPH_SUBDIR)
# 0.x: a plugin's sources build against any weft of the same minor version. Whether a built
# plugin loads is the plugin ABI's business, checked by the host at load time.
write_basic_package_version_file(${CMAKE_BINARY_DIR}/package/weftConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES
  ${CMAKE_BINARY_DIR}/package/weftConfig.cmake
  ${CMAKE_BINARY_DIR}/package/weftConfigVersion.cmake
  ${CMAKE_CURRENT_LIST_DIR}/WeftPlugin.cmake
  DESTINATION ${WEFT_PACKAGE_SUBDIR})
