# Unpacking a source archive into the build tree once, for musl-source.cmake
# and newlib-source.cmake: ${dest}/tree is made again only when the archive
# changed (its path and modification time, kept in ${dest}.stamp) or the
# file `check` in the tree is missing.

# Sets `needed` to TRUE (and empties ${dest}, making ${dest}/unpack) if the
# tree must be made from `archive`, else to FALSE.
function(copapy_unpack_needed archive dest check needed)
  file(TIMESTAMP "${archive}" stamp "%s" UTC)
  if(EXISTS ${dest}.stamp)
    file(READ ${dest}.stamp old)
  endif()
  if(old STREQUAL "${archive} ${stamp}" AND EXISTS ${dest}/tree/${check})
    set(${needed} FALSE PARENT_SCOPE)
    return()
  endif()
  file(REMOVE_RECURSE ${dest} ${dest}.stamp)
  file(MAKE_DIRECTORY ${dest}/unpack)
  set(${needed} TRUE PARENT_SCOPE)
endfunction()

# After the archive was unpacked into ${dest}/unpack (or straight into
# ${dest}/tree): its one top directory (musl-1.2.3/, newlib-salsa/) becomes
# the tree, or with ALLOW_FLAT an archive without one is the tree itself;
# otherwise FATAL_ERROR. Then the stamp is written.
function(copapy_unpack_finish archive dest)
  cmake_parse_arguments(U "ALLOW_FLAT" "" "" ${ARGN})
  if(NOT IS_DIRECTORY ${dest}/tree)
    file(GLOB top LIST_DIRECTORIES true ${dest}/unpack/*)
    list(LENGTH top n)
    if(n EQUAL 1 AND IS_DIRECTORY "${top}")
      file(RENAME "${top}" ${dest}/tree)
    elseif(U_ALLOW_FLAT)
      file(RENAME ${dest}/unpack ${dest}/tree)
    else()
      message(FATAL_ERROR "${archive}: not a source tarball with one top directory")
    endif()
  endif()
  file(TIMESTAMP "${archive}" stamp "%s" UTC)
  file(WRITE ${dest}.stamp "${archive} ${stamp}")
endfunction()
