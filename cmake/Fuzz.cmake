# Fuzz targets: each source defining LLVMFuzzerTestOneInput becomes
#   - a replay program (any compiler, no sanitizer needed) that runs every file of its seed
#     corpus through the target once, registered as a ctest test, and
#   - with ATTACHE_FUZZ=ON and clang, a libFuzzer binary with ASan and UBSan.
#
# Include from any CMakeLists.txt: include(${PROJECT_SOURCE_DIR}/cmake/Fuzz.cmake)
#
# attache_fuzz_target(NAME <name> SOURCE <file> CORPUS_DIR <dir>
#                     [LIBS <target>...]        # linked by both binaries
#                     [FUZZ_LIBS <target>...]   # linked by the libFuzzer binary instead of LIBS
#                                               # (coverage-instrumented copies; see below)
#                     [FUZZER_TARGET <t>]       # default <name>_fuzzer
#                     [REPLAY_TARGET <t>]       # default <name>_replay
#                     [TEST_NAME <t>])          # default <name>_corpus
#
# attache_fuzz_instrumented_copy(<new> <existing>): a static library <new> built from the
# sources of the static library <existing> with libFuzzer coverage and ASan/UBSan, same include
# directories, definitions, options and link libraries (those stay uninstrumented). Without it libFuzzer sees no coverage in the code under test.
# Only defined-and-built with ATTACHE_FUZZ and clang; call it only where attache_fuzz_enabled()
# is true, or it does nothing.
#
# Run a fuzzer with a scratch directory first, so new inputs do not land in the committed seeds:
#   mkdir -p work && ./native_request_fuzzer work ../tests/fuzz/corpus/native_request \
#       -max_total_time=120
include_guard(GLOBAL)

# _GLIBCXX_ASSERTIONS: bounds checks in std::span and std::vector indexing, which ASan misses
# inside a larger buffer. Build with asserts on (CMAKE_BUILD_TYPE Debug) for Result's checks.
# Cached (internal) so every directory sees them: include_guard(GLOBAL) runs this file once,
# and a plain set() would be visible only in the first directory that included it.
set(ATTACHE_FUZZ_FLAGS -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
                       -fno-omit-frame-pointer -g -D_GLIBCXX_ASSERTIONS CACHE INTERNAL "")
set(ATTACHE_FUZZ_LIB_FLAGS -fsanitize=fuzzer-no-link,address,undefined
                           -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g
                           -D_GLIBCXX_ASSERTIONS CACHE INTERNAL "")

# True when libFuzzer binaries are built in this configuration.
function(attache_fuzz_enabled out)
  if(ATTACHE_FUZZ AND CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    set(${out} TRUE PARENT_SCOPE)
  else()
    set(${out} FALSE PARENT_SCOPE)
  endif()
endfunction()

if(ATTACHE_FUZZ AND NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  message(WARNING "ATTACHE_FUZZ needs clang (CC=clang CXX=clang++); building only the corpus "
                  "replay tests with ${CMAKE_CXX_COMPILER_ID}")
endif()

function(attache_fuzz_instrumented_copy new existing)
  attache_fuzz_enabled(enabled)
  if(NOT enabled OR TARGET ${new})
    return()
  endif()
  get_target_property(sources ${existing} SOURCES)
  get_target_property(source_dir ${existing} SOURCE_DIR)
  set(absolute "")
  foreach(src IN LISTS sources)
    cmake_path(ABSOLUTE_PATH src BASE_DIRECTORY ${source_dir} OUTPUT_VARIABLE path)
    list(APPEND absolute ${path})
  endforeach()
  add_library(${new} STATIC ${absolute})
  foreach(property INCLUDE_DIRECTORIES INTERFACE_INCLUDE_DIRECTORIES COMPILE_DEFINITIONS
                   INTERFACE_COMPILE_DEFINITIONS COMPILE_OPTIONS LINK_LIBRARIES
                   INTERFACE_LINK_LIBRARIES)
    get_target_property(value ${existing} ${property})
    if(value)
      set_target_properties(${new} PROPERTIES ${property} "${value}")
    endif()
  endforeach()
  target_compile_options(${new} PRIVATE ${ATTACHE_FUZZ_LIB_FLAGS})
endfunction()

function(attache_fuzz_target)
  cmake_parse_arguments(PARSE_ARGV 0 ARG ""
                        "NAME;SOURCE;CORPUS_DIR;FUZZER_TARGET;REPLAY_TARGET;TEST_NAME"
                        "LIBS;FUZZ_LIBS")
  foreach(required NAME SOURCE CORPUS_DIR)
    if(NOT ARG_${required})
      message(FATAL_ERROR "attache_fuzz_target: ${required} is required")
    endif()
  endforeach()
  if(ARG_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "attache_fuzz_target: unknown arguments ${ARG_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT ARG_FUZZER_TARGET)
    set(ARG_FUZZER_TARGET ${ARG_NAME}_fuzzer)
  endif()
  if(NOT ARG_REPLAY_TARGET)
    set(ARG_REPLAY_TARGET ${ARG_NAME}_replay)
  endif()
  if(NOT ARG_TEST_NAME)
    set(ARG_TEST_NAME ${ARG_NAME}_corpus)
  endif()
  if(NOT ARG_FUZZ_LIBS)
    set(ARG_FUZZ_LIBS ${ARG_LIBS})
  endif()
  cmake_path(ABSOLUTE_PATH ARG_CORPUS_DIR BASE_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR})

  # The replay program and its test.
  add_executable(${ARG_REPLAY_TARGET} ${ARG_SOURCE}
                 ${CMAKE_CURRENT_FUNCTION_LIST_DIR}/../tests/fuzz/replay_main.cpp)
  target_link_libraries(${ARG_REPLAY_TARGET} PRIVATE ${ARG_LIBS} attache_warnings)
  add_test(NAME ${ARG_TEST_NAME} COMMAND ${ARG_REPLAY_TARGET} ${ARG_CORPUS_DIR})
  set_tests_properties(${ARG_TEST_NAME} PROPERTIES TIMEOUT 300)

  # The libFuzzer binary.
  attache_fuzz_enabled(enabled)
  if(enabled)
    add_executable(${ARG_FUZZER_TARGET} ${ARG_SOURCE})
    target_compile_options(${ARG_FUZZER_TARGET} PRIVATE ${ATTACHE_FUZZ_FLAGS})
    target_link_options(${ARG_FUZZER_TARGET} PRIVATE -fsanitize=fuzzer,address,undefined)
    target_link_libraries(${ARG_FUZZER_TARGET} PRIVATE ${ARG_FUZZ_LIBS} attache_warnings)
  endif()
endfunction()
