/* The worker pool: a generation counter announces each run; idle workers
 * spin on it for a few tens of microseconds, then sleep on a condition
 * variable. The caller takes part in every run.
 *
 * Sharing the machine: when another process holds a core, the scheduler
 * takes a worker off its core for a whole time slice (milliseconds). Two
 * signs of that count as a stall:
 * - a run whose caller waited more than STALL_NS after its own tasks, and
 *   more than twice as long as they took (the worker held a task);
 * - back-to-back runs (each within ABSENT_GAP_NS of the last), for more
 *   than ABSENT_NS, in which the caller ran every task itself (the worker
 *   was off its core between tasks, or could not get one to wake up on:
 *   the caller did all the work and paid for the hand-over as well). A
 *   worker waking from sleep on an idle machine takes a fraction of that;
 *   the scheduler's time slice, more.
 * After a stall the pool runs everything on the caller for a while
 * (SOLO_MIN_NS, growing SOLO_GROWTH times on each stall that follows soon
 * after, up to SOLO_MAX_NS) and then tries its workers again. Tasks never
 * depend on the thread that runs them, so neither do the results. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>
#include <omp.h>

#include "core.h"
#include "pool.h"

/* About 50 us of polling before a thread goes to sleep. */
enum { SPIN_ROUNDS = 4000 };

#define STALL_NS 1000000LL        /* 1 ms: longer than a task, shorter than a time slice */
#define SOLO_MIN_NS 2000000LL     /* 2 ms */
#define SOLO_MAX_NS 640000000LL   /* 0.64 s */
#define CALM_NS 50000000LL        /* 50 ms without a stall: back to SOLO_MIN_NS */
#define SOLO_GROWTH 4             /* 2, 8, 32, 128, 512, 640 ms */
#define ABSENT_NS 2000000LL       /* 2 ms of runs without the workers */
#define ABSENT_GAP_NS 500000LL    /* a longer gap between runs starts a new streak */

#if defined(__SSE__) || defined(__x86_64__)
#include <xmmintrin.h>
#define NN_FTZ_DAZ 0x8040u /* MXCSR flush-to-zero (bit 15), denormals-are-zero (bit 6) */

unsigned nn_fpmode_enter(void)
{
    unsigned old = _mm_getcsr();
    _mm_setcsr(old | NN_FTZ_DAZ);
    return old;
}

void nn_fpmode_leave(unsigned old)
{
    _mm_setcsr(old);
}
#else
unsigned nn_fpmode_enter(void)
{
    return 0;
}

void nn_fpmode_leave(unsigned old)
{
    (void)old;
}
#endif

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

struct nn_pool {
    int nthreads;
    pthread_t *workers;
    pthread_mutex_t mu;
    pthread_cond_t wake, done_cv, started_cv;
    int started;           /* workers past their start-up (under mu) */
    /* The current run in one word, so that a thread that wakes late can
     * never mix two runs: generation (32 bits) | static (1) | tasks (15) |
     * next task (16). */
    _Atomic uint64_t ticket;
    atomic_int done;       /* tasks of the current run finished */
    atomic_int sleepers;   /* workers waiting on wake */
    atomic_int caller_sleeping;
    int stop;
    /* Stable while any task of the current run is unfinished. */
    nn_pool_fn *fn;
    void *ctx;
    int steal;             /* static run whose leftover tasks others may take */
    /* Static runs: thread k's range as generation (32 bits) | next task,
     * one cache line each; claimed by compare-and-swap, so a thread from an
     * earlier run (another generation) can never take a task. */
    struct range { _Atomic uint64_t next; char pad[56]; } *ranges;
    /* The caller runs alone until solo_until; solo_ns is the next stall's
     * solo period; calm_from, when the last solo period ended; absent_from,
     * when the current streak of runs without the workers began (0: none),
     * absent_last, when its last run ended;
     * stalls, the stalls seen (for tests and benches). */
    int64_t solo_until, solo_ns, calm_from, absent_from, absent_last;
    int64_t stalls;
    atomic_int hold; /* nn_pool_hold_workers */
};

static int64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

#define T_GEN(t) ((uint32_t)((t) >> 32))
#define T_STATIC(t) ((int)(((t) >> 31) & 1))
#define T_TASKS(t) ((int)(((t) >> 16) & 0x7fff))
#define T_NEXT(t) ((int)((t)&0xffff))

typedef struct worker_arg {
    nn_pool *p;
    int id;
} worker_arg;

static void finish_task(nn_pool *p, int ntasks)
{
    if (atomic_fetch_add(&p->done, 1) + 1 == ntasks && atomic_load(&p->caller_sleeping)) {
        pthread_mutex_lock(&p->mu);
        pthread_cond_broadcast(&p->done_cv);
        pthread_mutex_unlock(&p->mu);
    }
}

/* Takes part in run gen: claims tasks until none is left. Returns how
 * many this thread ran. */
static int do_tasks(nn_pool *p, int id, uint32_t gen)
{
    int ran = 0;
    uint64_t t = atomic_load(&p->ticket);
    if (T_GEN(t) != gen || (id != 0 && atomic_load_explicit(&p->hold, memory_order_relaxed)))
        return 0;
    int ntasks = T_TASKS(t);
    if (T_STATIC(t)) {
        /* this thread's range first; in a stealing run, then what is left
         * of the others' (a descheduled thread holds up one task, not its
         * whole range) */
        int last = p->steal ? id + p->nthreads : id + 1;
        for (int j = id; j < last; j++) {
            int r = j % p->nthreads;
            int64_t end = (int64_t)ntasks * (r + 1) / p->nthreads;
            _Atomic uint64_t *rn = &p->ranges[r].next;
            uint64_t w = atomic_load(rn);
            while (T_GEN(w) == gen && (int64_t)(uint32_t)w < end) {
                if (atomic_compare_exchange_weak(rn, &w, w + 1)) {
                    p->fn(p->ctx, (int)(uint32_t)w);
                    ran++;
                    finish_task(p, ntasks);
                    w = atomic_load(rn);
                }
            }
        }
        return ran;
    }
    for (;;) {
        if (T_GEN(t) != gen || T_NEXT(t) >= ntasks)
            return ran;
        if (atomic_compare_exchange_weak(&p->ticket, &t, t + 1)) {
            p->fn(p->ctx, T_NEXT(t)); /* task claimed and unfinished: fields stable */
            ran++;
            finish_task(p, ntasks);
            t = atomic_load(&p->ticket);
        }
    }
}

static _Thread_local int thread_index; /* 0 outside the pools' workers */

int nn_pool_thread_index(void)
{
    return thread_index;
}

static void *worker_main(void *arg)
{
    nn_pool *p = ((worker_arg *)arg)->p;
    int id = ((worker_arg *)arg)->id;
    thread_index = id;
    uint32_t seen = 0;
    omp_set_num_threads(1);
    nn_fpmode_enter();
    pthread_mutex_lock(&p->mu);
    p->started++;
    pthread_cond_signal(&p->started_cv);
    pthread_mutex_unlock(&p->mu);
    for (;;) {
        int spins = 0;
        while (T_GEN(atomic_load(&p->ticket)) == seen && spins < SPIN_ROUNDS) {
            cpu_relax();
            spins++;
        }
        if (T_GEN(atomic_load(&p->ticket)) == seen) {
            pthread_mutex_lock(&p->mu);
            atomic_fetch_add(&p->sleepers, 1);
            while (T_GEN(atomic_load(&p->ticket)) == seen && !p->stop)
                pthread_cond_wait(&p->wake, &p->mu);
            atomic_fetch_sub(&p->sleepers, 1);
            int stop = p->stop;
            pthread_mutex_unlock(&p->mu);
            if (stop)
                return NULL;
        }
        seen = T_GEN(atomic_load(&p->ticket));
        do_tasks(p, id, seen);
    }
}

nn_status nn_pool_create(nn_pool **out, int nthreads)
{
    if (nthreads < 1)
        nthreads = 1;
    nn_pool *p = nn_mem_calloc(sizeof *p);
    worker_arg *args = NULL;
    if (!p)
        return nn_fail(NN_ERR_OUT_OF_MEMORY, "no memory for a thread pool");
    p->nthreads = nthreads;
    p->solo_ns = SOLO_MIN_NS;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done_cv, NULL);
    pthread_cond_init(&p->started_cv, NULL);
    if (nthreads > 1) {
        p->workers = nn_mem_calloc((size_t)(nthreads - 1) * (sizeof *p->workers + sizeof *args));
        if (!p->workers) {
            p->nthreads = 1;
            nn_pool_destroy(p);
            return nn_fail(NN_ERR_OUT_OF_MEMORY, "no memory for a thread pool");
        }
        args = (worker_arg *)(void *)(p->workers + (nthreads - 1));
    }
    p->ranges = nn_mem_calloc((size_t)nthreads * sizeof *p->ranges);
    if (!p->ranges) {
        int n = p->nthreads;
        p->nthreads = 1; /* no worker started yet */
        nn_pool_destroy(p);
        return nn_fail(NN_ERR_OUT_OF_MEMORY, "no memory for a %d-thread pool", n);
    }
    for (int k = 1; k < nthreads; k++) {
        args[k - 1].p = p;
        args[k - 1].id = k;
        if (pthread_create(&p->workers[k - 1], NULL, worker_main, &args[k - 1]) != 0) {
            p->nthreads = k; /* destroy joins the ones that started */
            nn_pool_destroy(p);
            return nn_fail(NN_ERR_OUT_OF_MEMORY, "could not start worker thread %d", k);
        }
    }
    /* Returns once every worker is past its start-up, whose first
     * omp_set_num_threads makes libgomp allocate the thread's settings (and
     * the first use of a thread-local may allocate where libnn was
     * dlopen'ed). Without this wait, a worker that a loaded machine starts
     * late did so during a later step, which then allocated (seen in
     * test_process_allocs with a busy process on the other core). */
    pthread_mutex_lock(&p->mu);
    while (p->started < nthreads - 1)
        pthread_cond_wait(&p->started_cv, &p->mu);
    pthread_mutex_unlock(&p->mu);
    *out = p;
    return NN_OK;
}

void nn_pool_destroy(nn_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    for (int k = 1; k < p->nthreads; k++)
        pthread_join(p->workers[k - 1], NULL);
    pthread_cond_destroy(&p->wake);
    pthread_cond_destroy(&p->done_cv);
    pthread_cond_destroy(&p->started_cv);
    pthread_mutex_destroy(&p->mu);
    nn_mem_free(p->workers);
    nn_mem_free(p->ranges);
    nn_mem_free(p);
}

int nn_pool_threads(const nn_pool *p)
{
    return p->nthreads;
}

int64_t nn_pool_stalls(const nn_pool *p)
{
    return p->stalls;
}

void nn_pool_hold_workers(nn_pool *p, int hold)
{
    atomic_store(&p->hold, hold != 0);
}

/* A stall at time t: the caller runs alone for the next solo period. */
static void go_solo(nn_pool *p, int64_t t)
{
    p->stalls++;
    p->absent_from = 0;
    if (t - p->calm_from > CALM_NS)
        p->solo_ns = SOLO_MIN_NS;
    p->solo_until = p->calm_from = t + p->solo_ns;
    p->solo_ns = p->solo_ns < SOLO_MAX_NS / SOLO_GROWTH ? p->solo_ns * SOLO_GROWTH : SOLO_MAX_NS;
}

/* After a run: t0 its start, t1 when the caller's own tasks were done, t2
 * when all were. */
static void watch_stall(nn_pool *p, int64_t t0, int64_t t1, int64_t t2)
{
    int64_t wait = t2 - t1;
    if (wait > STALL_NS && wait > 2 * (t1 - t0))
        go_solo(p, t2);
}

void nn_pool_run(nn_pool *p, int ntasks, nn_pool_fn *fn, void *ctx, int mode)
{
    /* alone: one thread, one task, or a solo period (no clock read for
     * the first two) */
    int64_t t0 = p->nthreads > 1 && ntasks > 1 ? now_ns() : 0;
    if (p->nthreads == 1 || ntasks <= 1 || t0 < p->solo_until) {
        for (int t = 0; t < ntasks; t++)
            fn(ctx, t);
        return;
    }
    p->fn = fn;
    p->ctx = ctx;
    p->steal = mode == NN_POOL_AFFINE;
    atomic_store(&p->done, 0);
    uint32_t gen = T_GEN(atomic_load(&p->ticket)) + 1;
    if (mode != NN_POOL_DYNAMIC)
        for (int r = 0; r < p->nthreads; r++)
            atomic_store(&p->ranges[r].next,
                         ((uint64_t)gen << 32) | (uint64_t)((int64_t)ntasks * r / p->nthreads));
    atomic_store(&p->ticket, ((uint64_t)gen << 32) |
                                 ((uint64_t)(mode != NN_POOL_DYNAMIC) << 31) |
                                 ((uint64_t)ntasks << 16));
    if (atomic_load(&p->sleepers) > 0) {
        pthread_mutex_lock(&p->mu);
        pthread_cond_broadcast(&p->wake);
        pthread_mutex_unlock(&p->mu);
    }
    int ran = do_tasks(p, 0, gen);
    int64_t t1 = now_ns();
    if (ran < ntasks) {
        if (p->absent_from) /* no store on most runs: the workers read this line */
            p->absent_from = 0;
    } else { /* only where the caller may take others' tasks */
        if (!p->absent_from || t0 - p->absent_last > ABSENT_GAP_NS)
            p->absent_from = t0;
        p->absent_last = t1;
        if (t1 - p->absent_from > ABSENT_NS)
            go_solo(p, t1);
    }
    int spins = 0;
    while (atomic_load(&p->done) < ntasks && spins < SPIN_ROUNDS) {
        cpu_relax();
        spins++;
    }
    if (atomic_load(&p->done) < ntasks) {
        pthread_mutex_lock(&p->mu);
        atomic_store(&p->caller_sleeping, 1);
        while (atomic_load(&p->done) < ntasks)
            pthread_cond_wait(&p->done_cv, &p->mu);
        atomic_store(&p->caller_sleeping, 0);
        pthread_mutex_unlock(&p->mu);
        watch_stall(p, t0, t1, now_ns()); /* a stall always ends asleep */
    }
}
