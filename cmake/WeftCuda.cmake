# WEFT_CUDA=AUTO|ON|OFF: AUTO builds the CUDA backend when a CUDA compiler is found (it needs no
# GPU to compile); ON makes its absence an error; OFF never looks.
set(WEFT_HAVE_CUDA OFF)
if(NOT WEFT_CUDA STREQUAL "OFF")
  if(NOT CMAKE_CUDA_COMPILER AND EXISTS /usr/local/cuda/bin/nvcc)
    set(CMAKE_CUDA_COMPILER /usr/local/cuda/bin/nvcc)
  endif()
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    set(WEFT_HAVE_CUDA ON)
  elseif(WEFT_CUDA STREQUAL "ON")
    message(FATAL_ERROR "WEFT_CUDA=ON but no CUDA compiler was found")
  endif()
endif()
message(STATUS "weft: CUDA backend ${WEFT_HAVE_CUDA}")

if(WEFT_HAVE_CUDA)
  # sm_90 machine code for the H100/H200, and PTX the driver compiles for any other GPU. Set
  # before enable_language, which would otherwise pick the compiler's default.
  if(NOT CMAKE_CUDA_ARCHITECTURES)
    set(CMAKE_CUDA_ARCHITECTURES 90-real 90-virtual)
  endif()
  enable_language(CUDA)
  # weft's headers are C++20 (std::span) and weft::sdk asks for it; CMake 3.25 does not know
  # nvcc's flag for that dialect (nvcc 12 and later have it), so it is told.
  set(CMAKE_CUDA20_STANDARD_COMPILE_OPTION "-std=c++20")
  set(CMAKE_CUDA20_EXTENSION_COMPILE_OPTION "-std=c++20")
  find_package(CUDAToolkit REQUIRED)
  # cuDNN ships beside the toolkit here (and in PyTorch's wheels on the GPU machines).
  find_path(WEFT_CUDNN_INCLUDE_DIR cudnn.h HINTS ${CUDAToolkit_INCLUDE_DIRS})
  find_library(WEFT_CUDNN_LIBRARY cudnn HINTS ${CUDAToolkit_LIBRARY_DIR})
  if(NOT WEFT_CUDNN_INCLUDE_DIR OR NOT WEFT_CUDNN_LIBRARY)
    if(WEFT_CUDA STREQUAL "ON")
      message(FATAL_ERROR "WEFT_CUDA=ON but cuDNN (cudnn.h, libcudnn) was not found beside CUDA")
    endif()
    message(STATUS "weft: cuDNN not found, the CUDA backend is not built")
    set(WEFT_HAVE_CUDA OFF)
  else()
    message(STATUS "weft: CUDA ${CUDAToolkit_VERSION}, cuDNN ${WEFT_CUDNN_LIBRARY}, architectures ${CMAKE_CUDA_ARCHITECTURES}")
  endif()
endif()

# weft_add_cuda_plugin(<name> SOURCES <src>... [LIBS <lib>...]): a CUDA kernel library
# (libweft_<name>.so, named *_cuda by convention so that hosts that do not ask for the cuda
# device never load it). Linked to the CUDA backend (weft::cuda: the device, its stream and
# handles); does nothing when the CUDA backend is not built.
function(weft_add_cuda_plugin name)
  if(NOT WEFT_HAVE_CUDA)
    return()
  endif()
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBS" ${ARGN})
  weft_add_plugin(${name} SOURCES ${ARG_SOURCES} LIBS backend_cuda ${ARG_LIBS})
  set_target_properties(${name} PROPERTIES CUDA_VISIBILITY_PRESET hidden)
  # The toolkit's libraries (cudart, cuDNN, cuBLAS) where they were found at build time, after the
  # relative entries; a GPU machine may provide them through LD_LIBRARY_PATH instead.
  get_target_property(rpath ${name} BUILD_RPATH)
  set_target_properties(${name} PROPERTIES BUILD_RPATH "${rpath};${CUDAToolkit_LIBRARY_DIR}")
endfunction()
