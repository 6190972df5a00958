# Third-party dependencies, all from Debian packages (see `./course setup`).
find_package(Torch REQUIRED)            # libtorch-dev (CPU) or a CUDA LibTorch via CMAKE_PREFIX_PATH
find_package(Eigen3 3.3 REQUIRED NO_MODULE)
find_package(OpenCV REQUIRED COMPONENTS core imgproc imgcodecs videoio)
find_package(CLI11 CONFIG QUIET)
if(NOT CLI11_FOUND)                     # Debian's libcli11-dev 2.1 ships only the header
  find_path(CLI11_INCLUDE_DIR CLI/CLI.hpp REQUIRED)
  add_library(CLI11::CLI11 INTERFACE IMPORTED)
  target_include_directories(CLI11::CLI11 INTERFACE ${CLI11_INCLUDE_DIR})
endif()
find_package(nlohmann_json 3 REQUIRED)
find_package(fmt REQUIRED)
find_package(ZLIB REQUIRED)
find_package(GTest REQUIRED)
find_package(Threads REQUIRED)

# Torch's config adds its flags to CMAKE_CXX_FLAGS; keep them but make sure its
# headers are treated as system headers so our warnings stay about our code.
add_library(dm_torch INTERFACE)
target_link_libraries(dm_torch INTERFACE ${TORCH_LIBRARIES})
target_include_directories(dm_torch SYSTEM INTERFACE ${TORCH_INCLUDE_DIRS})

# CUDA: compile .cu sources when a toolkit is present (nvcc 13 supports sm_75+).
set(DM_HAVE_CUDA OFF)
if(DM_CUDA)
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
      # SASS for Turing..Hopper, plus PTX of the newest so later GPUs JIT it.
      set(CMAKE_CUDA_ARCHITECTURES "75-real;80-real;86-real;89-real;90")
    endif()
    enable_language(CUDA)
    find_package(CUDAToolkit REQUIRED)
    set(DM_HAVE_CUDA ON)
  endif()
endif()
message(STATUS "Diffusion in C++: CUDA sources ${DM_HAVE_CUDA}; LibTorch ${Torch_VERSION}")

# Warnings for course code.
add_library(dm_warnings INTERFACE)
target_compile_options(dm_warnings INTERFACE
  $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wpedantic -Wshadow -Wno-unused-parameter>
  $<$<AND:$<COMPILE_LANGUAGE:CXX>,$<BOOL:${DM_WERROR}>>:-Werror>)

# One precompiled LibTorch header for every course target (issue 8): <torch/types.h>, which most
# files include, compiled once in dm_pch and reused by the other targets (course_use_pch), so dm_pch
# carries dm_common's usage requirements. q_sample.cpp took 6 s with it and ~30 s without (user time,
# -ftime-report, with a build running beside it on the 2 cores).
# <torch/torch.h> would be the wrong header to force on every file: with it precompiled,
# the same file took 24 s, the time going into the end-of-file instantiation of torch.h's templates.
# GCC ignores a precompiled header whose flags do not match (-Winvalid-pch says so), so a mismatch
# costs time, never correctness: dm_warnings' -Wpedantic changes the predefined macros, so dm_pch
# links it too. -DDM_PCH=OFF turns it off (to measure, or for another compiler).
option(DM_PCH "Precompile <torch/types.h> once and reuse it in every course target" ON)
if(DM_PCH)
  set(dm_pch_src ${CMAKE_BINARY_DIR}/generated/pch.cpp)
  file(WRITE ${dm_pch_src}.in "// The translation unit that builds the course's precompiled header (dm_pch).\n")
  configure_file(${dm_pch_src}.in ${dm_pch_src} COPYONLY)
  add_library(dm_pch OBJECT ${dm_pch_src})
  target_link_libraries(dm_pch PUBLIC dm_torch Eigen3::Eigen ${OpenCV_LIBS} CLI11::CLI11
                        nlohmann_json::nlohmann_json fmt::fmt Threads::Threads PRIVATE dm_warnings)
  target_precompile_headers(dm_pch PRIVATE <torch/types.h>)
endif()
function(course_use_pch target)
  if(DM_PCH)
    target_precompile_headers(${target} REUSE_FROM dm_pch)
  endif()
endfunction()
