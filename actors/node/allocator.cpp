// skepd allocates through jemalloc (linked in by actors/CMakeLists.txt,
// except in sanitizer builds), configured here.
//
// Why not glibc's malloc: with a million tasks in the store, the raft
// member's ticker thread waited 437 ms on a glibc malloc arena's lock
// (skepd keeps glibc to two arenas for RSS) to allocate one tick message, so
// the member missed heartbeats while idle. With jemalloc the longest gap
// between ticks over the first 160 s of that create fell from 365-434 ms to
// about 150 ms, which is the member's own writes.
// jemalloc's threads allocate from per-thread caches and many arenas, and a
// background thread of its own returns freed memory to the OS, so no
// application thread stops for it.
//
// jemalloc reads this string at its first allocation:
// - background_thread: purging happens on jemalloc's thread, not ours;
// - dirty_decay_ms / muzzy_decay_ms: freed pages go back to the OS within
//   about a second, so RSS follows the store down after a large removal.

extern "C" {
// NOLINTNEXTLINE: jemalloc looks this symbol up by name.
const char* malloc_conf
  = "background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0";
}
