// MOESIM_AVX2_CLONES before a function: GCC builds it twice, for AVX2 and for the baseline, and
// the dynamic loader picks one by the CPU (an ifunc). MOESIM_AVX512_CLONES adds a third, for
// x86-64-v4 (AVX-512 with its 256-bit forms: the same vectors, with rotations, three-way logic and
// 32 registers; worth it where a loop's cost is its count of vector operations). The clones give
// the same bits: their arithmetic is IEEE's, and nothing is contracted into FMA (-ffp-contract=off,
// CMakeLists.txt). Empty where that cannot be: other compilers, other architectures, and under
// ThreadSanitizer, whose instrumented resolver the loader would call before the sanitizer's
// runtime exists (the program crashed before main).
#pragma once

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_THREAD__)
#define MOESIM_AVX2_CLONES __attribute__((target_clones("avx2", "default")))
#define MOESIM_AVX512_CLONES __attribute__((target_clones("arch=x86-64-v4", "avx2", "default")))
#else
#define MOESIM_AVX2_CLONES
#define MOESIM_AVX512_CLONES
#endif
