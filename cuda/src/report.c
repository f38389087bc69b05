/* report.c — the result JSON (docs/CONTRACTS.md): gene calls with abundance, mutation calls,
 * catalogued sites reached, drug classes. Numbers are printed so that they round-trip exactly. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "run.h"


typedef struct gene_call_t { uint32_t t, reads; double identity, coverage, depth, rpkm, tpm; } gene_call_t;

typedef struct classes_t { char **v; size_t n; } classes_t;

static void add_classes(classes_t *c, const char *list) {
  char *copy = strdup(list), *save = NULL;
  if (!copy) return;
  for (char *s = strtok_r(copy, ",", &save); s; s = strtok_r(NULL, ",", &save)) {
    while (*s == ' ') s++;
    if (!*s) continue;
    int seen = 0;
    for (size_t i = 0; i < c->n && !seen; i++) seen = strcmp(c->v[i], s) == 0;
    if (seen) continue;
    char **nv = realloc(c->v, (c->n + 1) * sizeof *nv);
    if (!nv) break;
    c->v = nv;
    c->v[c->n++] = strdup(s);
  }
  free(copy);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static const char *bg_mut_type_name(uint32_t type) {
  return type == BG_MUT_AA ? "AA" : type == BG_MUT_NUC ? "NUC" : type == BG_MUT_DEL ? "DEL" : type == BG_MUT_AA_INS ? "AA_INS" : "INS";
}

/* Mutation label: S83L, n.2058A>G, n.-13_-12insGT, n.-57delA, n.78_80delGTT, E131_F132insSG (tseq: the gene's
 * sequence, for the residues around an amino-acid insertion). */
static void mutation_label(char *out, size_t n, const bg_site_t *s, const char *tseq, const char *ref, const char *alt) {
  if (s->type == BG_MUT_AA) snprintf(out, n, "%s%d%s", ref, s->pos, alt);
  else if (s->type == BG_MUT_AA_INS) /* the load checked that a whole codon follows tidx */
    snprintf(out, n, "%c%d_%c%dins%s", bg_translate(tseq + s->tidx - 2), s->pos, bg_translate(tseq + s->tidx + 1), s->pos + 1, alt);
  else if (s->type == BG_MUT_NUC) snprintf(out, n, "n.%d%s>%s", s->pos, ref, alt);
  else if (s->type == BG_MUT_DEL) {
    int last = s->pos + (int)strlen(alt) - 1; /* promoter positions have no 0: -2, -1, 1 */
    if (s->pos < 0 && last >= 0) last++;
    if (last == s->pos) snprintf(out, n, "n.%ddel%s", s->pos, alt);
    else snprintf(out, n, "n.%d_%ddel%s", s->pos, last, alt);
  } else snprintf(out, n, "n.%d_%dins%s", s->pos, s->pos == -1 ? 1 : s->pos + 1, alt);
}

bg_status_t bg_report(bg_run_t *r, const bg_gene_stat_t *gs, const bg_site_obs_t *obs, const uint8_t *target_hit, double t0) {
  const bg_db_t *db = r->db;
  const bg_run_options_t *o = &r->opts;
  gene_call_t *calls = calloc(db->n_targets ? db->n_targets : 1, sizeof *calls);
  if (!calls) return bg_fail(r->err, sizeof r->err, BG_ERR_HOST_OOM, "Out of memory reporting");
  uint8_t *called = calloc(db->n_targets ? db->n_targets : 1, 1);
  if (!called) { free(calls); return bg_fail(r->err, sizeof r->err, BG_ERR_HOST_OOM, "Out of memory reporting"); }
  size_t nc = 0;
  for (uint32_t t = 0; t < db->n_targets; t++) {
    const bg_gene_stat_t *g = &gs[t];
    if (!g->candidate) continue; /* thresholds, shadows and mixtures' minor alleles: see quantify.c */
    /* a near-identical partner the reads support better takes its place, when that partner is called itself:
     * a sample 7 % away from blaOXA-48 and from its relative OXA-538 (39 % covered) is still blaOXA-48 */
    if (g->partner != UINT32_MAX && gs[g->partner].support && gs[g->partner].candidate &&
        g->unsupported > gs[g->partner].unsupported) continue;
    calls[nc++] = (gene_call_t){t, g->reads, g->identity, g->coverage, (double)g->depth_sum / db->targets[t].len, 0, 0};
    called[t] = 1;
  }
  /* Alleles called together with a partner are a mixture: the hard assignment gave the fragments that fit
   * both to one of them, so their reads follow the EM; their depth is those reads times the mean bases of the
   * fragments the EM shares them among (those whose best alleles include it); their coverage and identity
   * are those of the pileup of every fragment aligning to it (identity: its bases supported there). */
  for (size_t i = 0; i < nc; i++) {
    uint32_t p = gs[calls[i].t].partner;
    if (p != UINT32_MAX && called[p]) called[p] = called[calls[i].t] = 2;
  }
  double rate_sum = 0;
  for (size_t i = 0; i < nc; i++) {
    gene_call_t *c = &calls[i];
    const bg_gene_stat_t *g = &gs[c->t];
    const bg_target_t *tg = &db->targets[c->t];
    if (called[c->t] == 2 && g->support && g->class_frags) {
      c->reads = (uint32_t)llround(g->em_count);
      c->depth = g->em_count * ((double)g->class_bases / g->class_frags) / tg->len;
      c->coverage = bg_support_coverage(g, tg->len);
      c->identity = bg_support_identity(g);
    }
    c->rpkm = r->read_pairs ? (double)c->reads * 1e9 / ((double)tg->len * (double)r->read_pairs) : 0;
    rate_sum += (double)c->reads / tg->len;
  }
  free(called);
  for (size_t i = 0; i < nc; i++) calls[i].tpm = rate_sum > 0 ? ((double)calls[i].reads / db->targets[calls[i].t].len) / rate_sum * 1e6 : 0;
  classes_t cls = {0};
  bg_buf_t b = {0};
  bg_buf_printf(&b, "{\"engine\":{\"version\":\"%s\",\"backend\":", BG_ENGINE_VERSION);
  bg_buf_json_str(&b, r->backend);
  bg_buf_puts(&b, ",\"device\":");
  bg_buf_json_str(&b, r->device);
  bg_buf_puts(&b, ",\"fallback\":");
  if (r->fallback[0]) bg_buf_json_str(&b, r->fallback);
  else bg_buf_puts(&b, "null");
  bg_buf_printf(&b, ",\"threads\":%d},\"input\":{\"read_pairs\":%llu,\"bases\":%llu,\"bytes\":%llu},", r->threads,
                (unsigned long long)r->read_pairs, (unsigned long long)r->bases, (unsigned long long)atomic_load(&r->bytes_total));
  bg_buf_puts(&b, "\"timing\":{\"seconds\":");
  bg_buf_json_num(&b, bg_now() - t0);
  bg_buf_puts(&b, "},\"options\":{\"min_identity\":");
  bg_buf_json_num(&b, o->min_identity);
  bg_buf_puts(&b, ",\"min_coverage\":");
  bg_buf_json_num(&b, o->min_coverage);
  bg_buf_puts(&b, ",\"min_depth\":");
  bg_buf_json_num(&b, o->min_depth);
  bg_buf_puts(&b, ",\"min_allele_freq\":");
  bg_buf_json_num(&b, o->min_allele_freq);
  bg_buf_printf(&b, ",\"min_alt_reads\":%d,\"min_point_identity\":", o->min_alt_reads);
  bg_buf_json_num(&b, o->min_point_identity);
  bg_buf_puts(&b, ",\"species\":");
  bg_status_t sst = bg_species_select(db, o->species, &b, NULL, r->err, sizeof r->err);
  if (sst != BG_OK) { bg_buf_free(&b); free(calls); return sst; } /* no class collected yet */
  bg_buf_puts(&b, "},\"genes\":[");
  for (size_t i = 0; i < nc; i++) {
    const gene_call_t *c = &calls[i];
    const bg_target_t *tg = &db->targets[c->t];
    if (i) bg_buf_puts(&b, ",");
    bg_buf_puts(&b, "{\"allele\":"); bg_buf_json_str(&b, bg_str(db, tg->name));
    bg_buf_puts(&b, ",\"gene\":"); bg_buf_json_str(&b, bg_str(db, tg->gene));
    bg_buf_puts(&b, ",\"accession\":"); bg_buf_json_str(&b, bg_str(db, tg->accession));
    bg_buf_puts(&b, ",\"drug_class\":"); bg_buf_json_str(&b, bg_str(db, tg->drug_class));
    bg_buf_puts(&b, ",\"phenotype\":"); bg_buf_json_str(&b, bg_str(db, tg->phenotype));
    bg_buf_puts(&b, ",\"mechanism\":"); bg_buf_json_str(&b, bg_str(db, tg->mechanism));
    bg_buf_printf(&b, ",\"length\":%u,\"reads\":%u,\"identity\":", tg->len, c->reads);
    bg_buf_json_num(&b, c->identity);
    bg_buf_puts(&b, ",\"coverage\":"); bg_buf_json_num(&b, c->coverage);
    bg_buf_puts(&b, ",\"depth\":"); bg_buf_json_num(&b, c->depth);
    bg_buf_puts(&b, ",\"em_reads\":"); bg_buf_json_num(&b, gs[c->t].em_count);
    bg_buf_puts(&b, ",\"rpkm\":"); bg_buf_json_num(&b, c->rpkm);
    bg_buf_puts(&b, ",\"tpm\":"); bg_buf_json_num(&b, c->tpm);
    bg_buf_puts(&b, "}");
    add_classes(&cls, bg_str(db, tg->drug_class));
  }
  bg_buf_puts(&b, "],\"mutations\":[");
  /* mutations, then sites */
  int first = 1;
  bg_buf_t sites = {0};
  int sfirst = 1;
  for (uint32_t t = 0; t < db->n_targets; t++) {
    const bg_target_t *tg = &db->targets[t];
    if (!target_hit[t] || !tg->n_sites) continue;
    for (uint32_t si = tg->first_site; si < tg->first_site + tg->n_sites; si++) {
      const bg_site_t *s = &db->sites[si];
      const bg_site_obs_t *ob = &obs[si];
      /* aggregate observations into calls (codons -> amino acids) */
      char keys[BG_SITE_KEYS][BG_SITE_KEY_LEN];
      uint32_t counts[BG_SITE_KEYS], nk = 0, depth = 0;
      /* reads whose codon (or base) differs from the gene sequence's: only they can carry a mutation. A
       * catalogue that lists the reference amino acid among the resistant ones (M. tuberculosis katG P241P:
       * a synonymous change) or whose reference disagrees with its gene file must not call wild-type reads */
      uint32_t changed[BG_SITE_KEYS];
      char best_codon[BG_SITE_KEYS][4];
      uint32_t best_codon_n[BG_SITE_KEYS];
      const char *tseq = bg_tseq(db, tg);
      char gene_codon[4] = {0};
      if (s->tidx >= 0 && (s->type == BG_MUT_AA || s->type == BG_MUT_NUC)) memcpy(gene_codon, tseq + s->tidx, s->type == BG_MUT_AA ? 3 : 1);
      for (uint32_t k = 0; k < ob->n; k++) {
        char key[BG_SITE_KEY_LEN];
        if (s->type == BG_MUT_AA) { key[0] = bg_translate(ob->key[k]); key[1] = 0; }
        else if (s->type == BG_MUT_INS || s->type == BG_MUT_DEL || s->type == BG_MUT_AA_INS) snprintf(key, sizeof key, "%s", ob->key[k][0] ? ob->key[k] : "-");
        else snprintf(key, sizeof key, "%s", ob->key[k]);
        depth += ob->count[k];
        uint32_t j = 0;
        while (j < nk && strcmp(keys[j], key) != 0) j++;
        if (j == nk) { snprintf(keys[nk], sizeof keys[nk], "%s", key); counts[nk] = 0; changed[nk] = 0; best_codon_n[nk] = 0; best_codon[nk][0] = 0; nk++; }
        counts[j] += ob->count[k];
        int same = gene_codon[0] && strcmp(ob->key[k], gene_codon) == 0;
        if (!same) changed[j] += ob->count[k];
        if (s->type == BG_MUT_AA && !same && (ob->count[k] > best_codon_n[j] || (ob->count[k] == best_codon_n[j] && strcmp(ob->key[k], best_codon[j]) < 0))) {
          snprintf(best_codon[j], 4, "%s", ob->key[k]);
          best_codon_n[j] = ob->count[k];
        }
      }
      if (depth == 0) continue;
      /* calls by reads (desc), then name: independent of the order fragments were seen in */
      for (uint32_t a = 1; a < nk; a++)
        for (uint32_t z = a; z > 0 && (counts[z] > counts[z - 1] || (counts[z] == counts[z - 1] && strcmp(keys[z], keys[z - 1]) < 0)); z--) {
          char tk[BG_SITE_KEY_LEN], tc[4];
          uint32_t tn = counts[z], tb = best_codon_n[z], tch = changed[z];
          memcpy(tk, keys[z], sizeof tk); memcpy(keys[z], keys[z - 1], sizeof tk); memcpy(keys[z - 1], tk, sizeof tk);
          memcpy(tc, best_codon[z], 4); memcpy(best_codon[z], best_codon[z - 1], 4); memcpy(best_codon[z - 1], tc, 4);
          counts[z] = counts[z - 1]; counts[z - 1] = tn;
          changed[z] = changed[z - 1]; changed[z - 1] = tch;
          best_codon_n[z] = best_codon_n[z - 1]; best_codon_n[z - 1] = tb;
        }
      int mutant = 0;
      const char *ref = bg_str(db, s->ref);
      if (depth >= o->min_depth) {
        char *alts = strdup(bg_str(db, s->alts)), *save = NULL;
        for (char *a = alts ? strtok_r(alts, ",", &save) : NULL; a; a = strtok_r(NULL, ",", &save)) {
          uint32_t j = 0;
          while (j < nk && strcmp(keys[j], a) != 0) j++;
          if (j == nk) continue;
          double f = (double)changed[j] / depth;
          if (changed[j] == 0 || changed[j] < (uint32_t)o->min_alt_reads || f + 1e-12 < o->min_allele_freq) continue;
          mutant = 1;
          char label[BG_SITE_KEY_LEN + 48]; /* n.A_Bins and the longest inserted sequence */
          mutation_label(label, sizeof label, s, tseq, ref, a);
          if (!first) bg_buf_puts(&b, ",");
          first = 0;
          bg_buf_puts(&b, "{\"species\":"); bg_buf_json_str(&b, bg_str(db, tg->species));
          bg_buf_puts(&b, ",\"gene\":"); bg_buf_json_str(&b, bg_str(db, tg->gene));
          bg_buf_puts(&b, ",\"reference\":"); bg_buf_json_str(&b, bg_str(db, tg->name));
          bg_buf_puts(&b, ",\"mutation\":"); bg_buf_json_str(&b, label);
          bg_buf_printf(&b, ",\"type\":\"%s\",\"position\":%d,\"ref\":", bg_mut_type_name(s->type), s->pos);
          bg_buf_json_str(&b, ref);
          bg_buf_puts(&b, ",\"alt\":"); bg_buf_json_str(&b, a);
          if (s->type == BG_MUT_AA) {
            char rc[4] = {0};
            if (s->tidx >= 0) memcpy(rc, tseq + s->tidx, 3);
            bg_buf_puts(&b, ",\"ref_codon\":"); bg_buf_json_str(&b, rc);
            bg_buf_puts(&b, ",\"alt_codon\":"); bg_buf_json_str(&b, best_codon[j]);
          }
          bg_buf_printf(&b, ",\"depth\":%u,\"alt_reads\":%u,\"frequency\":", depth, changed[j]);
          bg_buf_json_num(&b, f);
          bg_buf_puts(&b, ",\"drug_class\":"); bg_buf_json_str(&b, bg_str(db, s->drug_class));
          bg_buf_puts(&b, ",\"phenotype\":"); bg_buf_json_str(&b, bg_str(db, s->phenotype));
          bg_buf_puts(&b, ",\"pmid\":"); bg_buf_json_str(&b, bg_str(db, s->pmid));
          bg_buf_puts(&b, ",\"mechanism\":"); bg_buf_json_str(&b, bg_str(db, s->mechanism));
          bg_buf_puts(&b, "}");
          add_classes(&cls, bg_str(db, s->drug_class));
        }
        free(alts);
      }
      if (!sfirst) bg_buf_puts(&sites, ",");
      sfirst = 0;
      bg_buf_puts(&sites, "{\"species\":"); bg_buf_json_str(&sites, bg_str(db, tg->species));
      bg_buf_puts(&sites, ",\"gene\":"); bg_buf_json_str(&sites, bg_str(db, tg->gene));
      bg_buf_printf(&sites, ",\"position\":%d,\"type\":\"%s\",\"ref\":", s->pos, bg_mut_type_name(s->type));
      bg_buf_json_str(&sites, ref);
      bg_buf_printf(&sites, ",\"depth\":%u,\"counts\":{", depth);
      for (uint32_t j = 0; j < nk; j++) {
        if (j) bg_buf_puts(&sites, ",");
        bg_buf_json_str(&sites, keys[j]);
        bg_buf_printf(&sites, ":%u", counts[j]);
      }
      /* wild type: the reference is (one of) the most common calls; uncatalogued: another allele, not listed
       * as resistant, outnumbers it (a change at a known resistance position, or a catalogue whose
       * reference disagrees with its gene's sequence) */
      uint32_t ref_n = 0;
      for (uint32_t j = 0; j < nk; j++) if (strcmp(keys[j], ref) == 0) ref_n = counts[j];
      bg_buf_printf(&sites, "},\"status\":\"%s\"}",
                    depth < o->min_depth ? "low_depth" : mutant ? "mutant" : ref_n >= counts[0] ? "wild_type" : "uncatalogued");
    }
  }
  bg_buf_puts(&b, "],\"sites\":[");
  if (sites.p) bg_buf_puts(&b, sites.p);
  bg_buf_free(&sites);
  bg_buf_puts(&b, "],\"drug_classes\":[");
  if (cls.n) qsort(cls.v, cls.n, sizeof *cls.v, cmp_str); /* qsort(NULL, 0) is undefined */
  for (size_t i = 0; i < cls.n; i++) {
    if (i) bg_buf_puts(&b, ",");
    bg_buf_json_str(&b, cls.v[i]);
    free(cls.v[i]);
  }
  free(cls.v);
  bg_buf_puts(&b, "]}");
  free(calls);
  if (b.oom) { bg_buf_free(&b); return bg_fail(r->err, sizeof r->err, BG_ERR_HOST_OOM, "Out of memory writing the result"); }
  r->result = b.p;
  r->result_len = b.n;
  return BG_OK;
}
