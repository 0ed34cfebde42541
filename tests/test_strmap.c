/*
 * test_strmap.c — the string hash table (core/strmap): put/add/get/remove checked against a
 * brute-force reference over random operations (keys with NUL bytes, the empty key, long
 * keys, enough keys to grow the table many times, removals that shift probe runs), and the
 * hash's stability.
 */
#include "testutil.h"
#include "core/error.h"
#include "core/strmap.h"

#include <stdlib.h>
#include <string.h>

#define N_KEYS 700

typedef struct ref_entry {
    char key[40];
    size_t len;
    bool present;
    int64_t value;
} ref_entry;

static uint64_t rng = 42;
static uint64_t next(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void check_all(const rt_strmap *m, const ref_entry *ref) {
    size_t present = 0;
    for (int i = 0; i < N_KEYS; i++) {
        int64_t v = -1;
        bool got = rt_strmap_get(m, ref[i].key, ref[i].len, &v);
        assert_int_equal(got, ref[i].present);
        if (got) assert_int_equal(v, ref[i].value);
        present += ref[i].present;
    }
    assert_int_equal(m->count, present);
    assert_true(m->count * 2 <= m->mask + 1); /* load at most 1/2 */
}

static void test_random_ops(void **s) {
    (void)s;
    ref_entry *ref = calloc(N_KEYS, sizeof *ref);
    assert_non_null(ref);
    for (int i = 0; i < N_KEYS; i++) {
        /* key i: "k<i>" with a NUL inside for every third, longer ones for every fifth, the
         * empty key for 0 */
        int n = snprintf(ref[i].key, sizeof ref[i].key, "k%d", i);
        if (i % 3 == 0) n += 1 + snprintf(ref[i].key + n + 1, sizeof ref[i].key - (size_t)n - 1, "z");
        if (i % 5 == 0) {
            memset(ref[i].key + n, 'x', 20);
            n += 20;
        }
        ref[i].len = i == 0 ? 0 : (size_t)n;
    }
    rt_strmap m = {0};
    assert_false(rt_strmap_get(&m, "a", 1, NULL)); /* empty map */
    assert_false(rt_strmap_remove(&m, "a", 1));
    for (int op = 0; op < 20000; op++) {
        int i = (int)(next() % N_KEYS);
        int64_t v = (int64_t)(next() % 1000000) - 500000;
        switch (next() % 4) {
        case 0: /* put: insert or replace */
            assert_int_equal(rt_strmap_put(&m, ref[i].key, ref[i].len, v), RT_OK);
            ref[i].present = true;
            ref[i].value = v;
            break;
        case 1: { /* add: only when absent */
            int64_t got;
            int r = rt_strmap_add(&m, ref[i].key, ref[i].len, v, &got);
            assert_int_equal(r, ref[i].present ? 0 : 1);
            if (!ref[i].present) ref[i].value = v;
            ref[i].present = true;
            assert_int_equal(got, ref[i].value);
            break;
        }
        case 2: /* remove */
            assert_int_equal(rt_strmap_remove(&m, ref[i].key, ref[i].len), ref[i].present);
            ref[i].present = false;
            break;
        default: {
            int64_t got;
            assert_int_equal(rt_strmap_get(&m, ref[i].key, ref[i].len, &got), ref[i].present);
            if (ref[i].present) assert_int_equal(got, ref[i].value);
        }
        }
        if (op % 1000 == 0) check_all(&m, ref);
    }
    check_all(&m, ref);
    /* every key in, then every key out: the table ends empty and finds nothing */
    for (int i = 0; i < N_KEYS; i++) {
        assert_int_equal(rt_strmap_put(&m, ref[i].key, ref[i].len, i), RT_OK);
        ref[i].present = true;
        ref[i].value = i;
    }
    check_all(&m, ref);
    size_t walked = 0;
    for (size_t j = 0; j <= m.mask; j++)
        if (m.slots[j].key_off != RT_STRMAP_EMPTY) {
            const rt_strmap_slot *sl = &m.slots[j];
            assert_memory_equal(rt_strmap_slot_key(&m, sl), ref[sl->value].key, sl->key_len);
            walked++;
        }
    assert_int_equal(walked, N_KEYS);
    for (int i = N_KEYS - 1; i >= 0; i -= 2) {
        assert_true(rt_strmap_remove(&m, ref[i].key, ref[i].len));
        ref[i].present = false;
    }
    check_all(&m, ref);
    for (int i = 0; i < N_KEYS; i++)
        rt_strmap_remove(&m, ref[i].key, ref[i].len);
    assert_int_equal(m.count, 0);
    assert_false(rt_strmap_get(&m, "k1", 2, NULL));
    /* keys differing only after a NUL are different keys */
    assert_int_equal(rt_strmap_put(&m, "a\0b", 3, 1), RT_OK);
    assert_int_equal(rt_strmap_put(&m, "a\0c", 3, 2), RT_OK);
    assert_false(rt_strmap_get(&m, "a", 1, NULL));
    int64_t v;
    assert_true(rt_strmap_get(&m, "a\0c", 3, &v));
    assert_int_equal(v, 2);
    rt_strmap_free(&m);
    free(ref);
}

/* The hash is stable (token caches and tables built with it must not depend on the run). */
static void test_hash_stable(void **s) {
    (void)s;
    assert_int_equal(rt_hash_bytes("", 0), rt_hash_bytes("", 0));
    assert_true(rt_hash_bytes("abc", 3) != rt_hash_bytes("abd", 3));
    assert_true(rt_hash_bytes("abcdefgh1", 9) != rt_hash_bytes("abcdefgh2", 9));
    assert_true(rt_hash_bytes("a", 1) != rt_hash_bytes("a\0", 2));
    char buf[32] = "0123456789abcdefghij";
    assert_int_equal(rt_hash_bytes(buf, 20), rt_hash_bytes("0123456789abcdefghij", 20));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_ops),
        cmocka_unit_test(test_hash_stable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
