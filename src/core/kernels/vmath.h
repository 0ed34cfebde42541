/*
 * vmath.h — math for kernels written in plain C and compiled once per ISA level (train/tkern,
 * model/opkern): functions the compiler can vectorize, where libm's calls would not be.
 * static inline, so each level's file compiles them with its own ISA flags.
 */
#ifndef RT_CORE_KERNELS_VMATH_H
#define RT_CORE_KERNELS_VMATH_H

#include <stdint.h>
#include <string.h>

/* Cephes expf, branch-free so that it vectorizes: range reduction by ln 2, degree-6 polynomial,
 * within 2 ulp of expf on [-87.3, 88.3], 0 below, exp(88.38) above; NaN stays NaN. */
static inline float rt_expf_poly(float x) {
    /* NaN goes through the polynomial as 0 (converting NaN to an integer is undefined) and
     * comes out as NaN again at the end. */
    float z = x == x ? x : 0.0f;
    z = z > 88.3762626647949f ? 88.3762626647949f : z;
    z = z < -87.3365447505531f ? -87.3365447505531f : z;
    /* n = round(z / ln 2) by the 1.5 * 2^23 trick (floorf would not vectorize) */
    float n = (z * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    float r = z - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float p = 1.9875691500E-4f;
    p = p * r + 1.3981999507E-3f;
    p = p * r + 8.3334519073E-3f;
    p = p * r + 4.1665795894E-2f;
    p = p * r + 1.6666665459E-1f;
    p = p * r + 5.0000001201E-1f;
    p = p * r * r + r + 1.0f;
    uint32_t bits = (uint32_t)((int32_t)n + 127) << 23; /* n in [-126, 127] after clamping */
    float two_n;
    memcpy(&two_n, &bits, sizeof two_n);
    float y = x < -87.3365447505531f ? 0.0f : p * two_n;
    return x == x ? y : x;
}

#endif
