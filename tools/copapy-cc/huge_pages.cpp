// Large blocks on transparent huge pages (the compiler executable only).
//
// Compiling a program of millions of nodes touches a few hundred megabytes
// of fresh memory in a few large vectors (nodes, hash tables, steps, code).
// In 4 KiB pages that is a page fault per 4 KiB and a TLB miss per random
// access into a table; in 2 MiB pages both all but vanish (about 3x faster
// to touch, measured here). glibc maps large blocks with 4 KiB pages unless
// told otherwise by an environment variable, so the replaceable global
// operator new/delete (C++ [new.delete]) map blocks of 4 MiB and more
// themselves, 2 MiB-aligned, and ask for huge pages with MADV_HUGEPAGE
// (honoured when /sys/kernel/mm/transparent_hugepage/enabled is "madvise"
// or "always"; elsewhere they are ordinary pages). Smaller blocks come from
// malloc as before. Memory use does not grow: pages are still mapped only
// when touched, a block's last huge page at most being partly used.
#include <sys/mman.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <new>

namespace {

constexpr size_t kHugePage = size_t{2} << 20;
constexpr size_t kLarge = size_t{4} << 20;

// The mapped blocks: few at a time (dozens), so a small table; a full table
// sends further large blocks to malloc. Constant-initialized: operator new
// runs before main, too.
struct Block {
    void* start;  // 2 MiB-aligned
    size_t size;  // a multiple of 2 MiB
};
constexpr size_t kMaxBlocks = 256;
Block blocks[kMaxBlocks];
size_t block_count = 0;
std::mutex blocks_mutex;

// A mapping of `size` bytes (a multiple of 2 MiB) at a 2 MiB boundary.
void* map_aligned(size_t size) {
    const size_t mapped = size + kHugePage;
    void* m = ::mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED) return nullptr;
    const uintptr_t base = reinterpret_cast<uintptr_t>(m);
    const uintptr_t start = (base + kHugePage - 1) & ~uintptr_t{kHugePage - 1};
    if (start > base) ::munmap(m, start - base);
    if (base + mapped > start + size) ::munmap(reinterpret_cast<void*>(start + size), base + mapped - start - size);
    ::madvise(reinterpret_cast<void*>(start), size, MADV_HUGEPAGE);  // a hint: failure is harmless
    return reinterpret_cast<void*>(start);
}

void* allocate(size_t size) {
    if (size >= kLarge && size <= SIZE_MAX / 2) {
        const size_t rounded = (size + kHugePage - 1) & ~(kHugePage - 1);
        std::lock_guard<std::mutex> lock(blocks_mutex);
        if (block_count < kMaxBlocks) {
            if (void* p = map_aligned(rounded)) {
                blocks[block_count++] = {p, rounded};
                return p;
            }
        }
    }
    return std::malloc(size == 0 ? 1 : size);
}

// Only a 2 MiB-aligned pointer can be a mapped block (malloc's large blocks
// sit 16 bytes into a page), so every other one goes straight to free().
void release(void* p) {
    if (!p) return;
    if ((reinterpret_cast<uintptr_t>(p) & (kHugePage - 1)) == 0) {
        std::lock_guard<std::mutex> lock(blocks_mutex);
        for (size_t i = 0; i < block_count; ++i) {
            if (blocks[i].start != p) continue;
            const Block b = blocks[i];
            blocks[i] = blocks[--block_count];
            ::munmap(b.start, b.size);
            return;
        }
    }
    std::free(p);
}

}  // namespace

void* operator new(size_t size) {
    while (true) {
        if (void* p = allocate(size)) return p;
        const std::new_handler handler = std::get_new_handler();
        if (!handler) throw std::bad_alloc();
        handler();
    }
}
void operator delete(void* p) noexcept { release(p); }
void operator delete(void* p, size_t) noexcept { release(p); }
// The nothrow forms too (std::stable_sort's temporary buffer uses them):
// every form of new must pair with the replaced delete, which frees with
// free(); a library new would come from another allocator (ASan's, for one).
void* operator new(size_t size, const std::nothrow_t&) noexcept {
    try {
        return operator new(size);
    } catch (...) {
        return nullptr;
    }
}
void operator delete(void* p, const std::nothrow_t&) noexcept { release(p); }
