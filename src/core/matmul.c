/*
 * matmul.c — out = x W^T for any weight dtype. This is the portable reference path: f32 goes to
 * sgemm, other dtypes dequantize one weight row at a time and take plain dot products.
 */
#include "core/matmul.h"
#include "core/quant.h"
#include "core/error.h"

#include <cblas.h>
#include <stdlib.h>

void rt_matmul(float *out, const float *x, const rt_tensor *w, const float *bias, int n_tokens) {
    int n_out = (int)w->shape[0], n_in = (int)w->shape[w->n_dims - 1];
    if (w->dtype == RT_DTYPE_F32) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n_tokens, n_out, n_in, 1.0f, x,
                    n_in, (const float *)w->data, n_in, 0.0f, out, n_out);
    } else {
        size_t row_bytes = rt_tensor_row_bytes(w);
#pragma omp parallel
        {
            float *row = malloc((size_t)n_in * sizeof(float));
            RT_ASSERT(row);
#pragma omp for schedule(static)
            for (int o = 0; o < n_out; o++) {
                rt_dequantize_row(w->dtype, (const char *)w->data + (size_t)o * row_bytes, row,
                                  n_in);
                for (int t = 0; t < n_tokens; t++) {
                    const float *xt = x + (size_t)t * n_in;
                    float s = 0.0f;
                    for (int i = 0; i < n_in; i++) s += row[i] * xt[i];
                    out[(size_t)t * n_out + o] = s;
                }
            }
            free(row);
        }
    }
    if (bias)
        for (int t = 0; t < n_tokens; t++)
            for (int o = 0; o < n_out; o++) out[(size_t)t * n_out + o] += bias[o];
}
