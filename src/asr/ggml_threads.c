/*
 * whisper.cpp 1.8.3 computes its DTW word alignment (median filter, norm, mean)
 * on a CPU backend it creates with ggml_backend_init_by_type() and never gives a
 * thread count, so ggml's compiled-in default of 4 threads is used. On a 2-core
 * machine running one single-thread decoder per core, those 4 threads spin in
 * ggml_barrier against the decoders (Dutch bench set: 28.6 s with them, 25.1 s
 * with one thread).
 *
 * The linker's --wrap (build.rs) sends whisper.cpp's calls here. A new CPU backend
 * starts with one thread; every other caller in whisper.cpp sets its own count
 * before each compute, so only the DTW step sees the difference.
 */

typedef void *ggml_backend_t;

/* enum ggml_backend_dev_type: GGML_BACKEND_DEVICE_TYPE_CPU is 0 (ggml-backend.h). */
enum { SUBTEXT_GGML_DEVICE_TYPE_CPU = 0 };

/* Weak: a build without --wrap (no whisper.cpp linked) leaves it unresolved. */
extern ggml_backend_t __real_ggml_backend_init_by_type(int type, const char *params)
    __attribute__((weak));
extern void ggml_backend_cpu_set_n_threads(ggml_backend_t backend, int n_threads)
    __attribute__((weak));

ggml_backend_t __wrap_ggml_backend_init_by_type(int type, const char *params) {
    ggml_backend_t backend = __real_ggml_backend_init_by_type(type, params);
    if (backend && type == SUBTEXT_GGML_DEVICE_TYPE_CPU && ggml_backend_cpu_set_n_threads) {
        ggml_backend_cpu_set_n_threads(backend, 1);
    }
    return backend;
}
