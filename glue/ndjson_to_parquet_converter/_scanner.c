/*
 * NDJSON scanner behind ndjson_to_parquet_converter (loaded with ctypes; see _native.py).
 *
 * One pass over a buffer of whole lines: validates every line as one JSON object (RFC 8259 grammar,
 * strict UTF-8, no lone surrogate escapes), finds each top-level key/value span and appends the value
 * to its column: strings decoded (no quotes, escapes resolved), everything else as the exact bytes
 * written. Columns are Arrow string arrays (int32 offsets, data, validity bitmap) in anonymous
 * mappings whose ownership passes to Python, which wraps them zero-copy with
 * pyarrow.StringArray.from_buffers and gives them back with nd_release().
 *
 * C99 plus Linux mmap/mremap, libc only. Every exported symbol is prefixed nd_.
 */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mman.h>

/* Bind to the oldest memcpy so the .so loads on glibc 2.17+ (AWS Glue Python shell runs AL2 with 2.26;
   a plain link against a newer glibc picks memcpy@GLIBC_2.14). tests/test_converter_native.py checks. */
#if defined(__x86_64__) && defined(__GLIBC__)
__asm__(".symver memcpy,memcpy@GLIBC_2.2.5");
#endif

#define ND_ABI_VERSION 4
#define ND_MAX_DEPTH 512 /* the Python fallbacks recurse; Python 3.9's limit allows ~970 */
#define ND_NONE 0xFFFFFFFFu
#define ND_OOM 0xFFFFFFFEu
#define ND_MAX_DATA 0x7FFFFFFFu /* int32 Arrow offsets */

#if defined(__GNUC__)
#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)
#define INLINE static inline __attribute__((always_inline))
#else
#define LIKELY(x) (x)
#define UNLIKELY(x) (x)
#define INLINE static inline
#endif

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ && defined(__GNUC__)
#define ND_SWAR 1
#else
#define ND_SWAR 0
#endif

#if defined(__SSE2__) && ND_SWAR
#include <emmintrin.h> /* baseline on x86_64: header-only intrinsics, no library */
#define ND_SSE2 1
#else
#define ND_SSE2 0
#endif

/* ---------------------------------------------------------------- growable anonymous mappings */

/* Column buffers are anonymous mappings. Python hands them back with nd_release once Arrow is done;
   they are kept in a small process-wide pool and reused by later chunks, so steady-state conversion
   touches no fresh pages (page faults and zeroing were ~15% of the time). */

typedef struct {
    uint8_t *p;
    size_t len;
    size_t cap;
} nd_buf;

#define POOL_SLOTS 512
#define MIN_MAPPING 16384
static struct {
    uint8_t *p;
    size_t cap;
} g_pool[POOL_SLOTS];
/* Enough for the few chunks a conversion has in flight; what is beyond goes back to the kernel. */
static size_t g_pool_n, g_pool_bytes, g_pool_limit = (size_t)128 << 20;
static volatile char g_pool_busy;

static void pool_lock(void) {
    while (__atomic_test_and_set(&g_pool_busy, __ATOMIC_ACQUIRE)) {
        while (__atomic_load_n(&g_pool_busy, __ATOMIC_RELAXED)) sched_yield(); /* held for microseconds */
    }
}
static void pool_unlock(void) { __atomic_clear(&g_pool_busy, __ATOMIC_RELEASE); }

/* A pooled mapping of at least `want` bytes but not wastefully larger, or NULL. */
static uint8_t *pool_take(size_t want, size_t *cap) {
    size_t i, best = POOL_SLOTS;
    uint8_t *p = NULL;
    pool_lock();
    for (i = 0; i < g_pool_n; i++) {
        if (g_pool[i].cap >= want && g_pool[i].cap <= want * 4 + MIN_MAPPING &&
            (best == POOL_SLOTS || g_pool[i].cap < g_pool[best].cap))
            best = i;
    }
    if (best != POOL_SLOTS) {
        p = g_pool[best].p;
        *cap = g_pool[best].cap;
        g_pool_bytes -= *cap;
        g_pool[best] = g_pool[--g_pool_n];
    }
    pool_unlock();
    return p;
}

static uint8_t *mapping_new(size_t want, size_t *cap) {
    uint8_t *p = pool_take(want, cap);
    if (p) return p;
    size_t size = MIN_MAPPING;
    while (size < want) size *= 2;
    void *np = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (np == MAP_FAILED) return NULL;
    *cap = size;
    return (uint8_t *)np;
}

/* Grows b to hold need_total bytes; a new mapping is at least `hint` bytes and zeroed if `zero`. */
static int buf_grow(nd_buf *b, size_t need_total, size_t hint, int zero) {
    if (b->p == NULL) {
        size_t cap;
        uint8_t *p = mapping_new(need_total > hint ? need_total : hint, &cap);
        if (!p) return -1;
        if (zero) memset(p, 0, cap);
        b->p = p;
        b->cap = cap;
        return 0;
    }
    size_t cap = b->cap;
    while (cap < need_total) cap *= 2;
    void *np = mremap(b->p, b->cap, cap, MREMAP_MAYMOVE); /* new pages come zeroed */
    if (np == MAP_FAILED) return -1;
    b->p = (uint8_t *)np;
    b->cap = cap;
    return 0;
}

INLINE int buf_reserve(nd_buf *b, size_t extra) {
    if (LIKELY(b->len + extra <= b->cap)) return 0;
    return buf_grow(b, b->len + extra, 0, 0);
}

static void buf_free(nd_buf *b) {
    if (b->p) munmap(b->p, b->cap);
    b->p = NULL;
    b->len = b->cap = 0;
}

/* ---------------------------------------------------------------- short copies and compares */

/* Values and keys are mostly a few bytes long: inline word moves beat a libc call. Never touches a
   byte outside [src, src + n) or [dst, dst + n). */
INLINE void copy_bytes(uint8_t *dst, const uint8_t *src, size_t n) {
    if (n <= 16) {
        if (n >= 8) {
            uint64_t a, b;
            memcpy(&a, src, 8);
            memcpy(&b, src + n - 8, 8);
            memcpy(dst, &a, 8);
            memcpy(dst + n - 8, &b, 8);
        } else if (n >= 4) {
            uint32_t a, b;
            memcpy(&a, src, 4);
            memcpy(&b, src + n - 4, 4);
            memcpy(dst, &a, 4);
            memcpy(dst + n - 4, &b, 4);
        } else {
            size_t i;
            for (i = 0; i < n; i++) dst[i] = src[i];
        }
    } else if (n <= 32) {
        uint64_t a, b, c, d;
        memcpy(&a, src, 8);
        memcpy(&b, src + 8, 8);
        memcpy(&c, src + n - 16, 8);
        memcpy(&d, src + n - 8, 8);
        memcpy(dst, &a, 8);
        memcpy(dst + 8, &b, 8);
        memcpy(dst + n - 16, &c, 8);
        memcpy(dst + n - 8, &d, 8);
    } else {
        memcpy(dst, src, n);
    }
}

INLINE int bytes_equal(const uint8_t *a, const uint8_t *b, size_t n) {
    while (n >= 8) {
        uint64_t x, y;
        memcpy(&x, a, 8);
        memcpy(&y, b, 8);
        if (x != y) return 0;
        a += 8;
        b += 8;
        n -= 8;
    }
    if (n >= 4) {
        uint32_t x0, y0, x1, y1;
        memcpy(&x0, a, 4);
        memcpy(&y0, b, 4);
        memcpy(&x1, a + n - 4, 4);
        memcpy(&y1, b + n - 4, 4);
        return x0 == y0 && x1 == y1;
    }
    while (n--)
        if (*a++ != *b++) return 0;
    return 1;
}

/* ---------------------------------------------------------------- context */

typedef struct {
    nd_buf data;
    nd_buf offs;  /* int32 offsets, entries 0..filled valid */
    nd_buf valid; /* validity bitmap, zero-filled by the kernel */
    int64_t filled; /* rows whose offsets are final */
    int64_t nonnull;
    size_t hint_data, hint_offs, hint_valid; /* sizes the last chunk needed: first mapping size */
} nd_col;

typedef struct {
    /* keys: bytes in keystore at key_off[i], length key_len[i]; hash table of id + 1 */
    nd_buf keystore;
    uint32_t *key_off, *key_len, *key_hash, *pred;
    uint32_t nkeys, capkeys;
    uint32_t *table;
    uint32_t tmask;
    uint32_t first_pred;
    int frozen;
    /* column builders (build mode), capkeys entries */
    nd_col *cols;
    nd_buf scratch; /* decoded keys with escapes */
    /* result of the last scan */
    int64_t rows;
    int64_t lines;
    int64_t err_line;
    char err[256];
} nd_ctx;

typedef struct {
    void *data;
    size_t data_len, data_cap;
    void *offsets;
    size_t offsets_len, offsets_cap;
    void *validity;
    size_t validity_len, validity_cap;
    int64_t length;
    int64_t null_count;
} nd_column;

static uint32_t hash_bytes(const uint8_t *s, size_t n) {
    uint32_t h = 2166136261u;
    size_t i;
    for (i = 0; i < n; i++) h = (h ^ s[i]) * 16777619u;
    return h;
}

static int keys_grow(nd_ctx *c) {
    uint32_t cap = c->capkeys ? c->capkeys * 2 : 64;
    uint32_t *off = realloc(c->key_off, cap * sizeof(uint32_t));
    if (!off) return -1;
    c->key_off = off;
    off = realloc(c->key_len, cap * sizeof(uint32_t));
    if (!off) return -1;
    c->key_len = off;
    off = realloc(c->key_hash, cap * sizeof(uint32_t));
    if (!off) return -1;
    c->key_hash = off;
    off = realloc(c->pred, cap * sizeof(uint32_t));
    if (!off) return -1;
    c->pred = off;
    nd_col *cols = realloc(c->cols, cap * sizeof(nd_col));
    if (!cols) return -1;
    memset(cols + c->capkeys, 0, (cap - c->capkeys) * sizeof(nd_col));
    c->cols = cols;
    /* hash table at most half full */
    uint32_t tsize = cap * 2;
    uint32_t *table = calloc(tsize, sizeof(uint32_t));
    if (!table) return -1;
    uint32_t i;
    for (i = 0; i < c->nkeys; i++) {
        uint32_t s = c->key_hash[i] & (tsize - 1);
        while (table[s]) s = (s + 1) & (tsize - 1);
        table[s] = i + 1;
    }
    free(c->table);
    c->table = table;
    c->tmask = tsize - 1;
    c->capkeys = cap;
    return 0;
}

static uint32_t key_find(nd_ctx *c, const uint8_t *k, size_t n, uint32_t h) {
    uint32_t s = h & c->tmask;
    for (;;) {
        uint32_t id = c->table[s];
        if (id == 0) return ND_NONE;
        id--;
        if (c->key_hash[id] == h && c->key_len[id] == n && bytes_equal(c->keystore.p + c->key_off[id], k, n))
            return id;
        s = (s + 1) & c->tmask;
    }
}

/* Returns the id, or ND_NONE when out of memory. */
static uint32_t key_add(nd_ctx *c, const uint8_t *k, size_t n, uint32_t h) {
    if (c->nkeys == c->capkeys && keys_grow(c)) return ND_NONE;
    /* key_off is 32-bit: refuse (as out of memory) rather than wrap past 4 GiB of distinct key bytes. */
    if (n > ND_MAX_DATA || c->keystore.len + n + 1 > (size_t)UINT32_MAX) return ND_NONE;
    if (buf_reserve(&c->keystore, n + 1)) return ND_NONE;
    uint32_t id = c->nkeys++;
    if (n) memcpy(c->keystore.p + c->keystore.len, k, n);
    c->key_off[id] = (uint32_t)c->keystore.len;
    c->key_len[id] = (uint32_t)n;
    c->key_hash[id] = h;
    c->pred[id] = ND_NONE;
    c->keystore.len += n;
    uint32_t s = h & c->tmask;
    while (c->table[s]) s = (s + 1) & c->tmask;
    c->table[s] = id + 1;
    return id;
}

static void col_free(nd_col *col) {
    buf_free(&col->data);
    buf_free(&col->offs);
    buf_free(&col->valid);
    col->filled = col->nonnull = 0;
}

/* Empty a column for the next scan, keeping its mappings when a scan failed half way. */
static void col_reset(nd_col *col) {
    size_t used = (size_t)(col->filled + 7) / 8;
    if (col->valid.p) memset(col->valid.p, 0, used < col->valid.cap ? used : col->valid.cap);
    col->data.len = 0;
    col->filled = 0;
    col->nonnull = 0;
    if (col->offs.p) ((int32_t *)col->offs.p)[0] = 0;
}

/* ---------------------------------------------------------------- exported: lifecycle */

int nd_abi_version(void) { return ND_ABI_VERSION; }

nd_ctx *nd_new(void) {
    nd_ctx *c = calloc(1, sizeof(nd_ctx));
    if (!c) return NULL;
    if (keys_grow(c)) {
        free(c);
        return NULL;
    }
    c->first_pred = ND_NONE;
    return c;
}

void nd_delete(nd_ctx *c) {
    uint32_t i;
    if (!c) return;
    for (i = 0; i < c->capkeys; i++) col_free(&c->cols[i]);
    buf_free(&c->keystore);
    buf_free(&c->scratch);
    free(c->key_off);
    free(c->key_len);
    free(c->key_hash);
    free(c->pred);
    free(c->cols);
    free(c->table);
    free(c);
}

/* Adds a key (a column) and returns its index; -1 when it is already there, -2 out of memory. */
int64_t nd_add_key(nd_ctx *c, const char *key, size_t n) {
    uint32_t h = hash_bytes((const uint8_t *)key, n);
    if (key_find(c, (const uint8_t *)key, n, h) != ND_NONE) return -1;
    uint32_t id = key_add(c, (const uint8_t *)key, n, h);
    return id == ND_NONE ? -2 : (int64_t)id;
}

void nd_set_frozen(nd_ctx *c, int frozen) { c->frozen = frozen; }
uint32_t nd_key_count(const nd_ctx *c) { return c->nkeys; }

const char *nd_key(const nd_ctx *c, uint32_t i, size_t *len) {
    *len = c->key_len[i];
    return (const char *)c->keystore.p + c->key_off[i];
}

int64_t nd_rows(const nd_ctx *c) { return c->rows; }
int64_t nd_lines(const nd_ctx *c) { return c->lines; }
const char *nd_error(const nd_ctx *c, int64_t *line) {
    *line = c->err_line;
    return c->err;
}

void nd_release(void *p, size_t cap) {
    if (!p || !cap) return;
    pool_lock();
    if (g_pool_n < POOL_SLOTS && g_pool_bytes + cap <= g_pool_limit) {
        g_pool[g_pool_n].p = (uint8_t *)p;
        g_pool[g_pool_n].cap = cap;
        g_pool_n++;
        g_pool_bytes += cap;
        p = NULL;
    }
    pool_unlock();
    if (p) munmap(p, cap);
}

/* Unmaps every pooled mapping (the end of a conversion). */
void nd_pool_trim(void) {
    pool_lock();
    while (g_pool_n) {
        g_pool_n--;
        munmap(g_pool[g_pool_n].p, g_pool[g_pool_n].cap);
    }
    g_pool_bytes = 0;
    pool_unlock();
}

size_t nd_pool_bytes(void) { return g_pool_bytes; }

/* ---------------------------------------------------------------- character classes */

/* 1 for bytes that end or interrupt a plain string run: '"', '\\', controls, non-ASCII */
static const uint8_t STR_SPECIAL[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
};

INLINE int is_ws(uint8_t ch) { return ch == ' ' || ch == '\t' || ch == '\r'; }
INLINE int is_digit(uint8_t ch) { return (uint8_t)(ch - '0') < 10; }

static int hexval(uint8_t ch) {
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

static int hex4(const uint8_t *p, const uint8_t *end) {
    int v = 0, i;
    if (end - p < 4) return -1;
    for (i = 0; i < 4; i++) {
        int h = hexval(p[i]);
        if (h < 0) return -1;
        v = (v << 4) | h;
    }
    return v;
}

/* ---------------------------------------------------------------- scanning */

typedef struct {
    nd_ctx *c;
    const uint8_t *end;
    const uint8_t *line_start;
    int64_t line;
} nd_scan;

static void fail(nd_scan *s, const uint8_t *at, const char *what) {
    nd_ctx *c = s->c;
    c->err_line = s->line;
    if (at >= s->end || *at == '\n') {
        snprintf(c->err, sizeof c->err, "truncated record: the line ends inside the JSON object (%s)", what);
    } else {
        snprintf(c->err, sizeof c->err, "%s at byte %lld", what, (long long)(at - s->line_start + 1));
    }
}

/* Validates one UTF-8 sequence starting at p (p[0] >= 0x80); returns its length or 0. */
INLINE int utf8_seq(const uint8_t *p, const uint8_t *end) {
    uint8_t b0 = p[0];
    ptrdiff_t left = end - p;
    if (b0 < 0xC2) return 0;
    if (b0 < 0xE0) {
        return (left >= 2 && (p[1] & 0xC0) == 0x80) ? 2 : 0;
    }
    if (b0 < 0xF0) {
        uint8_t lo = b0 == 0xE0 ? 0xA0 : 0x80, hi = b0 == 0xED ? 0x9F : 0xBF;
        return (left >= 3 && p[1] >= lo && p[1] <= hi && (p[2] & 0xC0) == 0x80) ? 3 : 0;
    }
    if (b0 < 0xF5) {
        uint8_t lo = b0 == 0xF0 ? 0x90 : 0x80, hi = b0 == 0xF4 ? 0x8F : 0xBF;
        return (left >= 4 && p[1] >= lo && p[1] <= hi && (p[2] & 0xC0) == 0x80 && (p[3] & 0xC0) == 0x80) ? 4
                                                                                                         : 0;
    }
    return 0;
}

#if ND_SWAR
#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL
/* Non-zero when one of the 8 bytes is '"', '\\', < 0x20 or >= 0x80; the lowest flagged byte is exact. */
INLINE uint64_t special8(uint64_t w) {
    uint64_t q = w ^ (ONES * '"');
    uint64_t b = w ^ (ONES * '\\');
    return (((q - ONES) & ~q) | ((b - ONES) & ~b) | ((w - ONES * 0x20) & ~w) | w) & HIGHS;
}
#endif

/* p is just after the opening quote. Returns the closing quote, or NULL (error set). *esc is set to 1
   when the string holds an escape. Validates escapes (incl. surrogate pairs), controls and UTF-8. */
INLINE const uint8_t *scan_string(nd_scan *s, const uint8_t *p, int *esc) {
    const uint8_t *end = s->end;
#if ND_SSE2
    const __m128i quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\'), space = _mm_set1_epi8(0x20);
#endif
    for (;;) {
#if ND_SSE2
        /* 16 bytes at a time: '"', '\\', and (signed) < 0x20, which also catches bytes >= 0x80 */
        while (end - p >= 16) {
            __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
            __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)),
                                       _mm_cmplt_epi8(v, space));
            int mask = _mm_movemask_epi8(hit);
            if (mask) {
                p += __builtin_ctz((unsigned)mask);
                goto special;
            }
            p += 16;
        }
#endif
#if ND_SWAR
        while (end - p >= 8) {
            uint64_t w;
            memcpy(&w, p, 8);
            uint64_t m = special8(w);
            if (m) {
                p += __builtin_ctzll(m) >> 3;
                goto special;
            }
            p += 8;
        }
#endif
        while (p < end && !STR_SPECIAL[*p]) p++;
        if (p >= end) {
            fail(s, p, "unterminated string");
            return NULL;
        }
#if ND_SWAR
    special:
#endif
        {
            uint8_t ch = *p;
            if (ch == '"') return p;
            if (ch == '\\') {
                *esc = 1;
                if (p + 1 >= end) {
                    fail(s, p + 1, "unterminated string");
                    return NULL;
                }
                switch (p[1]) {
                case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
                    p += 2;
                    break;
                case 'u': {
                    int u = hex4(p + 2, end);
                    if (u < 0) {
                        fail(s, p, "invalid \\u escape (needs 4 hex digits)");
                        return NULL;
                    }
                    if (u >= 0xD800 && u <= 0xDBFF) {
                        int lo = (end - p >= 12 && p[6] == '\\' && p[7] == 'u') ? hex4(p + 8, end) : -1;
                        if (lo < 0xDC00 || lo > 0xDFFF) {
                            fail(s, p, "lone surrogate in \\u escape (not representable in UTF-8)");
                            return NULL;
                        }
                        p += 12;
                    } else if (u >= 0xDC00 && u <= 0xDFFF) {
                        fail(s, p, "lone surrogate in \\u escape (not representable in UTF-8)");
                        return NULL;
                    } else {
                        p += 6;
                    }
                    break;
                }
                default:
                    fail(s, p, p[1] == '\n' ? "unterminated string" : "invalid escape in string");
                    return NULL;
                }
            } else if (ch < 0x20) {
                fail(s, p, ch == '\n' ? "unterminated string" : "control character in string");
                return NULL;
            } else {
                int n = utf8_seq(p, end);
                if (!n) {
                    fail(s, p, "invalid UTF-8");
                    return NULL;
                }
                p += n;
            }
        }
    }
}

/* Decodes a validated string body [p, q) into dst; returns the end of the written bytes. */
static uint8_t *decode_string(const uint8_t *p, const uint8_t *q, uint8_t *dst) {
    while (p < q) {
        const uint8_t *bs = memchr(p, '\\', (size_t)(q - p));
        if (!bs) bs = q;
        memcpy(dst, p, (size_t)(bs - p));
        dst += bs - p;
        p = bs;
        if (p >= q) break;
        switch (p[1]) {
        case 'b': *dst++ = '\b'; p += 2; break;
        case 'f': *dst++ = '\f'; p += 2; break;
        case 'n': *dst++ = '\n'; p += 2; break;
        case 'r': *dst++ = '\r'; p += 2; break;
        case 't': *dst++ = '\t'; p += 2; break;
        case 'u': {
            uint32_t u = (uint32_t)hex4(p + 2, q);
            p += 6;
            if (u >= 0xD800 && u <= 0xDBFF) {
                uint32_t lo = (uint32_t)hex4(p + 2, q);
                u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
                p += 6;
            }
            if (u < 0x80) {
                *dst++ = (uint8_t)u;
            } else if (u < 0x800) {
                *dst++ = (uint8_t)(0xC0 | (u >> 6));
                *dst++ = (uint8_t)(0x80 | (u & 0x3F));
            } else if (u < 0x10000) {
                *dst++ = (uint8_t)(0xE0 | (u >> 12));
                *dst++ = (uint8_t)(0x80 | ((u >> 6) & 0x3F));
                *dst++ = (uint8_t)(0x80 | (u & 0x3F));
            } else {
                *dst++ = (uint8_t)(0xF0 | (u >> 18));
                *dst++ = (uint8_t)(0x80 | ((u >> 12) & 0x3F));
                *dst++ = (uint8_t)(0x80 | ((u >> 6) & 0x3F));
                *dst++ = (uint8_t)(0x80 | (u & 0x3F));
            }
            break;
        }
        default: /* '"', '\\', '/' stand for themselves */
            *dst++ = p[1];
            p += 2;
            break;
        }
    }
    return dst;
}

INLINE const uint8_t *skip_ws(const uint8_t *p, const uint8_t *end) {
    while (p < end && is_ws(*p)) p++;
    return p;
}

/* A number per RFC 8259: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
INLINE const uint8_t *scan_number(nd_scan *s, const uint8_t *p) {
    const uint8_t *end = s->end, *start = p;
    if (*p == '-') p++;
    if (p < end && *p == '0') {
        p++;
    } else if (p < end && *p >= '1' && *p <= '9') {
        p++;
        while (p < end && is_digit(*p)) p++;
    } else {
        goto bad;
    }
    if (p < end && *p == '.') {
        p++;
        if (p >= end || !is_digit(*p)) goto bad;
        while (p < end && is_digit(*p)) p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-')) p++;
        if (p >= end || !is_digit(*p)) goto bad;
        while (p < end && is_digit(*p)) p++;
    }
    /* "01", "1.2.3", "1x": the number must end at a delimiter */
    if (p < end && (is_digit(*p) || *p == '.' || *p == '+' || *p == '-' || *p == 'e' || *p == 'E' ||
                    (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
        goto bad;
    return p;
bad:
    fail(s, start, "invalid number");
    return NULL;
}

INLINE const uint8_t *scan_literal(nd_scan *s, const uint8_t *p, int *is_null) {
    const uint8_t *end = s->end;
    ptrdiff_t left = end - p;
    const uint8_t *q = NULL;
    *is_null = 0;
    if (*p == 't' && left >= 4 && memcmp(p, "true", 4) == 0) q = p + 4;
    else if (*p == 'f' && left >= 5 && memcmp(p, "false", 5) == 0) q = p + 5;
    else if (*p == 'n' && left >= 4 && memcmp(p, "null", 4) == 0) {
        q = p + 4;
        *is_null = 1;
    }
    if (!q || (q < end && ((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') || is_digit(*q)))) {
        fail(s, p, "invalid literal (expected true, false or null)");
        return NULL;
    }
    return q;
}

/* p at '{' or '['; validates the whole nested value and returns the byte after it, or NULL. */
static const uint8_t *scan_nested(nd_scan *s, const uint8_t *p) {
    const uint8_t *end = s->end;
    uint8_t stack[ND_MAX_DEPTH];
    int depth = 0, esc, is_null;

open:
    if (depth == ND_MAX_DEPTH) {
        fail(s, p, "nesting deeper than 512 levels");
        return NULL;
    }
    stack[depth++] = *p++;
    p = skip_ws(p, end);
    if (p < end && *p == (stack[depth - 1] == '{' ? '}' : ']')) {
        p++;
        depth--;
        goto closed;
    }
element:
    if (stack[depth - 1] == '{') {
        if (p >= end || *p != '"') {
            fail(s, p, "expected a string key");
            return NULL;
        }
        p = scan_string(s, p + 1, &esc);
        if (!p) return NULL;
        p = skip_ws(p + 1, end);
        if (p >= end || *p != ':') {
            fail(s, p, "expected ':'");
            return NULL;
        }
        p = skip_ws(p + 1, end);
    }
    if (p >= end) {
        fail(s, p, "expected a value");
        return NULL;
    }
    switch (*p) {
    case '"':
        p = scan_string(s, p + 1, &esc);
        if (!p) return NULL;
        p++;
        break;
    case '{':
    case '[':
        goto open;
    case 't': case 'f': case 'n':
        p = scan_literal(s, p, &is_null);
        if (!p) return NULL;
        break;
    case '-': case '0': case '1': case '2': case '3': case '4': case '5': case '6': case '7': case '8': case '9':
        p = scan_number(s, p);
        if (!p) return NULL;
        break;
    default:
        fail(s, p, *p == '+' || *p == '.' ? "invalid number" : "expected a value");
        return NULL;
    }
closed:
    if (depth == 0) return p;
    p = skip_ws(p, end);
    if (p < end && *p == ',') {
        p = skip_ws(p + 1, end);
        goto element;
    }
    if (p < end && *p == (stack[depth - 1] == '{' ? '}' : ']')) {
        p++;
        depth--;
        goto closed;
    }
    fail(s, p, stack[depth - 1] == '{' ? "expected ',' or '}'" : "expected ',' or ']'");
    return NULL;
}

/* ---------------------------------------------------------------- column building */

/* Positions column `col` at `row`: pads skipped rows with nulls, or undoes this row's earlier value
   (a duplicate key: the last one wins). Reserves `need` data bytes. */
INLINE int col_begin(nd_col *col, int64_t row, size_t need) {
    size_t offs_need = (size_t)(row + 2) * sizeof(int32_t);
    if (UNLIKELY(offs_need > col->offs.cap)) {
        int fresh = col->offs.p == NULL;
        if (buf_grow(&col->offs, offs_need, col->hint_offs, 0)) return -1;
        if (fresh) ((int32_t *)col->offs.p)[0] = 0;
    }
    if (UNLIKELY((size_t)(row >> 3) + 1 > col->valid.cap) &&
        buf_grow(&col->valid, (size_t)(row >> 3) + 1, col->hint_valid, 1))
        return -1;
    int32_t *offs = (int32_t *)col->offs.p;
    if (UNLIKELY(col->filled > row)) {
        col->data.len = (size_t)offs[row];
        if (col->valid.p[row >> 3] & (1u << (row & 7))) {
            col->valid.p[row >> 3] &= (uint8_t) ~(1u << (row & 7));
            col->nonnull--;
        }
        col->filled = row;
    } else {
        int32_t len = (int32_t)col->data.len;
        while (col->filled < row) offs[++col->filled] = len;
    }
    if (UNLIKELY(col->data.len + need > ND_MAX_DATA)) return -2;
    if (LIKELY(col->data.len + need <= col->data.cap)) return 0;
    return buf_grow(&col->data, col->data.len + need, col->hint_data, 0);
}

INLINE void col_end(nd_col *col, int64_t row, int is_null) {
    ((int32_t *)col->offs.p)[row + 1] = (int32_t)col->data.len;
    col->filled = row + 1;
    if (!is_null) {
        col->valid.p[row >> 3] |= (uint8_t)(1u << (row & 7));
        col->nonnull++;
    }
}

/* ---------------------------------------------------------------- the line loop */

INLINE uint32_t lookup_key(nd_scan *s, const uint8_t *k, size_t n, uint32_t prev, const uint8_t *at) {
    nd_ctx *c = s->c;
    uint32_t cand = prev == ND_NONE ? c->first_pred : c->pred[prev];
    uint32_t id;
    if (LIKELY(cand != ND_NONE && c->key_len[cand] == n && bytes_equal(c->keystore.p + c->key_off[cand], k, n))) {
        return cand;
    }
    uint32_t h = hash_bytes(k, n);
    id = key_find(c, k, n, h);
    if (id == ND_NONE) {
        if (c->frozen) {
            char key[96];
            size_t show = n < 64 ? n : 64;
            memcpy(key, k, show);
            key[show] = 0;
            c->err_line = s->line;
            snprintf(c->err, sizeof c->err, "key \"%s%s\" is not one of the columns (byte %lld)", key,
                     n > show ? "..." : "", (long long)(at - s->line_start + 1));
            return ND_NONE;
        }
        id = key_add(c, k, n, h);
        if (id == ND_NONE) {
            c->err_line = s->line;
            snprintf(c->err, sizeof c->err, "out of memory");
            return ND_OOM;
        }
    }
    if (prev == ND_NONE) c->first_pred = id;
    else c->pred[prev] = id;
    return id;
}

/* build = 0: validate and collect keys; build = 1: also fill the columns. 0 ok, 1 malformed, -1 oom. */
INLINE int scan_impl(nd_ctx *c, const uint8_t *buf, size_t len, int64_t first_line, const int build) {
    nd_scan sc;
    nd_scan *s = &sc;
    const uint8_t *p = buf, *end = buf + len;
    int64_t row = 0;
    int esc, is_null, rc;
    uint32_t i;

    s->c = c;
    s->end = end;
    s->line = first_line;
    s->line_start = p;
    c->err[0] = 0;
    c->err_line = 0;
    c->rows = 0;
    c->lines = 0;
    if (build)
        for (i = 0; i < c->nkeys; i++) col_reset(&c->cols[i]);

    while (p < end) {
        s->line_start = p;
        p = skip_ws(p, end);
        if (p >= end) break;
        if (*p == '\n') {
            p++;
            s->line++;
            continue;
        }
        if (*p != '{') {
            fail(s, p, "not a JSON object: each line must be one object");
            return 1;
        }
        p = skip_ws(p + 1, end);
        if (p < end && *p == '}') {
            p++;
        } else {
            uint32_t prev = ND_NONE;
            for (;;) {
                const uint8_t *kstart, *kend, *v;
                uint32_t col;
                if (p >= end || *p != '"') {
                    fail(s, p, "expected a string key");
                    return 1;
                }
                kstart = p + 1;
                esc = 0;
                kend = scan_string(s, kstart, &esc);
                if (!kend) return 1;
                if (UNLIKELY(esc)) {
                    size_t raw = (size_t)(kend - kstart);
                    c->scratch.len = 0;
                    if (buf_reserve(&c->scratch, raw + 1)) goto oom;
                    uint8_t *dend = decode_string(kstart, kend, c->scratch.p);
                    col = lookup_key(s, c->scratch.p, (size_t)(dend - c->scratch.p), prev, kstart - 1);
                } else {
                    col = lookup_key(s, kstart, (size_t)(kend - kstart), prev, kstart - 1);
                }
                if (UNLIKELY(col >= ND_OOM)) return col == ND_OOM ? -1 : 1;
                prev = col;
                p = skip_ws(kend + 1, end);
                if (p >= end || *p != ':') {
                    fail(s, p, "expected ':' after the key");
                    return 1;
                }
                p = skip_ws(p + 1, end);
                if (p >= end) {
                    fail(s, p, "expected a value");
                    return 1;
                }
                v = p;
                is_null = 0;
                switch (*p) {
                case '"':
                    esc = 0;
                    p = scan_string(s, v + 1, &esc);
                    if (!p) return 1;
                    if (build) {
                        nd_col *cl = &c->cols[col];
                        size_t n = (size_t)(p - v - 1);
                        if ((rc = col_begin(cl, row, n))) goto build_error;
                        if (LIKELY(!esc)) {
                            copy_bytes(cl->data.p + cl->data.len, v + 1, n);
                            cl->data.len += n;
                        } else {
                            uint8_t *dst = cl->data.p + cl->data.len;
                            cl->data.len += (size_t)(decode_string(v + 1, p, dst) - dst);
                        }
                        col_end(cl, row, 0);
                    }
                    p++;
                    goto next_member;
                case '{':
                case '[':
                    p = scan_nested(s, p);
                    break;
                case 't': case 'f': case 'n':
                    p = scan_literal(s, p, &is_null);
                    break;
                case '-': case '0': case '1': case '2': case '3': case '4':
                case '5': case '6': case '7': case '8': case '9':
                    p = scan_number(s, p);
                    break;
                default:
                    fail(s, p, *p == '+' || *p == '.' ? "invalid number" : "expected a value");
                    return 1;
                }
                if (!p) return 1;
                if (build) {
                    nd_col *cl = &c->cols[col];
                    size_t n = is_null ? 0 : (size_t)(p - v);
                    if ((rc = col_begin(cl, row, n))) goto build_error;
                    if (n) {
                        copy_bytes(cl->data.p + cl->data.len, v, n);
                        cl->data.len += n;
                    }
                    col_end(cl, row, is_null);
                }
            next_member:
                p = skip_ws(p, end);
                if (p < end && *p == ',') {
                    p = skip_ws(p + 1, end);
                    continue;
                }
                if (p < end && *p == '}') {
                    p++;
                    break;
                }
                fail(s, p, "expected ',' or '}'");
                return 1;
            }
        }
        p = skip_ws(p, end);
        if (p < end && *p != '\n') {
            fail(s, p, "trailing characters after the JSON object");
            return 1;
        }
        row++;
        c->rows = row;
        if (p < end) {
            p++;
            s->line++;
        }
    }
    c->lines = s->line - first_line;
    return 0;

build_error:
    if (rc == -2) {
        c->err_line = s->line;
        snprintf(c->err, sizeof c->err, "a column holds more than 2 GiB in one chunk: use a smaller chunk size");
        return 1;
    }
oom:
    c->err_line = s->line;
    snprintf(c->err, sizeof c->err, "out of memory");
    return -1;
}

/* ---------------------------------------------------------------- structural key scan */

/* convert_files only needs the key union before pass 2, and pass 2 validates every line anyway, so
   its first pass reads keys strictly but skips values structurally (no UTF-8, escape or number
   checks). On valid input it finds exactly the keys nd_scan_keys finds; on a broken line it may
   find anything, but never reads outside [buf, buf + len) and never crosses a newline. */

/* 1 for the bytes that end a number or literal: ',', '}', ']', newline and whitespace */
static const uint8_t VALUE_END[256] = {
    ['\t'] = 1, ['\n'] = 1, ['\r'] = 1, [' '] = 1, [','] = 1, [']'] = 1, ['}'] = 1,
};

/* p after an opening quote: the closing quote, or NULL when the line ends first. */
INLINE const uint8_t *skip_string_fast(const uint8_t *p, const uint8_t *end) {
#if ND_SSE2
    const __m128i quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\'), newline = _mm_set1_epi8('\n');
#endif
    for (;;) {
#if ND_SSE2
        while (end - p >= 16) {
            __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
            int mask = _mm_movemask_epi8(_mm_or_si128(
                _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)), _mm_cmpeq_epi8(v, newline)));
            if (mask) {
                p += __builtin_ctz((unsigned)mask);
                goto hit;
            }
            p += 16;
        }
#endif
        while (p < end && *p != '"' && *p != '\\' && *p != '\n') p++;
        if (p >= end) return NULL;
#if ND_SSE2
    hit:
#endif
        if (*p == '"') return p;
        if (*p == '\n' || end - p < 2 || p[1] == '\n') return NULL;
        p += 2; /* a backslash and the byte it escapes */
    }
}

/* p at a value: the byte after it, or NULL when the line ends first. */
static const uint8_t *skip_value_fast(const uint8_t *p, const uint8_t *end) {
    int depth = 0;
    if (*p == '"') {
        p = skip_string_fast(p + 1, end);
        return p ? p + 1 : NULL;
    }
    if (*p != '{' && *p != '[') {
        while (p < end && !VALUE_END[*p]) p++;
        return p;
    }
    while (p < end) {
        switch (*p) {
        case '"':
            p = skip_string_fast(p + 1, end);
            if (!p) return NULL;
            break;
        case '{':
        case '[':
            depth++;
            break;
        case '}':
        case ']':
            if (--depth == 0) return p + 1;
            break;
        case '\n':
            return NULL;
        default:
            break;
        }
        p++;
    }
    return NULL;
}

/* Adds unseen top-level keys in order of first appearance, skipping values without validating them. */
int nd_scan_keys_fast(nd_ctx *c, const uint8_t *buf, size_t len, int64_t first_line) {
    nd_scan sc;
    nd_scan *s = &sc;
    const uint8_t *p = buf, *end = buf + len;
    s->c = c;
    s->end = end;
    s->line = first_line;
    c->rows = 0;
    while (p < end) {
        const uint8_t *resume = p;
        uint32_t prev = ND_NONE;
        s->line_start = p;
        p = skip_ws(p, end);
        if (p < end && *p == '{') {
            p = skip_ws(p + 1, end);
            while (p < end && *p == '"') {
                const uint8_t *kstart = p + 1, *kend;
                int esc = 0;
                uint32_t col;
                resume = p;
                kend = scan_string(s, kstart, &esc);
                if (!kend) break;
                if (UNLIKELY(esc)) {
                    c->scratch.len = 0;
                    if (buf_reserve(&c->scratch, (size_t)(kend - kstart) + 1)) return -1;
                    uint8_t *dend = decode_string(kstart, kend, c->scratch.p);
                    col = lookup_key(s, c->scratch.p, (size_t)(dend - c->scratch.p), prev, p);
                } else {
                    col = lookup_key(s, kstart, (size_t)(kend - kstart), prev, p);
                }
                if (col == ND_OOM) return -1;
                prev = col;
                p = skip_ws(kend + 1, end);
                if (p >= end || *p != ':') break;
                p = skip_ws(p + 1, end);
                if (p >= end) break;
                resume = p;
                p = skip_value_fast(p, end);
                if (!p) break;
                p = skip_ws(p, end);
                if (p >= end || *p != ',') break;
                p = skip_ws(p + 1, end);
            }
            if (!p) p = resume;
        }
        p = memchr(p, '\n', (size_t)(end - p));
        if (!p) break;
        p++;
        s->line++;
    }
    c->err[0] = 0;
    c->lines = s->line - first_line;
    return 0;
}

/* Validates buf (whole lines) and adds unseen top-level keys in order of first appearance. */
int nd_scan_keys(nd_ctx *c, const uint8_t *buf, size_t len, int64_t first_line) {
    return scan_impl(c, buf, len, first_line, 0);
}

/* Validates buf and fills one column per key; then nd_take_column for each key. */
int nd_scan_batch(nd_ctx *c, const uint8_t *buf, size_t len, int64_t first_line) {
    return scan_impl(c, buf, len, first_line, 1);
}

/* Hands column i of the last nd_scan_batch to the caller (free each mapping with nd_release). */
int nd_take_column(nd_ctx *c, uint32_t i, nd_column *out) {
    nd_col *col;
    int64_t rows = c->rows;
    if (i >= c->nkeys) return -1;
    col = &c->cols[i];
    if (col->data.p == NULL && buf_grow(&col->data, 1, 0, 0)) return -1;
    if ((size_t)(rows + 1) * sizeof(int32_t) > col->offs.cap) {
        int fresh = col->offs.p == NULL;
        if (buf_grow(&col->offs, (size_t)(rows + 1) * sizeof(int32_t), col->hint_offs, 0)) return -1;
        if (fresh) ((int32_t *)col->offs.p)[0] = 0;
    }
    if ((size_t)(rows >> 3) + 1 > col->valid.cap && buf_grow(&col->valid, (size_t)(rows >> 3) + 1, 0, 1))
        return -1;
    int32_t *offs = (int32_t *)col->offs.p;
    int32_t len = (int32_t)col->data.len;
    while (col->filled < rows) offs[++col->filled] = len;
    out->data = col->data.p;
    out->data_len = col->data.len;
    out->data_cap = col->data.cap;
    out->offsets = col->offs.p;
    out->offsets_len = (size_t)(rows + 1) * sizeof(int32_t);
    out->offsets_cap = col->offs.cap;
    out->validity = col->valid.p;
    out->validity_len = (size_t)(rows + 7) / 8;
    out->validity_cap = col->valid.cap;
    out->length = rows;
    out->null_count = rows - col->nonnull;
    /* the next chunk's first mappings: about what this one needed */
    col->hint_data = col->data.len + col->data.len / 8;
    col->hint_offs = out->offsets_len + out->offsets_len / 8;
    col->hint_valid = out->validity_len + out->validity_len / 8;
    col->data.p = col->offs.p = col->valid.p = NULL;
    col->data.len = col->data.cap = col->offs.len = col->offs.cap = col->valid.len = col->valid.cap = 0;
    col->filled = col->nonnull = 0;
    return 0;
}
