# Helpers that give every plugin library the same shape: named libweft_<name>.so, placed in the
# plugin directory of the build tree (and of an install), finding weft_core and its backend
# library through a relative RPATH so a copied or installed tree works unchanged.

# weft_add_plugin(<name> SOURCES <src>... [LIBS <lib>...])
#   An operator (schema) library, a kernel library (<op>_cpu, <op>_cuda) or a backend.
function(weft_add_plugin name)
  cmake_parse_arguments(ARG "SHARED" "" "SOURCES;LIBS" ${ARGN})
  if(ARG_SHARED)
    add_library(${name} SHARED ${ARG_SOURCES})
  else()
    add_library(${name} MODULE ${ARG_SOURCES})
  endif()
  target_link_libraries(${name} PRIVATE weft_core ${ARG_LIBS})
  set_target_properties(${name} PROPERTIES
    OUTPUT_NAME weft_${name}
    PREFIX lib
    LIBRARY_OUTPUT_DIRECTORY ${WEFT_PLUGIN_OUTPUT_DIR}
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON
    BUILD_RPATH "$ORIGIN;$ORIGIN/../.."
    INSTALL_RPATH "$ORIGIN;$ORIGIN/../..")
  target_compile_options(${name} PRIVATE -Wall -Wextra)
  install(TARGETS ${name} LIBRARY DESTINATION ${WEFT_PLUGIN_SUBDIR})
  set_property(GLOBAL APPEND PROPERTY WEFT_PLUGIN_TARGETS ${name})
endfunction()
