# Where musl's source comes from. The stencils' math functions (sinf, expf,
# powf, ...) are compiled from musl's src/math with the stencil flags:
# Debian's prebuilt libm archives are PIC, with stack protector and TLS errno
# (GOT and TLS relocations), which a stencil cannot use. First match wins:
#
#   -DCOPAPY_MUSL_SOURCE=PATH  an unpacked musl source tree (used in place), a
#                              tarball (musl_1.2.3.orig.tar.gz, musl-1.2.3.tar.gz)
#                              or a Debian .dsc, unpacked into the build tree.
#   COPAPY_CACHE_DIR/musl      the per-machine cache (default
#                              $XDG_CACHE_HOME/copapy or ~/.cache/copapy; the
#                              environment variable COPAPY_CACHE_DIR also sets it).
#   otherwise                  Debian's source package is fetched into the cache
#                              with apt-get source (cmake/fetch-musl.sh): the only
#                              step of the build that needs the network, once
#                              per machine.
set(COPAPY_MUSL_SOURCE "" CACHE PATH
    "musl source: an unpacked tree, a tarball or a .dsc (default: the per-machine cache, fetched once)")
if(DEFINED ENV{COPAPY_CACHE_DIR} AND NOT "$ENV{COPAPY_CACHE_DIR}" STREQUAL "")
  set(_cache_default "$ENV{COPAPY_CACHE_DIR}")
elseif(DEFINED ENV{XDG_CACHE_HOME} AND NOT "$ENV{XDG_CACHE_HOME}" STREQUAL "")
  set(_cache_default "$ENV{XDG_CACHE_HOME}/copapy")
else()
  set(_cache_default "$ENV{HOME}/.cache/copapy")
endif()
set(COPAPY_CACHE_DIR "${_cache_default}" CACHE PATH "Per-machine cache of downloaded sources (musl)")
include(${CMAKE_CURRENT_LIST_DIR}/unpack-source.cmake)

function(_copapy_musl_check dir what)
  if(NOT EXISTS "${dir}/src/math/sinf.c" OR NOT EXISTS "${dir}/tools/mkalltypes.sed")
    message(FATAL_ERROR "${what} is not a musl source tree (no src/math/sinf.c or tools/mkalltypes.sed in ${dir})")
  endif()
endfunction()

# Unpacks a tarball or .dsc into the build tree once (again when it changes).
function(_copapy_musl_unpack archive out)
  set(dest ${CMAKE_BINARY_DIR}/_deps/musl-source)
  copapy_unpack_needed("${archive}" ${dest} src/math/sinf.c needed)
  if(needed)
    if(archive MATCHES "\\.dsc$")
      execute_process(COMMAND dpkg-source --no-check -x "${archive}" ${dest}/tree RESULT_VARIABLE rc OUTPUT_QUIET)
    else()
      execute_process(COMMAND ${CMAKE_COMMAND} -E tar xf "${archive}" WORKING_DIRECTORY ${dest}/unpack RESULT_VARIABLE rc)
    endif()
    if(NOT rc EQUAL 0)
      message(FATAL_ERROR "COPAPY_MUSL_SOURCE=${archive}: cannot unpack it (${rc})")
    endif()
    copapy_unpack_finish("${archive}" ${dest} ALLOW_FLAT)  # a tarball of the tree's contents is fine too
  endif()
  set(${out} ${dest}/tree PARENT_SCOPE)
endfunction()

# Sets `out` to the musl source tree, fetching it into the cache if needed.
function(copapy_musl_source out)
  get_property(dir GLOBAL PROPERTY COPAPY_MUSL_DIR)
  if(dir)
    set(${out} ${dir} PARENT_SCOPE)
    return()
  endif()
  if(COPAPY_MUSL_SOURCE)
    get_filename_component(src "${COPAPY_MUSL_SOURCE}" ABSOLUTE)
    if(IS_DIRECTORY "${src}")
      set(dir "${src}")
    elseif(EXISTS "${src}")
      _copapy_musl_unpack("${src}" dir)
    else()
      message(FATAL_ERROR "COPAPY_MUSL_SOURCE=${COPAPY_MUSL_SOURCE}: no such file or directory")
    endif()
    _copapy_musl_check("${dir}" "COPAPY_MUSL_SOURCE=${COPAPY_MUSL_SOURCE}")
    message(STATUS "musl source (math library for stencils): ${dir} (COPAPY_MUSL_SOURCE)")
  else()
    set(dir ${COPAPY_CACHE_DIR}/musl)
    if(NOT EXISTS ${dir}/src/math/sinf.c AND EXISTS ${CMAKE_BINARY_DIR}/_deps/musl/src/math/sinf.c)
      # A build tree configured before the cache existed: keep its copy, no download.
      message(STATUS "Moving this build tree's musl source into the cache ${dir}")
      file(MAKE_DIRECTORY ${COPAPY_CACHE_DIR})
      file(RENAME ${CMAKE_BINARY_DIR}/_deps/musl ${dir} RESULT moved)
      if(NOT moved EQUAL 0)  # another file system
        file(COPY ${CMAKE_BINARY_DIR}/_deps/musl/ DESTINATION ${dir})
      endif()
    endif()
    if(NOT EXISTS ${dir}/src/math/sinf.c)
      message(STATUS "Fetching musl's source package from the Debian mirror into ${dir}: the stencils' math "
                     "library is built from it. This needs the network, once per machine "
                     "(offline: -DCOPAPY_MUSL_SOURCE=PATH, see README)")
      execute_process(COMMAND ${PROJECT_SOURCE_DIR}/cmake/fetch-musl.sh ${dir} RESULT_VARIABLE rc)
      if(NOT rc EQUAL 0)
        message(FATAL_ERROR
          "cannot fetch musl's source package (see above).\n"
          "The stencils' math functions (sinf, expf, ...) are compiled from musl's source with the stencil "
          "flags, and Debian's source package is downloaded with apt-get source, which needs the network "
          "once per machine; the cache is ${dir}.\n"
          "Offline, name a copy instead: -DCOPAPY_MUSL_SOURCE=/path/to/musl_1.2.3.orig.tar.gz (or an unpacked "
          "musl source tree, or a .dsc), or copy ${dir} from a machine that has it "
          "(-DCOPAPY_CACHE_DIR or the environment variable COPAPY_CACHE_DIR choose another cache).")
      endif()
    endif()
    _copapy_musl_check("${dir}" "the cached musl source")
    message(STATUS "musl source (math library for stencils): ${dir} (cache)")
  endif()
  set_property(GLOBAL PROPERTY COPAPY_MUSL_DIR ${dir})
  set(${out} ${dir} PARENT_SCOPE)
endfunction()
