// MOESIM_AVX2_CLONES before a function: GCC builds it twice, for AVX2 and for the baseline, and
// the dynamic loader picks one by the CPU (an ifunc). Empty where that cannot be: other compilers,
// other architectures, and under ThreadSanitizer, whose instrumented resolver the loader would
// call before the sanitizer's runtime exists (the program crashed before main).
#pragma once

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_THREAD__)
#define MOESIM_AVX2_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define MOESIM_AVX2_CLONES
#endif
