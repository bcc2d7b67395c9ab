# CMake functions for projects that embed copapy programs; loaded by
# find_package(copapy-cc). Documented in docs/cli.md ("CMake").
#
# copapy_add_program(<name> SOURCE <script.py>
#                    [TARGET <target>] [OPTIMIZE <0|1|2>]
#                    [CODE_ADDR <address> DATA_ADDR <address>]
#                    [BIND <name>=<address>[:<width>] ...]
#                    [OUTPUT_DIRECTORY <dir>])
#
#   Traces <script.py> and compiles it with copapy-cc into
#     <dir>/<name>.cpimg   the image (for coparun or cp_image_open on a file)
#     <dir>/<name>.h       the same image as a C array, with <NAME>_OFFSET_<value>
#                          and <NAME>_DTYPE_<value> constants (copapy-cc --emit c-header)
#   <dir> is OUTPUT_DIRECTORY (relative to the current binary directory),
#   default ${CMAKE_CURRENT_BINARY_DIR}/<name>. TARGET is any name or alias
#   `copapy-cc targets` lists (native: the build machine, the default);
#   CODE_ADDR/DATA_ADDR resolve every patch for fixed load addresses. BIND
#   binds inputs and outputs to device registers (copapy-cc build --bind):
#   the program reads or writes them itself, and the header gets
#   <NAME>_BOUND_<value> with each address.
#
#   The script is run as `python3 <script.py> <dag-file>` from the current
#   source directory, with the tracer on PYTHONPATH, and must write the DAG to
#   the path it is given:
#       import sys
#       import copapy as cp
#       x = cp.value(0.0, name="x")
#       cp.export(sys.argv[1], y=cp.sin(x) * 2)
#
#   Creates the custom target <name> (properties COPAPY_IMAGE, COPAPY_HEADER)
#   and the INTERFACE library <name>_header: linking it puts <dir> on the
#   include path and builds the program first. The image is rebuilt when the
#   script, the tracer, the compiler or the stencil object changes (the
#   compiler writes a depfile).
#
# copapy_add_runtime(<name>)
#
#   A static library of the runtime (cp_image_open, cp_image_load, ...) built
#   from source with the project's compiler, e.g. for a Cortex-M firmware.
#   (For the build machine, copapy::runtime is the prebuilt library.)
include_guard(GLOBAL)

# The target names and aliases copapy-cc accepts, asked from copapy-cc itself
# (`copapy-cc targets --json`) once per configure: sets `out` to the canonical
# name of `name` ("" if unknown) and `known` to a readable list.
function(_copapy_resolve_target name out known)
  get_property(table GLOBAL PROPERTY COPAPY_CC_TARGET_TABLE)
  if(NOT table)
    execute_process(COMMAND "${COPAPY_CC_BIN_DIR}/copapy-cc" targets --json
                    OUTPUT_VARIABLE table RESULT_VARIABLE rc ERROR_VARIABLE err)
    if(NOT rc EQUAL 0)
      message(FATAL_ERROR "copapy_add_program: '${COPAPY_CC_BIN_DIR}/copapy-cc targets --json' failed: ${rc} ${err}")
    endif()
    set_property(GLOBAL PROPERTY COPAPY_CC_TARGET_TABLE "${table}")
  endif()
  set(result "")
  set(listing "")
  string(JSON n LENGTH "${table}")
  math(EXPR last "${n} - 1")
  foreach(i RANGE ${last})
    string(JSON tname GET "${table}" ${i} name)
    set(entry "${tname}")
    if(tname STREQUAL name)
      set(result ${tname})
    endif()
    string(JSON na LENGTH "${table}" ${i} aliases)
    if(na GREATER 0)
      math(EXPR alast "${na} - 1")
      set(aliases "")
      foreach(j RANGE ${alast})
        string(JSON alias GET "${table}" ${i} aliases ${j})
        list(APPEND aliases "${alias}")
        if(alias STREQUAL name)
          set(result ${tname})
        endif()
      endforeach()
      string(REPLACE ";" ", " aliases "${aliases}")
      set(entry "${tname} (${aliases})")
    endif()
    list(APPEND listing "${entry}")
  endforeach()
  string(REPLACE ";" ", " listing "${listing}")
  set(${out} "${result}" PARENT_SCOPE)
  set(${known} "${listing}" PARENT_SCOPE)
endfunction()

function(copapy_add_program name)
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "SOURCE;TARGET;OPTIMIZE;CODE_ADDR;DATA_ADDR;OUTPUT_DIRECTORY" "BIND")
  if(arg_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "copapy_add_program(${name}): unknown arguments: ${arg_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT arg_SOURCE)
    message(FATAL_ERROR "copapy_add_program(${name}): SOURCE <script.py> is required")
  endif()
  if(DEFINED arg_CODE_ADDR AND NOT DEFINED arg_DATA_ADDR OR DEFINED arg_DATA_ADDR AND NOT DEFINED arg_CODE_ADDR)
    message(FATAL_ERROR "copapy_add_program(${name}): CODE_ADDR and DATA_ADDR go together")
  endif()
  if(DEFINED arg_TARGET)
    _copapy_resolve_target("${arg_TARGET}" canonical known)
    if(NOT canonical)
      message(FATAL_ERROR "copapy_add_program(${name}): unknown TARGET '${arg_TARGET}' (copapy-cc knows ${known})")
    endif()
    if(NOT canonical IN_LIST COPAPY_CC_TARGETS)
      message(FATAL_ERROR "copapy_add_program(${name}): TARGET '${arg_TARGET}' (${canonical}) has no stencil object "
                          "in ${COPAPY_CC_STENCIL_DIR}: this copapy-cc was built for ${COPAPY_CC_TARGETS} only "
                          "(COPAPY_TARGETS)")
    endif()
  endif()

  get_filename_component(source "${arg_SOURCE}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
  set(dir "${CMAKE_CURRENT_BINARY_DIR}/${name}")
  if(arg_OUTPUT_DIRECTORY)
    get_filename_component(dir "${arg_OUTPUT_DIRECTORY}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_BINARY_DIR}")
  endif()
  set(dag "${dir}/${name}.json")
  set(image "${dir}/${name}.cpimg")
  set(header "${dir}/${name}.h")
  set(depfile "${dir}/${name}.d")

  set(options "")
  if(DEFINED arg_TARGET)
    list(APPEND options -t "${canonical}")
  endif()
  if(DEFINED arg_OPTIMIZE)
    list(APPEND options -O "${arg_OPTIMIZE}")
  endif()
  if(DEFINED arg_CODE_ADDR)
    list(APPEND options --code-addr "${arg_CODE_ADDR}" --data-addr "${arg_DATA_ADDR}")
  endif()
  foreach(binding IN LISTS arg_BIND)
    if(NOT binding MATCHES "^[^=]+=[^=]+$")
      message(FATAL_ERROR "copapy_add_program(${name}): BIND expects <name>=<address>[:<width>], not '${binding}'")
    endif()
    list(APPEND options --bind "${binding}")
  endforeach()

  file(GLOB tracer "${COPAPY_CC_PYTHON_DIR}/copapy/*.py")
  add_custom_command(
    OUTPUT "${dag}"
    COMMAND "${CMAKE_COMMAND}" -E make_directory "${dir}"
    # No __pycache__ next to an installed (possibly read-only) tracer.
    COMMAND "${CMAKE_COMMAND}" -E env "PYTHONPATH=${COPAPY_CC_PYTHON_DIR}" PYTHONDONTWRITEBYTECODE=1
            "${Python3_EXECUTABLE}" "${source}" "${dag}"
    DEPENDS "${source}" ${tracer}
    WORKING_DIRECTORY "${CMAKE_CURRENT_SOURCE_DIR}"
    COMMENT "Tracing ${arg_SOURCE} (copapy program ${name})"
    VERBATIM)
  add_custom_command(
    OUTPUT "${image}" "${header}"
    COMMAND copapy::copapy-cc build "${dag}" ${options} --stencils "${COPAPY_CC_STENCIL_DIR}"
            -o "${image}" --emit image "--emit" "c-header=${header}" --c-name "${name}" --depfile "${depfile}"
    DEPENDS "${dag}" "$<TARGET_FILE:copapy::copapy-cc>"
    DEPFILE "${depfile}"
    COMMENT "Compiling copapy program ${name}"
    VERBATIM)
  add_custom_target(${name} DEPENDS "${image}" "${header}")
  set_target_properties(${name} PROPERTIES COPAPY_IMAGE "${image}" COPAPY_HEADER "${header}")

  add_library(${name}_header INTERFACE)
  target_include_directories(${name}_header INTERFACE "${dir}")
  add_dependencies(${name}_header ${name})
endfunction()

function(copapy_add_runtime name)
  file(GLOB sources "${COPAPY_CC_RUNTIME_SOURCE_DIR}/*.c")
  # In the build tree the directory is lib/runtime itself, which also holds the
  # POSIX host loader (mmap); an install has only the firmware's sources.
  list(FILTER sources EXCLUDE REGEX "/host_loader\\.c$")
  add_library(${name} STATIC ${sources})
  target_include_directories(${name} PUBLIC "${COPAPY_CC_INCLUDE_DIR}")
  set_target_properties(${name} PROPERTIES C_STANDARD 99 C_STANDARD_REQUIRED ON C_EXTENSIONS OFF)
  # As in lib/runtime: no memcpy/memset calls the firmware would have to supply.
  target_compile_options(${name} PRIVATE $<$<C_COMPILER_ID:GNU>:-fno-tree-loop-distribute-patterns>)
endfunction()
