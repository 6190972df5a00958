# Tracks, chapters and their programs.
#
# A chapter NN_name has
#   solutions/NN_name/*.{hpp,cpp}   reference code           (track "solutions")
#   exercises/NN_name/*.{hpp,cpp}   generated student copy   (track "exercises")
#   chapters/NN_name/               the chapter program, lesson and CMakeLists.txt
#   tests/NN_name/*.cpp             GoogleTest, compiled once, linked per track
#
# Headers are identical in both trees, so any object that includes them can be
# linked against either track's library.

set(DM_STUB_FILES "" CACHE STRING
    "Exercise files (paths relative to exercises/) replaced by their generated stubs; set by `./course grade` when a student's file does not compile")
set(DM_STUB_DIR "${CMAKE_BINARY_DIR}/stubs" CACHE PATH "Where `./course grade` writes those stubs")

# The tracks present in this checkout (a student release has no solutions/).
set(DM_ACTIVE_TRACKS "")
foreach(track IN LISTS DM_TRACKS)
  if(IS_DIRECTORY ${PROJECT_SOURCE_DIR}/${track})
    list(APPEND DM_ACTIVE_TRACKS ${track})
  endif()
endforeach()
list(GET DM_ACTIVE_TRACKS 0 DM_HEADER_TRACK)   # any track: headers are identical

function(course_chapter_list out)
  file(GLOB dirs RELATIVE ${PROJECT_SOURCE_DIR}/${DM_HEADER_TRACK}
       LIST_DIRECTORIES true ${PROJECT_SOURCE_DIR}/${DM_HEADER_TRACK}/[0-9][0-9]_*)
  list(SORT dirs)
  set(${out} ${dirs} PARENT_SCOPE)
endfunction()

# dm_track_<track>: defines dm::track() so a test knows which track it runs on.
function(course_add_track_lib track)
  set(src ${CMAKE_BINARY_DIR}/generated/track_${track}.cpp)
  file(WRITE ${src}.in "namespace dm { const char* track() { return \"${track}\"; } }\n")
  configure_file(${src}.in ${src} COPYONLY)
  add_library(dm_track_${track} OBJECT ${src})  # objects: always linked, whatever the order
endfunction()

# dm_<NN>_<track>: the chapter's exercise code of one track.
function(course_add_exercise_lib chapter track)
  string(SUBSTRING ${chapter} 0 2 nn)
  file(GLOB srcs RELATIVE ${PROJECT_SOURCE_DIR}/${track}
       CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/${track}/${chapter}/*.cpp)
  set(files "")
  foreach(rel IN LISTS srcs)
    if(track STREQUAL "exercises" AND rel IN_LIST DM_STUB_FILES)
      list(APPEND files ${DM_STUB_DIR}/${rel})
    else()
      list(APPEND files ${PROJECT_SOURCE_DIR}/${track}/${rel})
    endif()
  endforeach()
  if(NOT files)  # a chapter with headers only (or not generated yet)
    add_library(dm_${nn}_${track} INTERFACE)
    target_include_directories(dm_${nn}_${track} INTERFACE ${PROJECT_SOURCE_DIR}/${track})
    target_link_libraries(dm_${nn}_${track} INTERFACE dm_common)
    return()
  endif()
  add_library(dm_${nn}_${track} STATIC ${files})
  target_include_directories(dm_${nn}_${track} PUBLIC ${PROJECT_SOURCE_DIR}/${track})
  target_link_libraries(dm_${nn}_${track} PUBLIC dm_common PRIVATE dm_warnings)
  course_use_pch(dm_${nn}_${track})
endfunction()

function(course_add_chapters)
  foreach(track IN LISTS DM_ACTIVE_TRACKS)
    course_add_track_lib(${track})
  endforeach()
  course_chapter_list(chapters)
  foreach(chapter IN LISTS chapters)
    foreach(track IN LISTS DM_ACTIVE_TRACKS)
      course_add_exercise_lib(${chapter} ${track})
    endforeach()
    if(EXISTS ${PROJECT_SOURCE_DIR}/chapters/${chapter}/CMakeLists.txt)
      add_subdirectory(${PROJECT_SOURCE_DIR}/chapters/${chapter} ${CMAKE_BINARY_DIR}/chapters/${chapter})
    endif()
  endforeach()
  set(DM_CHAPTERS ${chapters} PARENT_SCOPE)
endfunction()

# course_chapter_program(SOURCES main.cpp ... [LIBS extra_target ...])
# Called from chapters/NN_name/CMakeLists.txt. Builds bin/<track>/NN_name for
# every track, from objects compiled once.
function(course_chapter_program)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBS" ${ARGN})
  get_filename_component(chapter ${CMAKE_CURRENT_SOURCE_DIR} NAME)
  string(SUBSTRING ${chapter} 0 2 nn)
  add_library(ch${nn}_obj OBJECT ${ARG_SOURCES})
  target_include_directories(ch${nn}_obj PRIVATE ${PROJECT_SOURCE_DIR}/${DM_HEADER_TRACK}
                                                 ${CMAKE_CURRENT_SOURCE_DIR})
  target_link_libraries(ch${nn}_obj PRIVATE dm_common dm_warnings ${ARG_LIBS})
  course_use_pch(ch${nn}_obj)
  foreach(track IN LISTS DM_ACTIVE_TRACKS)
    add_executable(ch${nn}_${track} $<TARGET_OBJECTS:ch${nn}_obj>)
    target_link_libraries(ch${nn}_${track} PRIVATE dm_${nn}_${track} dm_track_${track} dm_common ${ARG_LIBS})
    set_target_properties(ch${nn}_${track} PROPERTIES
      OUTPUT_NAME ${chapter}
      RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bin/${track})
  endforeach()
endfunction()
