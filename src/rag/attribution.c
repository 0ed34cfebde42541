/*
 * attribution.c — moving unsupported citations to the supporting source (rule in attribution.h).
 */
#include "rag/attribution.h"

#include "core/error.h"
#include "core/strbuf.h"
#include "rag/citations.h"
#include "rag/sentences.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Support of sentence s[0, len) by each source alone into sup; *best is the argmax (lowest on
 * ties). */
static int support_per_source(rt_grounder *g, const char *s, size_t len, const rt_evidence *sources,
                              size_t n, float *sup, size_t *best) {
    char *text = rt_citations_strip(s, len);
    if (!text) return RT_ERR_NOMEM;
    rt_evidence claim;
    int rc = rt_evidence_build(g, text, strlen(text), true, &claim);
    free(text);
    if (rc != RT_OK) return rc;
    *best = 0;
    for (size_t j = 0; j < n; j++) {
        const rt_evidence *one = &sources[j];
        sup[j] = rt_grounder_support(g, &claim, &one, 1);
        if (sup[j] > sup[*best]) *best = j;
    }
    rt_evidence_clear(&claim);
    return RT_OK;
}

/* The numbers of marker text m[0, len) ("[1, 2]"), at most max of them. */
static int marker_numbers(const char *m, size_t len, int *nums, int max) {
    int n = 0;
    for (size_t j = 1; j < len && n < max;) {
        if (m[j] < '0' || m[j] > '9') {
            j++;
            continue;
        }
        int x = 0;
        while (j < len && m[j] >= '0' && m[j] <= '9')
            x = x * 10 + (m[j++] - '0');
        nums[n++] = x;
    }
    return n;
}

/* Rewrites the markers of sentence s[0, len) (which starts at answer + *copied or later) into b,
 * copying the text before each changed marker; records the changes. A changed marker drops the
 * numbers an earlier marker of the sentence already cites ("[1][5]" -> "[2]", not "[2][2]"),
 * and goes away (with the space before it) when none is left. */
static int rewrite_sentence(const char *answer, size_t *copied, const char *s, size_t len,
                            const float *sup, size_t n_sources, size_t best, float threshold,
                            rt_strbuf *b, rt_ask_recitation **moved, size_t *n_moved, size_t *cap) {
    int seen[64], n_seen = 0;
    for (size_t k = 0; k < len;) {
        size_t m = s[k] == '[' ? rt_marker_len(s + k, len - k) : 0;
        if (!m) {
            k++;
            continue;
        }
        int nums[16], out[16], n_out = 0;
        int n = marker_numbers(s + k, m, nums, 16);
        bool changed = false;
        for (int i = 0; i < n; i++) {
            int x = nums[i];
            bool valid = x >= 1 && (size_t)x <= n_sources;
            int y = valid && sup[x - 1] >= threshold ? x : (int)best + 1;
            if (y != x) {
                RT_TRY(RT_GROW(*moved, *cap, *n_moved + 1));
                (*moved)[(*n_moved)++] =
                    (rt_ask_recitation){x, y, valid ? sup[x - 1] : 0.0f, sup[best]};
                changed = true;
            }
            bool dup = false;
            for (int j = 0; j < n_out; j++)
                dup |= out[j] == y;
            if (dup)
                changed = true;
            else
                out[n_out++] = y;
        }
        if (changed) {
            /* numbers an earlier marker of this sentence cites already */
            int kept = 0;
            for (int i = 0; i < n_out; i++) {
                bool dup = false;
                for (int j = 0; j < n_seen; j++)
                    dup |= seen[j] == out[i];
                if (!dup) out[kept++] = out[i];
            }
            n_out = kept;
            size_t at = (size_t)(s + k - answer);
            RT_TRY(rt_strbuf_append(b, answer + *copied, at - *copied));
            if (!n_out && b->len && b->data[b->len - 1] == ' ') b->data[--b->len] = '\0';
            if (n_out) RT_TRY(rt_strbuf_puts(b, "["));
            for (int j = 0; j < n_out; j++)
                RT_TRY(rt_strbuf_printf(b, j ? ", %d" : "%d", out[j]));
            if (n_out) RT_TRY(rt_strbuf_puts(b, "]"));
            *copied = at + m;
        }
        for (int i = 0; i < n_out && n_seen < 64; i++)
            seen[n_seen++] = out[i];
        k += m;
    }
    return RT_OK;
}

int rt_citations_attribute(rt_grounder *g, const char *answer, size_t len,
                           const rt_evidence *sources, size_t n_sources, float threshold,
                           char **out, rt_ask_recitation **moved, size_t *n_moved) {
    *out = NULL;
    *moved = NULL;
    *n_moved = 0;
    rt_span *sp = NULL;
    size_t n_sp = 0, cap = 0, copied = 0;
    RT_TRY(rt_sentences_split(answer, len, &sp, &n_sp));
    rt_strbuf b = {0};
    float *sup = n_sources ? rt_calloc(n_sources, sizeof *sup) : NULL;
    int rc = n_sources && !sup ? RT_ERR_NOMEM : rt_strbuf_reserve(&b, len + 1);
    for (size_t i = 0; rc == RT_OK && n_sources && i < n_sp; i++) {
        const char *s = answer + sp[i].start;
        size_t sl = sp[i].end - sp[i].start;
        bool has_marker = false;
        for (size_t k = 0; k < sl && !has_marker; k++)
            has_marker = s[k] == '[' && rt_marker_len(s + k, sl - k);
        if (!has_marker) continue;
        size_t best;
        rc = support_per_source(g, s, sl, sources, n_sources, sup, &best);
        if (rc == RT_OK && sup[best] >= threshold)
            rc = rewrite_sentence(answer, &copied, s, sl, sup, n_sources, best, threshold, &b,
                                  moved, n_moved, &cap);
    }
    if (rc == RT_OK) rc = rt_strbuf_append(&b, answer + copied, len - copied);
    if (rc == RT_OK) {
        *out = rt_strbuf_take(&b);
        if (!*out) rc = RT_ERR_NOMEM;
    }
    free(sup);
    free(sp);
    if (rc != RT_OK) {
        rt_strbuf_free(&b);
        free(*moved);
        *moved = NULL;
        *n_moved = 0;
    }
    return rc;
}
