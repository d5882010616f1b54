# weft_add_plugin: every plugin library gets the same shape, whether it is one of weft's own
# (plugins/<op>/) or a third party's built against an installed weft (find_package(weft), which
# includes this very file). docs/plugins.md describes it for plugin authors.
#
# weft_add_plugin(<name> SOURCES <src>... [LIBS <lib>...] [ABI <n>])
#   Builds libweft_<name>.so, a MODULE library:
#   - linked to weft::sdk (the public plugin headers and libweft_core) and LIBS (weft::cpu, from
#     find_package(weft COMPONENTS cpu), for a CPU kernel that uses the backend's oneDNN engine and
#     stream);
#   - hidden visibility: the only exported symbol is weft_plugin_entry (the WEFT_PLUGIN macro);
#   - RPATH $ORIGIN:$ORIGIN/../.. so that, installed in <prefix>/lib/weft/plugins, it finds the
#     backend libraries beside it and libweft_core in <prefix>/lib, wherever the prefix moves;
#   - built into WEFT_PLUGIN_OUTPUT_DIR (default: the top of the build tree, so that
#     WEFT_PLUGIN_PATH=<build dir> finds every plugin of a project);
#   - installed into <prefix>/lib/weft/plugins, the directory `weft` searches by default.
#   ABI <n>: the plugin ABI the sources were written for; configuring and compiling both fail,
#   naming the two versions, unless the weft headers speak exactly that ABI.
#   SHARED and EXPORT <export-set> serve weft's own backend libraries, which kernels link.
include_guard(GLOBAL)

# Where an install puts plugins and graph files, relative to its prefix; `weft` looks there,
# relative to itself (<prefix>/bin/weft).
if(NOT DEFINED WEFT_PLUGIN_SUBDIR)
  set(WEFT_PLUGIN_SUBDIR "lib/weft/plugins")
endif()
if(NOT DEFINED WEFT_GRAPH_SUBDIR)
  set(WEFT_GRAPH_SUBDIR "share/weft/graphs")
endif()

# weft_read_plugin_abi(<plugin.h> <var>): the WEFT_PLUGIN_ABI_VERSION a header declares.
function(weft_read_plugin_abi header var)
  file(STRINGS "${header}" line REGEX "^#define WEFT_PLUGIN_ABI_VERSION [0-9]+$")
  if(NOT line)
    message(FATAL_ERROR "weft: no '#define WEFT_PLUGIN_ABI_VERSION <n>' in ${header}")
  endif()
  string(REGEX REPLACE "^#define WEFT_PLUGIN_ABI_VERSION " "" version "${line}")
  set(${var} ${version} PARENT_SCOPE)
endfunction()

if(NOT DEFINED WEFT_PLUGIN_ABI_VERSION)
  # In weft's own tree (an installed package sets it before including this file).
  weft_read_plugin_abi("${CMAKE_CURRENT_LIST_DIR}/../core/include/weft/plugin.h" WEFT_PLUGIN_ABI_VERSION)
endif()

function(weft_add_plugin name)
  cmake_parse_arguments(ARG "SHARED" "ABI;EXPORT" "SOURCES;LIBS" ${ARGN})
  if(NOT ARG_SOURCES)
    message(FATAL_ERROR "weft_add_plugin(${name}): no SOURCES given")
  endif()
  if(ARG_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "weft_add_plugin(${name}): unexpected arguments: ${ARG_UNPARSED_ARGUMENTS} "
                        "(expected SOURCES, LIBS, ABI)")
  endif()
  if(DEFINED ARG_ABI AND NOT ARG_ABI EQUAL WEFT_PLUGIN_ABI_VERSION)
    message(FATAL_ERROR "weft_add_plugin(${name}): written for plugin ABI ${ARG_ABI}, but the weft "
                        "headers found speak plugin ABI ${WEFT_PLUGIN_ABI_VERSION}")
  endif()
  if(ARG_SHARED)
    add_library(${name} SHARED ${ARG_SOURCES})
  else()
    add_library(${name} MODULE ${ARG_SOURCES})
  endif()
  target_link_libraries(${name} PRIVATE weft::sdk ${ARG_LIBS})
  if(DEFINED ARG_ABI)
    target_compile_definitions(${name} PRIVATE WEFT_PLUGIN_ABI_REQUIRED=${ARG_ABI})
  endif()
  if(DEFINED WEFT_PLUGIN_OUTPUT_DIR)
    set(output_dir ${WEFT_PLUGIN_OUTPUT_DIR})
  else()
    set(output_dir ${CMAKE_BINARY_DIR})
  endif()
  # WEFT_PLUGIN_FALLBACK_RPATH (set by an installed package): the absolute directories of the
  # weft it was built against, after the relative ones, for hosts other than `weft`.
  set(rpath "$ORIGIN" "$ORIGIN/../.." ${WEFT_PLUGIN_FALLBACK_RPATH})
  set_target_properties(${name} PROPERTIES
    OUTPUT_NAME weft_${name}
    PREFIX lib
    LIBRARY_OUTPUT_DIRECTORY ${output_dir}
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON
    BUILD_RPATH "${rpath}"
    INSTALL_RPATH "${rpath}")
  target_compile_options(${name} PRIVATE -Wall -Wextra)
  if(ARG_EXPORT)
    install(TARGETS ${name} EXPORT ${ARG_EXPORT} LIBRARY DESTINATION ${WEFT_PLUGIN_SUBDIR})
  else()
    install(TARGETS ${name} LIBRARY DESTINATION ${WEFT_PLUGIN_SUBDIR})
  endif()
  set_property(GLOBAL APPEND PROPERTY WEFT_PLUGIN_TARGETS ${name})
endfunction()
