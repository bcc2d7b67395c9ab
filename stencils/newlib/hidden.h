/* Included first into every newlib source compiled for the stencils: with
 * -fPIE, an external object (a table another file defines) would be reached
 * through the GOT, which an image has not; hidden, it is reached PC-relative
 * like a static one. Nothing here is ever linked dynamically. */
#pragma GCC visibility push(hidden)
