# The weft CMake package, installed with `cmake --install`: a plugin's own project says
#   find_package(weft REQUIRED)
# and gets weft::sdk (the public plugin headers and libweft_core), weft::cpu (the CPU backend
# library, for kernels that use its oneDNN engine and stream) and weft_add_plugin
# (cmake/WeftPlugin.cmake, the same helper weft's own plugins use). docs/plugins.md.
include(CMakePackageConfigHelpers)

set(WEFT_PACKAGE_SUBDIR "lib/cmake/weft")

install(EXPORT weft-targets NAMESPACE weft:: FILE weft-targets.cmake DESTINATION ${WEFT_PACKAGE_SUBDIR})
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
